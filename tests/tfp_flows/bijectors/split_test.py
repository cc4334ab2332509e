"""Split: the bijector laws (also conditioned on a context map) and the learned prior's maths."""

import numpy as np
import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows.bijectors import Split


def _split(channels, dtype):
    return Split(channels, dtype=dtype)


def _conditional_split(channels, dtype):
    return Split(channels, conditional_channels=3, dtype=dtype)


class SplitLawsTest(
    laws.laws_test_case(
        (
            ('split', _split, {}),
            ('conditional_split', _conditional_split, {'conditional_input': 'map'}),
        )
    )
):
    pass


class SplitTest(tf.test.TestCase):
    def test_split_standardises_under_interleaved_mean_and_log_sd(self):
        split = Split(4)
        split.prior.bias.assign(
            [0.5, np.log(2.0), -1.0, np.log(0.5)]
        )  # mean0, logsd0, mean1, logsd1
        z = tf.random.stateless_normal([2, 3, 3, 4], seed=[3, 3])
        y, log_det = split.forward_and_log_det(z)
        self.assertAllClose(y[..., :2], z[..., :2])
        self.assertAllClose(y[..., 2], (z[..., 2] - 0.5) / 2.0, atol=1e-6)
        self.assertAllClose(y[..., 3], (z[..., 3] + 1.0) / 0.5, atol=1e-6)
        self.assertAllClose(log_det, [-9 * (np.log(2.0) + np.log(0.5))] * 2, atol=1e-5)


if __name__ == '__main__':
    tf.test.main()
