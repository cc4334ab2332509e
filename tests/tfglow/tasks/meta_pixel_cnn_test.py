"""The Meta PixelCNN task on real episodes, and the few-shot evaluator's adapter of its model."""

import numpy as np
import tensorflow as tf

import tfp_flows
from tfglow import config_lib, tasks
from tfglow.fewshot import adapters
from tfp_flows import testing

_SPEC = 'configs/omniglot_meta_pixelcnn.py:smoke'


def _episodes(task, count: int) -> dict:
    return {k: v[:count] for k, v in next(iter(task.eval_dataset())).items()}


class MetaPixelCNNTaskTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.task = tasks.get_task(config_lib.load_config(_SPEC))
        self.model = self.task.build_model()
        # Off the zero-initialised head, so that the likelihood depends on the support.
        testing.perturb_variables(self.model, 0.05, seed=1)

    def test_nats_are_the_exact_conditional_nll_of_binary_levels(self):
        self.assertIsInstance(self.task, tasks.MetaPixelCNNTask)
        self.assertIsInstance(self.model, tfp_flows.MetaPixelCNN)
        batch = _episodes(self.task, 2)
        support = tf.cast(batch['support'] // 255, tf.int32)
        expected = -self.model.log_prob(
            tf.cast(batch['target'] // 255, tf.int32),
            support=support,
            support_mask=batch['support_mask'],
        )
        self.assertAllClose(self.task.target_nats(self.model, batch), expected)
        # The adaptation reads the support: phi_0 alone gives another likelihood.
        unadapted = -self.model.log_prob(tf.cast(batch['target'] // 255, tf.int32))
        self.assertNotAllClose(expected, unadapted, atol=1e-4)
        levels = self.task.sample_levels(self.model, batch, 1, 1.0)
        self.assertEqual(levels.shape, (2, 1, 28, 28, 1))
        self.assertTrue(set(np.unique(levels)) <= {0, 1})

    def test_the_evaluator_scores_it_with_and_without_a_support_set(self):
        adapter = adapters.as_adapter(self.model)
        self.assertIsInstance(adapter, adapters.PixelCNNAdapter)
        self.assertTrue(adapter.takes_support)
        batch = _episodes(self.task, 2)
        images, support = batch['target'].numpy(), batch['support'].numpy()
        expected = self.model.log_prob(images // 255, support=support // 255)
        scores = adapter.log_prob_discrete(images, support)['exact']
        self.assertAllClose(scores, expected, atol=1e-4)
        # No support: phi_0, the model's unconditioned PixelCNN.
        alone = adapter.log_prob_discrete(images)['exact']
        self.assertAllClose(alone, self.model.log_prob(images // 255), atol=1e-4)


if __name__ == '__main__':
    tf.test.main()
