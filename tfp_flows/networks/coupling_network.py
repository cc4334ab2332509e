"""The conditioner network of a Glow coupling layer."""

import tensorflow as tf

from tfp_flows import _seeds
from tfp_flows._dtypes import floating_dtype
from tfp_flows.networks.conv import Conv2D, ZeroConv2D

__all__ = ['CouplingNetwork']


class CouplingNetwork(tf.Module):
    """openai/glow's `f`: conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> zero-initialised conv 3x3.

    Hidden convs are edge-padded, bias-free and followed by ActNorm; the last conv starts at zero so
    the coupling it drives starts as the identity map.

    Args:
      in_channels: channels of the input `[B, H, W, in_channels]`.
      hidden_width: channels of both hidden layers.
      out_channels: channels of the output.
      seed: int, `np.random.SeedSequence` or None, for the hidden weights.
      dtype: variable dtype. Default value: `tf.float32`.
      name: module name.
      output_order: optional permutation of the output channels (see `ZeroConv2D`).
      compute_dtype: dtype the convolutions compute in, e.g. `tf.bfloat16` (mixed precision: the
        input is cast to it, the output back to `dtype`, the variables stay in `dtype`). The
        data-dependent init always computes in `dtype`. Default value: None (= `dtype`).

    Raises:
      ValueError: for a non-positive `hidden_width` or a `compute_dtype` that is not floating.
    """

    def __init__(
        self,
        in_channels: int,
        hidden_width: int,
        out_channels: int,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'coupling_network',
        output_order=None,
        compute_dtype: tf.DType | str | None = None,
    ):
        super().__init__(name=name)
        if hidden_width < 1:
            raise ValueError(f'hidden_width must be a positive integer; got {hidden_width}.')
        self._dtype = tf.as_dtype(dtype)
        self._compute_dtype = floating_dtype(compute_dtype or dtype, 'compute_dtype')
        seeds = _seeds.spawn(seed, 2)
        with self.name_scope:
            self.hidden = [
                Conv2D(in_channels, hidden_width, 3, seed=seeds[0], dtype=dtype, name='conv_3x3'),
                Conv2D(hidden_width, hidden_width, 1, seed=seeds[1], dtype=dtype, name='conv_1x1'),
            ]
            self.output_layer = ZeroConv2D(
                hidden_width,
                out_channels,
                3,
                dtype=dtype,
                name='conv_out',
                output_order=output_order,
            )

    @property
    def compute_dtype(self) -> tf.DType:
        return self._compute_dtype

    def _run(self, x: tf.Tensor, initialize: bool) -> tf.Tensor:
        # Every layer computes in the dtype of its input, so one cast here sets the whole network's.
        h = x if initialize else tf.cast(x, self._compute_dtype)
        for layer in self.hidden:
            h = tf.nn.relu(layer.initialize(h)) if initialize else layer(h, activation=tf.nn.relu)
        return tf.cast(self.output_layer(h), self._dtype)

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        return self._run(x, initialize=False)

    def initialize(self, x: tf.Tensor) -> tf.Tensor:
        """Data-dependent init of the hidden ActNorms on this batch, layer by layer."""
        return self._run(x, initialize=True)
