"""Tests of SupportMap: shapes, invariance to the order of the set, masking and the empty set."""

import numpy as np
import tensorflow as tf

from tfp_flows.networks.support_map import SupportMap


def _support(batch, size, seed=0):
    return np.random.default_rng(seed).uniform(-0.5, 0.5, (batch, size, 4, 6, 2)).astype('f4')


class SupportMapTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.map = SupportMap((4, 6, 2), hidden_width=3, num_biases=2, width=5, seed=0)

    def test_one_bias_per_layer_at_every_pixel(self):
        biases = self.map(_support(2, 3))
        self.assertLen(biases, 2)
        for bias in biases:
            self.assertEqual(bias.shape, (2, 4, 6, 6))

    def test_invariant_to_the_order_of_the_set_and_blind_to_padded_slots(self):
        support = _support(2, 3)
        mask = np.array([[True, False, True], [True, True, False]])
        expected = self.map(support, mask)
        order = [2, 0, 1]
        permuted = self.map(support[:, order], mask[:, order])
        scrambled = support.copy()
        scrambled[~mask] = np.nan
        for got in (permuted, self.map(scrambled, mask)):
            for bias, want in zip(got, expected):
                self.assertAllClose(bias, want, atol=1e-6)
        # Only the valid slots count: the same map as the set of valid images alone.
        alone = self.map(support[:1, [0, 2]])
        self.assertAllClose(alone[0], expected[0][:1], atol=1e-6)

    def test_a_set_with_no_valid_slot_gives_zero_biases(self):
        biases = self.map(_support(1, 2), np.zeros([1, 2], bool))
        for bias in biases:
            self.assertAllEqual(bias, tf.zeros_like(bias))

    def test_bad_sizes_are_refused(self):
        with self.assertRaisesRegex(ValueError, 'num_biases'):
            SupportMap((4, 6, 2), hidden_width=3, num_biases=0)


if __name__ == '__main__':
    tf.test.main()
