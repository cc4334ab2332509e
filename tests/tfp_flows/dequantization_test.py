"""openai/glow's preprocessing, dequantisation and bits/dim formula."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows import dequantization as dq


class DequantizationTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters(8, 5, 1)
    def test_preprocess_matches_openai_formula_and_postprocess_inverts_it(self, n_bits):
        pixels = np.arange(256, dtype=np.uint8).reshape(1, 16, 16, 1)
        x = dq.preprocess(pixels, n_bits)
        bins = 2**n_bits
        expected = np.floor(pixels / 2 ** (8 - n_bits)) / bins - 0.5
        self.assertAllClose(x, expected)
        noisy = dq.dequantize(x, n_bits, seed=[0, 1])
        self.assertAllInRange(noisy - x, 0.0, 1.0 / bins)
        reduced = (np.floor(pixels / 2 ** (8 - n_bits)) * (256 / bins)).astype(np.uint8)
        self.assertAllEqual(dq.postprocess(noisy, n_bits), reduced)
        self.assertAllEqual(dq.postprocess(x, n_bits), reduced)

    def test_bits_per_dim_formula(self):
        log_prob = tf.constant([-1000.0, 0.0])
        dims = 3 * 8 * 8
        expected = -(np.array([-1000.0, 0.0]) - dims * np.log(256)) / (dims * np.log(2))
        self.assertAllClose(dq.bits_per_dim(log_prob, dims, 8), expected)
        # A uniform density on [-0.5, 0.5)^D (log p = 0) codes 8-bit data at exactly 8 bits/dim.
        self.assertAllClose(dq.bits_per_dim(tf.zeros([1]), dims, 8), [8.0])

    def test_seeded_noise_is_reproducible(self):
        x = tf.zeros([2, 4, 4, 1])
        self.assertAllEqual(dq.dequantize(x, 8, seed=[3, 4]), dq.dequantize(x, 8, seed=[3, 4]))

    @parameterized.parameters(0, 9, 2.5, True)
    def test_bad_n_bits(self, n_bits):
        with self.assertRaisesRegex(ValueError, r'n_bits must be an integer in \[1, 8\]'):
            dq.preprocess(tf.zeros([1, 2, 2, 1], tf.uint8), n_bits)

    def test_bad_dtype_and_dims(self):
        with self.assertRaisesRegex(ValueError, 'integer or float tensor'):
            dq.preprocess(tf.constant([['a']]))
        with self.assertRaisesRegex(ValueError, 'num_dims must be positive'):
            dq.bits_per_dim(tf.zeros([1]), 0)


if __name__ == '__main__':
    tf.test.main()
