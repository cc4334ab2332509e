"""Affine and additive coupling layers with openai/glow's conditioner and scale."""

import tensorflow as tf

from tfp_flows._dtypes import floating_dtype
from tfp_flows.bijectors.flow_bijector import concat_condition
from tfp_flows.bijectors.half_affine import HalfAffine, deinterleave
from tfp_flows.networks.coupling_network import CouplingNetwork

__all__ = ['Coupling', 'COUPLINGS']

COUPLINGS = ('affine', 'additive')


class Coupling(HalfAffine):
    """Coupling layer: the first half of the channels parameterises a map of the second half.

    ```none
    h = NN([X1, c])                                    # c: optional conditioning input
    affine:   shift = h[..., 0::2],  scale = sigmoid(h[..., 1::2] + 2)
              Y2 = (X2 + shift) * scale,               log|det| = sum(log(scale))
    additive: Y2 = X2 + h,                             log|det| = 0
    Y = [X1, Y2]
    ```

    Why `sigmoid(h + 2)`: at initialisation `h = 0` (the last conv is zero-initialised), giving a
    scale of sigmoid(2) ~ 0.88, slightly contracting; keeping the scale in (0, 1) rather than
    `exp(h)` bounds how much one layer can amplify, which is what keeps deep Glows stable.

    `NN` is openai/glow's conv 3x3 -> ReLU -> conv 1x1 -> ReLU -> zero conv 3x3 (see
    `tfp_flows.networks.CouplingNetwork`). Conditioning (`conditional_input`, a `[B, D]` vector
    such as a
    class one-hot or a set embedding, or a `[B, H, W, D]` map) is appended to the network input.

    Args:
      num_channels: `C` (even).
      hidden_width: channels of the network's hidden layers.
      coupling: `'affine'` or `'additive'`. Default value: `'affine'`.
      conditional_channels: `D` of the conditioning input, 0 for none. Default value: 0.
      seed: int, `np.random.SeedSequence` or None, for the network's initial weights.
      network_dtype: dtype the network computes in, e.g. `'bfloat16'`; None (default) for
        `dtype`. Only the conditioner's precision changes: the network sees the same `X1` in the
        forward and the inverse, so the layer stays exactly invertible and its log-determinant
        exact (see `tfp_flows.networks.CouplingNetwork`'s `compute_dtype`).
      validate_args: Python `bool`. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'coupling'`.
    """

    def __init__(
        self,
        num_channels: int,
        hidden_width: int,
        coupling: str = 'affine',
        conditional_channels: int = 0,
        seed=None,
        network_dtype: tf.DType | str | None = None,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'coupling',
    ):
        parameters = dict(locals())
        if coupling not in COUPLINGS:
            raise ValueError(f'coupling must be one of {COUPLINGS}; got {coupling!r}.')
        with tf.name_scope(name) as name:
            self._coupling = coupling
            self._conditional_channels = int(conditional_channels)
            half = num_channels // 2
            self.network = CouplingNetwork(
                in_channels=half + self._conditional_channels,
                hidden_width=hidden_width,
                out_channels=num_channels if coupling == 'affine' else half,
                seed=seed,
                dtype=dtype,
                # Affine: the network emits openai/glow's interleaved (shift, scale) pairs as
                # [all shifts, all scales], which split without strided copies.
                output_order=deinterleave(num_channels) if coupling == 'affine' else None,
                compute_dtype=network_dtype and floating_dtype(network_dtype, 'network_dtype'),
            )
            super().__init__(
                num_channels,
                parameters=parameters,
                name=name,
                validate_args=validate_args,
                dtype=dtype,
            )

    def _network_input(self, kept, conditional_input):
        return concat_condition(kept, conditional_input, self._conditional_channels, self.name)

    def _shift_and_log_scale(self, kept, conditional_input):
        h = self.network(self._network_input(kept, conditional_input))
        if self._coupling == 'additive':
            return h, None
        shift, raw_scale = tf.split(h, 2, axis=-1)  # openai/glow's h[..., 0::2], h[..., 1::2]
        return shift, tf.math.log_sigmoid(raw_scale + 2.0)

    def initialize(self, x, conditional_input=None):
        """Data-dependent init of the network's ActNorms on `x`; returns the forward transform."""
        x = tf.convert_to_tensor(x, self.dtype)
        kept, _ = self._halves(x)
        self.network.initialize(self._network_input(kept, conditional_input))
        return self._forward_and_log_det(x, conditional_input)[0]
