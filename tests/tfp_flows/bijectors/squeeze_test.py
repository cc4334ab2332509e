"""Squeeze: the bijector laws and openai/glow's channel order."""

import numpy as np
import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows.bijectors import Squeeze


def _squeeze(channels, dtype):
    del channels, dtype
    return Squeeze()


class SqueezeLawsTest(laws.laws_test_case((('squeeze', _squeeze, {}),))):
    pass


class SqueezeTest(tf.test.TestCase):
    def test_channel_order_matches_openai_glow(self):
        x = np.arange(2 * 4 * 6 * 3, dtype=np.float32).reshape(2, 4, 6, 3)
        # openai/glow: reshape [B, H/2, 2, W/2, 2, C], transpose to [B, H/2, W/2, C, 2, 2],
        # reshape to [B, H/2, W/2, 4C].
        expected = x.reshape(2, 2, 2, 3, 2, 3).transpose(0, 1, 3, 5, 2, 4).reshape(2, 2, 3, 12)
        self.assertAllEqual(Squeeze().forward(tf.constant(x)), expected)
        self.assertEqual(Squeeze().forward_event_shape([4, 6, 3]), [2, 3, 12])
        self.assertEqual(Squeeze().inverse_event_shape([2, 3, 12]), [4, 6, 3])

    def test_odd_spatial_size_is_rejected(self):
        with self.assertRaisesRegex(ValueError, 'must be even to squeeze'):
            Squeeze().forward(tf.zeros([1, 5, 4, 1]))


if __name__ == '__main__':
    tf.test.main()
