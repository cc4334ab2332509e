"""edge_padded_conv2d against openai/glow's definition of edge padding."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows.networks import edge_padded_conv2d


def _reference(x, kernel, bias):
    """openai/glow's `add_edge_padding`: zero-pad, append a channel that is 1 on the padding
    only, then a 'VALID' conv."""
    pad = (kernel.shape[0] - 1) // 2
    paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    indicator = tf.pad(tf.zeros_like(x[..., :1]), paddings, constant_values=1.0)
    inputs = tf.concat([tf.pad(x, paddings), indicator], axis=-1)
    return tf.nn.conv2d(inputs, kernel, strides=1, padding='VALID') + bias


class EdgePaddedConv2DTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        # Narrow input (the indicator travels as an input channel) and wide input (its
        # contribution is added from the constant border patches).
        ('narrow_static', 3, 8, True),
        ('wide_static', 8, 3, True),
        ('narrow_dynamic', 3, 8, False),
        ('wide_dynamic', 8, 3, False),
    )
    def test_matches_explicit_indicator_channel(self, in_channels, out_channels, static):
        rng = np.random.default_rng(0)
        x = rng.normal(size=(2, 5, 6, in_channels)).astype(np.float32)
        kernel = rng.normal(size=(3, 3, in_channels + 1, out_channels)).astype(np.float32)
        bias = rng.normal(size=(out_channels,)).astype(np.float32)
        spatial = [5, 6] if static else [None, None]
        conv = tf.function(
            edge_padded_conv2d,
            input_signature=[
                tf.TensorSpec([None, *spatial, in_channels]),
                tf.TensorSpec(kernel.shape),
                tf.TensorSpec(bias.shape),
            ],
        )
        self.assertAllClose(
            conv(x, kernel, bias), _reference(tf.constant(x), kernel, bias), atol=1e-5
        )

    def test_gradients_match_reference(self):
        rng = np.random.default_rng(1)
        x = tf.constant(rng.normal(size=(2, 4, 4, 6)), tf.float32)
        kernel = tf.constant(rng.normal(size=(3, 3, 7, 2)), tf.float32)
        bias = tf.constant(rng.normal(size=(2,)), tf.float32)

        def gradients(function):
            with tf.GradientTape() as tape:
                tape.watch([x, kernel, bias])
                loss = tf.reduce_sum(tf.sin(function(x, kernel, bias)))
            return tape.gradient(loss, [x, kernel, bias])

        for actual, expected in zip(gradients(edge_padded_conv2d), gradients(_reference)):
            self.assertAllClose(actual, expected, atol=1e-4)

    def test_one_by_one_kernel_ignores_the_indicator(self):
        x = np.ones((1, 2, 2, 3), np.float32)
        kernel = np.ones((1, 1, 4, 2), np.float32)
        self.assertAllClose(edge_padded_conv2d(x, kernel), np.full((1, 2, 2, 2), 3.0))


if __name__ == '__main__':
    tf.test.main()
