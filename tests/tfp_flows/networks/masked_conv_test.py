"""Causal convolutions: sub-pixel groups and masks, and the row / pixel paths of sampling."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows.networks import masked_conv


class MaskedConvTest(tf.test.TestCase, parameterized.TestCase):
    def test_channel_groups_are_contiguous_near_equal_blocks(self):
        self.assertAllEqual(masked_conv.channel_groups(7, 3), [0, 0, 0, 1, 1, 2, 2])
        self.assertAllEqual(masked_conv.channel_groups(6, 3), [0, 0, 1, 1, 2, 2])
        self.assertAllEqual(masked_conv.gated_groups(3, 3), [0, 1, 2, 0, 1, 2])
        with self.assertRaisesRegex(ValueError, 'at least one channel per sub-pixel'):
            masked_conv.channel_groups(2, 3)

    def test_mask_a_excludes_and_mask_b_includes_the_own_group(self):
        groups = np.arange(3)
        strict = masked_conv.sub_pixel_mask(groups, groups, 'A')
        self.assertAllEqual(strict, [[0, 1, 1], [0, 0, 1], [0, 0, 0]])
        self.assertAllEqual(masked_conv.sub_pixel_mask(groups, groups, 'B'), strict + np.eye(3))
        with self.assertRaisesRegex(ValueError, r"mask_type must be one of \('A', 'B'\)"):
            masked_conv.sub_pixel_mask(groups, groups, 'C')

    @parameterized.parameters((3, False), (3, True), (5, True))
    def test_vertical_row_equals_the_full_convolution(self, kernel_size, shift_down):
        conv = masked_conv.VerticalConv(2, 4, kernel_size, shift_down, seed=0)
        x = tf.constant(np.random.default_rng(0).normal(size=(2, 5, 6, 2)), tf.float32)
        full = conv(x)
        top = conv.window_height if shift_down else conv.window_height - 1
        padded = tf.pad(x, [[0, 0], [top, 0], [conv.padding, conv.padding], [0, 0]])
        for row in range(5):
            window = padded[:, row : row + conv.window_height]
            self.assertAllClose(conv.row(window), full[:, row], atol=1e-5)

    def test_horizontal_pixel_equals_the_full_convolution(self):
        groups = masked_conv.channel_groups(6, 3)
        conv = masked_conv.HorizontalConv(6, 6, 5, groups, groups, 'B', seed=0)
        x = tf.constant(np.random.default_rng(1).normal(size=(2, 3, 6, 6)), tf.float32)
        full = conv(x)
        padded = tf.pad(x, [[0, 0], [0, 0], [conv.window_width - 1, 0], [0, 0]])
        for col in range(6):
            window = padded[:, 1, col : col + conv.window_width]
            self.assertAllClose(conv.pixel(window), full[:, 1, col], atol=1e-5)

    def test_masked_1x1_connects_only_allowed_groups(self):
        groups = masked_conv.channel_groups(4, 2)
        layer = masked_conv.MaskedConv1x1(4, 4, groups, groups, 'A', seed=0)
        x = tf.constant(np.random.default_rng(2).normal(size=(3, 4)), tf.float32)
        with tf.GradientTape() as tape:
            tape.watch(x)
            y = layer(x)
        jacobian = tape.batch_jacobian(y, x)[0].numpy()  # [out, in]
        allowed = masked_conv.sub_pixel_mask(groups, groups, 'A').T.astype(bool)
        self.assertAllEqual(jacobian[~allowed], np.zeros((~allowed).sum()))
        self.assertTrue(np.all(jacobian[allowed] != 0))
        with self.assertRaisesRegex(ValueError, 'pass both in_groups and out_groups'):
            masked_conv.MaskedConv1x1(4, 4, groups, None)


if __name__ == '__main__':
    tf.test.main()
