"""Squeeze's channel order, permutations' persistence, and the openai/glow coupling/prior maths."""

import numpy as np
import tensorflow as tf

from tfp_flows.bijectors import ChannelPermutation, Coupling, Split, Squeeze, TopPrior


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


class PermutationTest(tf.test.TestCase):
    def test_reverse(self):
        x = tf.reshape(tf.range(4.0), [1, 1, 1, 4])
        self.assertAllEqual(ChannelPermutation(4, 'reverse').forward(x), [[[[3.0, 2.0, 1.0, 0.0]]]])

    def test_shuffle_is_saved_and_restored(self):
        saved = ChannelPermutation(8, 'shuffle', seed=1)
        path = tf.train.Checkpoint(p=saved).save(self.get_temp_dir() + '/ckpt')
        other = ChannelPermutation(8, 'shuffle', seed=2)
        self.assertNotAllEqual(other.permutation, saved.permutation)
        tf.train.Checkpoint(p=other).restore(path).assert_consumed()
        self.assertAllEqual(other.permutation, saved.permutation)

    def test_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, "kind must be one of \\('reverse', 'shuffle'\\)"):
            ChannelPermutation(4, 'random')


class CouplingTest(tf.test.TestCase):
    def test_starts_as_sigmoid_two_scaling(self):
        # The last conv is zero, so h = 0: shift 0, scale sigmoid(2) on the second half.
        coupling = Coupling(4, hidden_width=8)
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[0, 0])
        y, log_det = coupling.forward_and_log_det(x)
        scale = 1 / (1 + np.exp(-2.0))
        self.assertAllClose(y[..., :2], x[..., :2])
        self.assertAllClose(y[..., 2:], x[..., 2:] * scale)
        self.assertAllClose(log_det, [18 * np.log(scale)] * 2)

    def test_additive_starts_as_identity(self):
        coupling = Coupling(4, hidden_width=8, coupling='additive')
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[0, 1])
        y, log_det = coupling.forward_and_log_det(x)
        self.assertAllClose(y, x)
        self.assertAllClose(log_det, [0.0, 0.0])

    def test_affine_uses_interleaved_shift_and_scale(self):
        coupling = Coupling(4, hidden_width=8)
        out = coupling.network.output_layer
        out.bias.assign([0.5, -1.0, 0.25, 3.0])  # h = [shift0, raw0, shift1, raw1]
        x = tf.zeros([1, 2, 2, 4])
        y = coupling.forward(x)
        sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        self.assertAllClose(y[0, 0, 0, 2:], [0.5 * sigmoid(1.0), 0.25 * sigmoid(5.0)], atol=1e-6)

    def test_conditioning_changes_the_output_and_is_required(self):
        coupling = Coupling(4, hidden_width=8, conditional_channels=2, seed=0)
        coupling.network.output_layer.kernel.assign(
            tf.ones_like(coupling.network.output_layer.kernel)
        )
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[1, 1])
        a = coupling.forward(x, conditional_input=tf.constant([[1.0, 0.0], [1.0, 0.0]]))
        b = coupling.forward(x, conditional_input=tf.constant([[0.0, 1.0], [0.0, 1.0]]))
        self.assertNotAllClose(a, b)
        with self.assertRaisesRegex(ValueError, 'needs a conditional_input'):
            coupling.forward(x)
        with self.assertRaisesRegex(ValueError, r'must have shape \[B, 2\]'):
            coupling.forward(x, conditional_input=tf.zeros([2, 3]))
        with self.assertRaisesRegex(ValueError, 'built without conditioning'):
            Coupling(4, hidden_width=8).forward(x, conditional_input=tf.zeros([2, 2]))

    def test_odd_channels_and_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, 'must be even'):
            Coupling(3, hidden_width=8)
        with self.assertRaisesRegex(
            ValueError, "coupling must be one of \\('affine', 'additive'\\)"
        ):
            Coupling(4, hidden_width=8, coupling='spline')


class PriorTest(tf.test.TestCase):
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
