"""Convolutions with openai/glow's edge-aware padding and zero initialisation, as plain tf.Modules.

These are `tf.Module`s holding `tf.Variable`s (not Keras layers) so that they are tracked inside
bijectors and load in TF Serving's session-based loader.
"""

import tensorflow as tf

from tfp_flows import _seeds
from tfp_flows.bijectors.act_norm import ActNorm

__all__ = ['Conv2D', 'LinearZeros', 'ZeroConv2D', 'edge_padded_conv2d']

# openai/glow's conv output (and linear head) scale is exp(LOG_SCALE_FACTOR * logs): the factor
# makes
# the effective learning rate of the log-scale three times larger than that of its parameter.
LOG_SCALE_FACTOR = 3.0


def edge_padded_conv2d(x: tf.Tensor, kernel: tf.Tensor) -> tf.Tensor:
    """'SAME' convolution whose kernel also sees an indicator channel of the zero-padded border.

    openai/glow appends a channel that is 1 on the padding and 0 inside, so the network can tell a
    zero-padded border from zero-valued content. `kernel` is `[k, k, C_in + 1, C_out]`, its last
    input
    channel reading the indicator. The indicator is the same for every image, so its contribution is
    computed once as `[1, H, W, C_out]` and broadcast, instead of concatenating a channel to the
    batch.
    """
    size = kernel.shape[0]
    pad = (size - 1) // 2
    if pad == 0:
        return tf.nn.conv2d(x, kernel[:, :, :-1, :], strides=1, padding='VALID')
    paddings = [[0, 0], [pad, pad], [pad, pad], [0, 0]]
    content = tf.nn.conv2d(tf.pad(x, paddings), kernel[:, :, :-1, :], strides=1, padding='VALID')
    spatial = tf.shape(x)[1:3]
    inside = tf.zeros(tf.concat([[1], spatial, [1]], axis=0), dtype=x.dtype)
    border = tf.pad(inside, paddings, constant_values=1.0)
    edge = tf.nn.conv2d(border, kernel[:, :, -1:, :], strides=1, padding='VALID')
    return content + edge


class Conv2D(tf.Module):
    """Hidden convolution of a Glow network: edge-padded conv, no bias, then ActNorm.

    Weights start as N(0, 0.05^2) like openai/glow's; the ActNorm after it replaces a bias and is
    data-initialised with the rest of the model, which standardises every hidden pre-activation.
    For 1x1 kernels there is no padding and no indicator channel: openai/glow's indicator there is a
    constant channel of ones, i.e. a bias, which the ActNorm shift already provides.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'conv2d',
    ):
        super().__init__(name=name)
        extra = 1 if kernel_size > 1 else 0
        shape = (kernel_size, kernel_size, in_channels + extra, out_channels)
        with self.name_scope:
            initial = _seeds.rng(seed).normal(0.0, 0.05, size=shape)
            self.kernel = tf.Variable(initial.astype(dtype.as_numpy_dtype), name='kernel')
            self.act_norm = ActNorm(out_channels, dtype=dtype, name='act_norm')

    def _convolve(self, x: tf.Tensor) -> tf.Tensor:
        if self.kernel.shape[0] > 1:
            return edge_padded_conv2d(x, self.kernel)
        return tf.nn.conv2d(x, self.kernel, strides=1, padding='VALID')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self.act_norm.normalize(self._convolve(x))

    def initialize(self, x: tf.Tensor) -> tf.Tensor:
        """Data-dependent init of the ActNorm on this batch; returns the layer's output."""
        return self.act_norm.initialize(self._convolve(x))


class ZeroConv2D(tf.Module):
    """openai/glow's `conv2d_zeros`: `(edge_padded_conv(x) + bias) * exp(3 * logs)`, zero at init.

    Used as the last layer of every coupling and prior network, so that each coupling starts as the
    identity and each learned prior as the standard normal.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        dtype: tf.DType = tf.float32,
        name: str = 'zero_conv2d',
    ):
        super().__init__(name=name)
        with self.name_scope:
            self.kernel = tf.Variable(
                tf.zeros([kernel_size, kernel_size, in_channels + 1, out_channels], dtype),
                name='kernel',
            )
            self.bias = tf.Variable(tf.zeros([out_channels], dtype), name='bias')
            self.logs = tf.Variable(tf.zeros([out_channels], dtype), name='logs')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        out = edge_padded_conv2d(x, self.kernel) + self.bias
        return out * tf.exp(LOG_SCALE_FACTOR * self.logs)


class LinearZeros(tf.Module):
    """openai/glow's `linear_zeros`: `(x @ W + b) * exp(3 * logs)`, all zero at init."""

    def __init__(
        self, in_features: int, out_features: int, dtype: tf.DType = tf.float32, name='linear_zeros'
    ):
        super().__init__(name=name)
        with self.name_scope:
            self.kernel = tf.Variable(tf.zeros([in_features, out_features], dtype), name='kernel')
            self.bias = tf.Variable(tf.zeros([out_features], dtype), name='bias')
            self.logs = tf.Variable(tf.zeros([out_features], dtype), name='logs')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return (tf.matmul(x, self.kernel) + self.bias) * tf.exp(LOG_SCALE_FACTOR * self.logs)
