"""The episodic tasks on real data: resumable episodes, fixed evaluation, conditional NLLs."""

import math

import numpy as np
import tensorflow as tf

import tfp_flows.dequantization as dq
from tfglow import config_lib, data, tasks
from tfp_flows import testing

_OMNIGLOT_GLOW = 'configs/omniglot_fewshot_glow.py:smoke,uniform'
_OMNIGLOT_ATTENTION = 'configs/omniglot_attention_pixelcnn.py:smoke'


def _task(spec: str, **overrides) -> tasks.EpisodicTask:
    config = config_lib.load_config(spec)
    config.update(overrides)
    return tasks.get_task(config)


def _first(dataset: tf.data.Dataset) -> dict:
    return next(iter(dataset))


class FewShotGlowTaskTest(tf.test.TestCase):
    def test_resumed_training_stream_continues_with_the_same_noise(self):
        task = _task(_OMNIGLOT_GLOW)
        context = tf.distribute.InputContext()
        whole = list(task.train_dataset(context, 0).take(3))
        resumed = _first(task.train_dataset(context, 2))
        for key in ('support', 'support_mask', 'target', 'noise'):
            self.assertAllEqual(resumed[key], whole[2][key])
        self.assertEqual(whole[0]['noise'].shape, (8, 1, 28, 28, 1))
        sizes = {int(batch['num_support'][0]) for batch in whole}
        self.assertTrue(sizes <= set(range(1, 6)), sizes)

    def test_evaluation_episodes_are_fixed(self):
        task = _task(_OMNIGLOT_GLOW, num_eval_examples=40)
        first = list(task.eval_dataset())
        again = list(_task(_OMNIGLOT_GLOW, num_eval_examples=40, seed=3).eval_dataset())
        self.assertEqual([len(b['target']) for b in first], [32, 8])
        for a, b in zip(first, again):
            for key in ('support', 'target', 'noise'):
                self.assertAllEqual(a[key], b[key])
        self.assertAllEqual(first[0]['num_support'], [5] * 32)
        self.assertTrue(bool(tf.reduce_all(first[0]['support_mask'])))
        self.assertEqual(first[0]['noise'].shape[1], 4)
        details = task.evaluation_details()
        self.assertEqual(details['num_eval_classes'], 659)
        self.assertEqual(details['num_eval_episodes'], 40)
        self.assertEqual(details['eval_noise_samples'], 4)
        self.assertEqual(first[0]['other_support'].shape, first[0]['support'].shape)
        self.assertIn('another class of its group (alphabet)', details['specificity_gap_nats'])

    def test_nats_average_the_density_over_noise_samples(self):
        task = _task(_OMNIGLOT_GLOW)
        model = task.build_model()
        self.assertFalse(task.is_initialized(model))
        task.initialize(model)
        self.assertTrue(task.is_initialized(model))
        batch = {k: v[:3] for k, v in _first(task.eval_dataset()).items()}
        support = dq.preprocess(batch['support'], 1)
        x = dq.preprocess(batch['target'], 1)
        log_probs = np.stack(
            [
                model.log_prob(
                    dq.dequantize(x, 1, noise=batch['noise'][:, i]),
                    support=support,
                    support_mask=batch['support_mask'],
                ).numpy()
                for i in range(4)
            ],
            axis=1,
        ).astype(np.float64)
        mean_density = np.log(np.mean(np.exp(log_probs - log_probs.max(1, keepdims=True)), 1))
        expected = 784 * math.log(2.0) - (mean_density + log_probs.max(1))
        self.assertAllClose(task.target_nats(model, batch), expected, rtol=1e-5)
        one_draw = dict(batch, noise=batch['noise'][:, :1])
        self.assertAllClose(
            task.target_nats(model, one_draw), 784 * math.log(2.0) - log_probs[:, 0], rtol=1e-5
        )

    def test_variational_dequantisation_divides_by_q_and_trains_it(self):
        task = _task('configs/omniglot_fewshot_glow.py:smoke')  # Variational, the default.
        model = task.build_model()
        task.initialize(model)
        testing.perturb_variables(model.dequantizer, 0.05, seed=3)
        batch = {k: v[:3] for k, v in _first(task.eval_dataset()).items()}
        x = dq.preprocess(batch['target'], 1)
        support = dq.preprocess(batch['support'], 1)
        weights = []
        for i in range(4):
            u, log_q = model.dequantizer.sample_and_log_prob(x, noise=batch['noise'][:, i])
            log_p = model.log_prob(
                dq.dequantize(x, 1, noise=u), support=support, support_mask=batch['support_mask']
            )
            weights.append((log_p - log_q).numpy().astype(np.float64))
        weights = np.stack(weights, axis=1)
        peak = weights.max(1)
        expected = 784 * math.log(2.0) - (np.log(np.mean(np.exp(weights.T - peak), 0)) + peak)
        self.assertAllClose(task.target_nats(model, batch), expected, rtol=1e-5)
        self.assertEqual(task.evaluation_details()['dequantization'], 'variational')
        self.assertIn('q(u_i | target)', task.evaluation_details()['bound'])
        train_batch = _first(task.train_dataset(tf.distribute.InputContext(), 0))
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(task.loss(model, train_batch)[0])
        variables = model.dequantizer.trainable_variables
        for variable, gradient in zip(variables, tape.gradient(loss, variables)):
            self.assertIsNotNone(gradient, variable.name)
            self.assertGreater(float(tf.reduce_sum(tf.abs(gradient))), 0.0, variable.name)

    def test_unconditional_variant_ignores_the_support(self):
        task = _task('configs/omniglot_fewshot_glow.py:unconditional,smoke')
        model = task.build_model()
        task.initialize(model)
        batch = _first(task.eval_dataset())
        other = dict(batch, support=tf.zeros_like(batch['support']))
        self.assertAllClose(task.target_nats(model, batch), task.target_nats(model, other))
        levels = task.sample_levels(model, {k: v[:2] for k, v in batch.items()}, 3, 0.7)
        self.assertEqual(levels.shape, (2, 3, 28, 28, 1))
        self.assertTrue(set(np.unique(levels)) <= {0, 1})

    def test_evaluation_reports_the_specificity_gap(self):
        # A model that ignores the support has no gap; a conditional one has the paired
        # difference of its NLLs under the other support and its own.
        strategy = tf.distribute.get_strategy()
        for spec, ignores_support in (
            ('configs/omniglot_fewshot_glow.py:unconditional,smoke', True),
            (_OMNIGLOT_GLOW, False),
        ):
            task = _task(spec, num_eval_examples=6, eval_batch_size=6)
            model = task.build_model()
            task.initialize(model)
            # Leave the zero-initialised state, where the support cannot change the density.
            testing.perturb_variables(model, 0.05, seed=2)
            metrics = task.make_evaluator(model, strategy)()
            batch = _first(task.eval_dataset())
            right = task.target_nats(model, batch).numpy()
            other = task.target_nats(model, dict(batch, support=batch['other_support'])).numpy()
            self.assertAllClose(metrics['specificity_gap_nats'], np.mean(other - right), atol=1e-3)
            if ignores_support:
                self.assertAllClose(metrics['specificity_gap_nats'], 0.0, atol=1e-4)
            else:
                self.assertNotAllClose(other, right)

    def test_held_out_fashion_mnist_classes(self):
        task = _task('configs/fashion_mnist_fewshot_glow.py:smoke')
        names = data.get_info(task.config.data).class_names
        self.assertEqual(list(task.train_class_arrays), names[:7])
        self.assertEqual(list(task.eval_class_arrays), names[7:])
        self.assertLen(task.eval_class_arrays['Bag'], 1000)
        self.assertIn(
            'any other class, no groups', task.evaluation_details()['specificity_gap_nats']
        )


class AttentionPixelCNNTaskTest(tf.test.TestCase):
    def test_rotated_training_classes_are_new_classes(self):
        unrotated = _task(_OMNIGLOT_ATTENTION)
        unrotated.config.episodes.rotate_train_classes = False
        plain = unrotated.train_class_arrays
        task = _task(_OMNIGLOT_ATTENTION)
        self.assertTrue(task.config.episodes.rotate_train_classes)  # The config's default.
        rotated = task.train_class_arrays
        self.assertLen(rotated, 4 * len(plain))
        name = next(iter(plain))
        for turns in range(4):
            self.assertAllEqual(
                rotated[f'{name}@rot{90 * turns}'], np.rot90(plain[name], turns, axes=(1, 2))
            )
        # The evaluation classes stay as they are.
        self.assertLen(task.eval_class_arrays, 659)
        self.assertEqual(
            _first(task.train_dataset(tf.distribute.InputContext(), 0))['target'].shape[1:],
            (28, 28, 1),
        )

    def test_nats_are_the_exact_conditional_nll_of_binary_levels(self):
        task = _task(_OMNIGLOT_ATTENTION)
        model = task.build_model()
        batch = {k: v[:2] for k, v in _first(task.eval_dataset()).items()}
        expected = -model.log_prob(
            tf.cast(batch['target'] // 255, tf.int32),
            support=tf.cast(batch['support'] // 255, tf.int32),
            support_mask=batch['support_mask'],
        )
        self.assertAllClose(task.target_nats(model, batch), expected)
        self.assertNotIn('noise', batch)
        levels = task.sample_levels(model, batch, 1, 1.0)
        self.assertEqual(levels.shape, (2, 1, 28, 28, 1))
        self.assertTrue(set(np.unique(levels)) <= {0, 1})


if __name__ == '__main__':
    tf.test.main()
