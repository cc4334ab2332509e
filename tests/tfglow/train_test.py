"""Tests for tfglow.train that run in this process (the binary is tested in main_test.py)."""

import json
import math
import os
from unittest import mock

import keras
import numpy as np
import pytest
import tensorflow as tf

import tfp_flows.dequantization as dq
from tests.tfglow import train_helpers
from tfglow import config_lib, data, tasks, train
from tfglow.tasks import glow as glow_task


def _smoke_config(**overrides):
    config = config_lib.load_config(train_helpers.SMOKE_CONFIG)
    config.update(overrides)
    return config


def _checkpoint_values(path: str) -> dict[str, np.ndarray]:
    reader = tf.train.load_checkpoint(path)
    return {
        name: reader.get_tensor(name)
        for name in reader.get_variable_to_shape_map()
        if not name.startswith('_CHECKPOINTABLE_OBJECT_GRAPH')
    }


def _poisoning(real_loss, bad_calls: set[int], all_bad_from: int):
    """Wraps `glow_loss`: on training call n (1-based), non-finite gradients if n is in
    `bad_calls`, and a NaN loss from call `all_bad_from` on."""
    calls = tf.Variable(0)
    bad = tf.constant(sorted(bad_calls))

    def glow_loss(model, batch, n_bits, **kwargs):
        loss, bits_x = real_loss(model, batch, n_bits, **kwargs)
        call = calls.assign_add(1)
        poison_gradient = tf.reduce_any(tf.equal(bad, call))

        @tf.custom_gradient
        def poison(x):
            def grad(dy):
                return tf.where(poison_gradient, tf.fill(tf.shape(dy), np.inf), dy)

            return tf.identity(x), grad

        loss = poison(loss)
        loss = loss * tf.where(call >= all_bad_from, np.nan, 1.0)
        return loss, bits_x

    return glow_loss


class LinearWarmupTest(tf.test.TestCase):
    def test_schedule(self):
        schedule = train.LinearWarmup(1e-3, warmup_steps=4)
        self.assertAllClose(
            [schedule(s) for s in range(6)], [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]
        )
        self.assertAllClose(train.LinearWarmup(1e-3, warmup_steps=0)(0), 1e-3)
        self.assertEqual(schedule.get_config(), {'learning_rate': 1e-3, 'warmup_steps': 4})


class MakeOptimizerTest(tf.test.TestCase):
    def test_optimizers(self):
        config = _smoke_config(beta1=0.8, beta2=0.95)
        adamax = train.make_optimizer(config)
        self.assertIsInstance(adamax, keras.optimizers.Adamax)
        self.assertAllClose([adamax.beta_1, adamax.beta_2], [0.8, 0.95])
        config.optimizer = 'adam'
        self.assertIsInstance(train.make_optimizer(config), keras.optimizers.Adam)
        config.optimizer = 'sgd'
        with self.assertRaisesRegex(ValueError, "Unknown optimizer 'sgd'"):
            train.make_optimizer(config)


class GlowLossTest(tf.test.TestCase):
    def _model_and_batch(self, class_conditional: bool):
        from tfglow.models import glow

        config = _smoke_config()
        config.model.class_conditional = class_conditional
        model = glow.build_model(config.model, (28, 28, 1), 10, seed=0)
        rng = np.random.default_rng(0)
        batch = {
            'image': tf.constant(rng.integers(0, 256, (4, 28, 28, 1), dtype=np.uint8)),
            'label': tf.constant([0, 1, 2, 3], tf.int32),
            'noise': tf.constant(rng.uniform(size=(4, 28, 28, 1)), tf.float32),
        }
        x = dq.dequantize(dq.preprocess(batch['image']), noise=batch['noise'])
        model.initialize(x, label=batch['label'] if class_conditional else None)
        return model, batch

    def test_unconditional_loss_is_bits_per_dim(self):
        model, batch = self._model_and_batch(class_conditional=False)
        loss, bits_x = glow_task.glow_loss(model, batch, 8, class_conditional=False, weight_y=0.0)
        x = dq.dequantize(dq.preprocess(batch['image']), noise=batch['noise'])
        self.assertAllClose(bits_x, dq.bits_per_dim(model.log_prob(x), 28 * 28))
        self.assertAllEqual(loss, bits_x)

    def test_class_loss_in_bits(self):
        model, batch = self._model_and_batch(class_conditional=True)
        loss, bits_x = glow_task.glow_loss(model, batch, 8, class_conditional=True, weight_y=0.5)
        # The class head starts at zero: uniform over 10 classes, log2(10) bits.
        self.assertAllClose(loss - bits_x, [0.5 * math.log2(10)] * 4, rtol=1e-5)
        x = dq.dequantize(dq.preprocess(batch['image']), noise=batch['noise'])
        expected = dq.bits_per_dim(model.log_prob(x, label=batch['label']), 28 * 28)
        self.assertAllClose(bits_x, expected, rtol=1e-5)


class TrainDatasetTest(tf.test.TestCase):
    def test_resume_skips_exactly_the_consumed_batches(self):
        config = _smoke_config()
        context = tf.distribute.InputContext()
        task = tasks.get_task(config, data.get_info(config.data))
        from_start = list(task.train_dataset(context, 0).take(4))
        resumed = next(iter(task.train_dataset(context, 3)))
        for key in ('image', 'label', 'noise'):
            self.assertAllEqual(resumed[key], from_start[3][key])
        self.assertNotAllClose(from_start[0]['noise'], from_start[1]['noise'])
        self.assertEqual(from_start[0]['image'].shape[0], config.batch_size)


class NonFiniteGuardTest(tf.test.TestCase):
    def test_check_finite_refuses(self):
        variables = [tf.Variable([1.0, 2.0]), tf.Variable([np.nan], name='broken')]
        with self.assertRaisesRegex(train.NonFiniteLossError, 'Refusing.*broken'):
            train._check_finite(variables, step=7)

    @pytest.mark.slow
    def test_bad_steps_are_skipped_then_training_stops(self):
        workdir = self.get_temp_dir()
        config = _smoke_config(
            num_train_steps=20,
            max_consecutive_bad_steps=3,
            checkpoint_every_steps=2,
            eval_every_steps=100,
            keep_checkpoints=5,
        )
        # Steps 3 and 4: infinite gradients; from step 7: NaN loss, so steps 7, 8, 9 stop it.
        glow_loss = _poisoning(glow_task.glow_loss, bad_calls={3, 4}, all_bad_from=7)
        with (
            mock.patch.object(glow_task, 'glow_loss', glow_loss),
            self.assertLogs('absl', 'WARNING') as logs,
            self.assertRaisesRegex(
                train.NonFiniteLossError, 'Stopping at step 9: 3 consecutive steps .* non-finite'
            ),
        ):
            train.train_and_evaluate(config, workdir)
        skipped = [line for line in logs.output if 'update skipped' in line]
        self.assertLen(skipped, 5)
        self.assertIn('step 3: non-finite loss or gradients', skipped[0])

        checkpoint_dir = os.path.join(workdir, 'checkpoints')
        names = sorted(n for n in os.listdir(checkpoint_dir) if n.endswith('.index'))
        self.assertEqual(names, [f'ckpt-{s}.index' for s in (2, 4, 6, 8)])
        for name in names:
            values = _checkpoint_values(os.path.join(checkpoint_dir, name[: -len('.index')]))
            for key, value in values.items():
                if np.issubdtype(np.asarray(value).dtype, np.floating):
                    self.assertTrue(np.all(np.isfinite(value)), f'{name}: {key}')
        last = _checkpoint_values(os.path.join(checkpoint_dir, 'ckpt-8'))
        iterations = [
            v for k, v in last.items() if k.startswith('optimizer/') and 'iterations' in k
        ]
        # Steps 1, 2, 5 and 6 updated the weights; 3, 4, 7 and 8 were skipped.
        self.assertEqual(iterations, [4])
        self.assertEqual(last['bad_steps/.ATTRIBUTES/VARIABLE_VALUE'], 4)
        self.assertEqual(last['step/.ATTRIBUTES/VARIABLE_VALUE'], 8)


@pytest.mark.slow
class ClassConditionalTrainingTest(tf.test.TestCase):
    def test_trains_with_class_loss_and_one_sample_row_per_class(self):
        workdir = self.get_temp_dir()
        config = _smoke_config(num_train_steps=2, eval_every_steps=100, grad_clip_norm=1.0)
        config.model.class_conditional = True
        config.model.weight_y = 0.01
        config.sample_temperatures = (0.7,)
        results = train.train_and_evaluate(config, workdir)
        self.assertEqual(results['step'], 2)
        self.assertTrue(math.isfinite(results['eval_bits_per_dim']))
        with open(os.path.join(workdir, 'eval_results.json')) as f:
            self.assertEqual(json.load(f), results)
        grid = tf.io.decode_png(tf.io.read_file(os.path.join(workdir, 'samples_T0.7.png')))
        # 10 classes, one per row; ceil(num_samples / 10) = 1 column of 28x28 images.
        self.assertEqual(grid.shape, (10 * 29 + 1, 29 + 1, 1))


if __name__ == '__main__':
    tf.test.main()
