"""TopPrior: the bijector laws (learned, class- and context-conditioned) and the prior's maths."""

import numpy as np
import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows.bijectors import TopPrior


def _learned_top(channels, dtype):
    return TopPrior(channels, learn_top=True, dtype=dtype)


def _class_top(channels, dtype):
    return TopPrior(channels, learn_top=True, num_classes=5, dtype=dtype)


def _context_top(channels, dtype):
    return TopPrior(channels, conditional_channels=3, dtype=dtype)


class TopPriorLawsTest(
    laws.laws_test_case(
        (
            ('learned_top', _learned_top, {}),
            ('class_top', _class_top, {'label': 'label'}),
            ('context_top', _context_top, {'conditional_input': 'vector'}),
        )
    )
):
    pass


class TopPriorTest(tf.test.TestCase):
    def test_top_prior_uses_first_and_second_halves(self):
        top = TopPrior(2, num_classes=3)
        kernel = np.zeros([3, 4], np.float32)
        kernel[1] = [1.0, 2.0, np.log(3.0), 0.0]  # class 1: mean (1, 2), log_sd (log 3, 0)
        top.class_embedding.kernel.assign(kernel)
        z = tf.ones([1, 2, 2, 2])
        eps = top.forward(z, label=tf.constant([1]))
        self.assertAllClose(eps[0, 0, 0], [0.0, -1.0], atol=1e-6)
        self.assertAllClose(top.forward(z, label=tf.constant([0])), z)

    def test_learned_top_varies_only_at_the_border(self):
        top = TopPrior(1, learn_top=True)
        kernel = np.zeros([3, 3, 2, 2], np.float32)
        kernel[..., 1, 0] = 1.0  # the border-indicator channel drives the mean
        top.learned.kernel.assign(kernel)
        mean, _ = top.mean_and_log_sd(tf.zeros([1, 4, 4, 1]))
        self.assertEqual(float(mean[0, 1, 1, 0]), 0.0)
        self.assertEqual(float(mean[0, 0, 0, 0]), 5.0)  # a corner sees 5 padded neighbours


if __name__ == '__main__':
    tf.test.main()
