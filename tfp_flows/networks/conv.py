"""Convolutions with openai/glow's edge-aware padding and zero initialisation, as plain tf.Modules.

These are `tf.Module`s holding `tf.Variable`s (not Keras layers) so that they are tracked inside
bijectors and load in TF Serving's session-based loader.
"""

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds
from tfp_flows.bijectors.act_norm import ActNorm

__all__ = ['Conv2D', 'HeConv2D', 'LinearZeros', 'ZeroConv2D', 'edge_padded_conv2d']

# openai/glow's conv output (and linear head) scale is exp(LOG_SCALE_FACTOR * logs): the factor
# makes
# the effective learning rate of the log-scale three times larger than that of its parameter.
LOG_SCALE_FACTOR = 3.0


def _border_indicator(x: tf.Tensor, pad: int) -> tf.Tensor:
    """`[1, H + 2 pad, W + 2 pad, 1]`: 1 on the zero padding of `x` `[B, H, W, C]`, 0 inside.

    Built from `x`'s static spatial size where known, so graph optimisation folds it to a
    constant instead of rebuilding it on every call.
    """
    static = x.shape[1:3]
    spatial = static.as_list() if static.is_fully_defined() else tf.shape(x)[1:3]
    inside = tf.zeros(tf.concat([[1], spatial, [1]], axis=0), dtype=x.dtype)
    return tf.pad(inside, [[0, 0], [pad, pad], [pad, pad], [0, 0]], constant_values=1.0)


def edge_padded_conv2d(x: tf.Tensor, kernel: tf.Tensor, bias: tf.Tensor | None = None) -> tf.Tensor:
    """'SAME' convolution whose kernel also sees an indicator channel of the zero-padded border.

    openai/glow appends a channel that is 1 on the padding and 0 inside, so the network can tell a
    zero-padded border from zero-valued content. `kernel` is `[k, k, C_in + 1, C_out]`, its last
    input channel reading the indicator; `bias` `[C_out]` is added when given.

    Two exact ways to compute it, chosen by cost (why: both are memory-bound extras around the
    conv, and each is cheap on one side only):
    - narrow input (`C_in < C_out`, a network's first conv): pad `x` and append the indicator as a
      real input channel, then one 'VALID' conv. The extra copy is of the small input, and the
      conv, its bias and a following ReLU stay one fused oneDNN op.
    - wide input (the last conv of a network): a 'SAME' conv of `x` (no padded copy of the wide
      input), plus the indicator's contribution, which is the same for every image: computed once
      as `[1, H, W, C_out]`, folded with the bias, and added to the narrow output.
    """
    size = kernel.shape[0]
    pad = (size - 1) // 2
    in_channels, out_channels = kernel.shape[2] - 1, kernel.shape[3]
    if pad == 0:
        content_kernel, _ = tf.split(kernel, [in_channels, 1], axis=2)
        out = tf.nn.conv2d(x, content_kernel, strides=1, padding='VALID')
        return out if bias is None else tf.nn.bias_add(out, bias)
    border = _border_indicator(x, pad)
    if in_channels < out_channels:
        # The indicator in the extra channel; x's channels are zero on the padding.
        indicator = tf.pad(border, [[0, 0], [0, 0], [0, 0], [in_channels, 0]])
        padded = tf.pad(x, [[0, 0], [pad, pad], [pad, pad], [0, 1]]) + indicator
        out = tf.nn.conv2d(padded, kernel, strides=1, padding='VALID')
        return out if bias is None else tf.nn.bias_add(out, bias)
    content_kernel, edge_kernel = tf.split(kernel, [in_channels, 1], axis=2)
    content = tf.nn.conv2d(x, content_kernel, strides=1, padding='SAME')
    # The indicator's contribution as a matmul of its (constant) patches with the edge taps: a
    # conv of the one-channel border costs a full oneDNN conv call (~0.1 ms) for almost no work.
    patches = tf.image.extract_patches(border, [1, size, size, 1], [1] * 4, [1] * 4, 'VALID')
    edge = tf.matmul(
        tf.reshape(patches, [-1, size * size]), tf.reshape(edge_kernel, [size * size, out_channels])
    )
    if bias is not None:
        edge += bias
    return content + tf.reshape(edge, tf.concat([tf.shape(patches)[:3], [out_channels]], axis=0))


def _in_dtype_of(x: tf.Tensor, *weights: tf.Tensor) -> list[tf.Tensor]:
    """`weights` (already folded, in the variables' dtype) cast to the dtype `x` computes in.

    A layer computes in its input's dtype: a network fed bfloat16 runs its convolutions in
    bfloat16 while its variables stay float32 (mixed precision).
    """
    return [tf.cast(w, x.dtype) for w in weights]


class Conv2D(tf.Module):
    """Hidden convolution of a Glow network: edge-padded conv, no bias, then ActNorm.

    It computes in its input's dtype (the variables keep theirs). Weights start as N(0, 0.05^2)
    like openai/glow's; the ActNorm after it replaces a bias and is data-initialised with the rest
    of the model, which standardises every hidden pre-activation.
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

    def _convolve(self, x, kernel, bias=None, activation=None):
        if kernel.shape[0] > 1:
            out = edge_padded_conv2d(x, kernel, bias)
            return out if activation is None else activation(out)
        # A 1x1 conv is a matmul over all pixels: oneDNN's matmul (and its gradient) runs the
        # [B*H*W, C] x [C, C'] product faster than its 1x1 conv at Glow's sizes. The activation
        # goes before the reshape back to images, where it fuses with the matmul and bias.
        in_channels, out_channels = kernel.shape[2], kernel.shape[3]
        out = tf.matmul(tf.reshape(x, [-1, in_channels]), tf.reshape(kernel, kernel.shape[2:]))
        if bias is not None:
            out = tf.nn.bias_add(out, bias)
        if activation is not None:
            out = activation(out)
        return tf.reshape(out, tf.concat([tf.shape(x)[:-1], [out_channels]], axis=0))

    def __call__(self, x: tf.Tensor, activation=None) -> tf.Tensor:
        """`activation(act_norm(conv(x)))`; `activation` (e.g. `tf.nn.relu`) defaults to none.

        Passing the activation here rather than applying it to the result lets it fuse with the
        convolution.
        """
        # ActNorm folded into the conv: (conv(x, K) + b) * s = conv(x, K * s) + b * s. Scaling the
        # kernel costs a kernel-sized multiply instead of two activation-sized ones, and leaves a
        # plain conv + bias that oneDNN fuses with a ReLU (and, in the gradient, the bias
        # reduction with the kernel gradient). It is also what keeps only one activation per
        # hidden layer alive for the backward pass.
        scale = tf.exp(self.act_norm.log_scale)
        kernel, bias = _in_dtype_of(x, self.kernel * scale, self.act_norm.bias * scale)
        return self._convolve(x, kernel, bias, activation)

    def initialize(self, x: tf.Tensor) -> tf.Tensor:
        """Data-dependent init of the ActNorm on this batch; returns the layer's output."""
        return self.act_norm.initialize(self._convolve(x, self.kernel))


class HeConv2D(tf.Module):
    """A plain 'SAME' convolution with bias, He-initialised for the ReLU that follows it.

    ```none
    Y = conv(X, kernel) + bias,   kernel ~ N(0, 2 / (k * k * C_in)),   bias = 0
    ```

    The convolution of the support-set encoders, which need neither causality nor a Glow's
    data-dependent ActNorm. Variance `2 / fan_in` keeps the activations at unit scale through a
    ReLU network (He et al., 2015).

    Args:
      in_channels: `C_in`.
      out_channels: `C_out`.
      kernel_size: `k`, odd. Default value: 3.
      seed: int, `np.random.SeedSequence`, `np.random.Generator` (drawn from) or None.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'he_conv2d'`.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'he_conv2d',
    ):
        super().__init__(name=name)
        shape = (kernel_size, kernel_size, in_channels, out_channels)
        initial = _seeds.rng(seed).normal(0.0, np.sqrt(2.0 / (kernel_size**2 * in_channels)), shape)
        with self.name_scope:
            self.kernel = tf.Variable(initial.astype(dtype.as_numpy_dtype), name='kernel')
            self.bias = tf.Variable(tf.zeros([out_channels], dtype), name='bias')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return tf.nn.conv2d(x, self.kernel, strides=1, padding='SAME') + self.bias


class ZeroConv2D(tf.Module):
    """openai/glow's `conv2d_zeros`: `(edge_padded_conv(x) + bias) * exp(3 * logs)`, zero at init.

    Used as the last layer of every coupling and prior network, so that each coupling starts as the
    identity and each learned prior as the standard normal. Computes in its input's dtype.

    `output_order` (optional, a permutation of the output channels) makes the layer return
    `out[..., output_order]`, computed by permuting the small kernel and bias rather than gathering
    the output: a caller that wants openai/glow's interleaved `h[..., 0::2]` / `h[..., 1::2]` gets
    them as the two contiguous halves of one tensor, which are split without strided-slice copies
    (and their scatter-shaped gradients). The variables keep openai/glow's channel order.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        dtype: tf.DType = tf.float32,
        name: str = 'zero_conv2d',
        output_order=None,
    ):
        super().__init__(name=name)
        if output_order is not None:
            output_order = np.asarray(output_order, np.int32)
            if sorted(output_order.tolist()) != list(range(out_channels)):
                raise ValueError(
                    f'output_order must be a permutation of range({out_channels}); '
                    f'got {output_order.tolist()}.'
                )
        # out[..., j] = out_natural[..., order[j]] as a product with a 0/1 matrix (exact): its
        # gradient stays dense, where a gather's would reach the variables as IndexedSlices and
        # send optimisers down their slower sparse-update path.
        self._output_permutation = (
            None
            if output_order is None
            else np.eye(out_channels, dtype=dtype.as_numpy_dtype)[:, output_order]
        )
        with self.name_scope:
            self.kernel = tf.Variable(
                tf.zeros([kernel_size, kernel_size, in_channels + 1, out_channels], dtype),
                name='kernel',
            )
            self.bias = tf.Variable(tf.zeros([out_channels], dtype), name='bias')
            self.logs = tf.Variable(tf.zeros([out_channels], dtype), name='logs')

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        # The output scale folded into the kernel and bias, as in Conv2D: one conv + bias.
        scale = tf.exp(LOG_SCALE_FACTOR * self.logs)
        kernel, bias = self.kernel * scale, self.bias * scale
        if self._output_permutation is not None:
            kernel, bias = (self._permute_outputs(value) for value in (kernel, bias))
        return edge_padded_conv2d(x, *_in_dtype_of(x, kernel, bias))

    def _permute_outputs(self, value: tf.Tensor) -> tf.Tensor:
        rows = tf.reshape(value, [-1, value.shape[-1]])
        return tf.reshape(tf.matmul(rows, self._output_permutation), value.shape)


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
