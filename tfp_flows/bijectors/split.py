"""Multi-scale factor-out with openai/glow's learned conditional prior."""

import tensorflow as tf

from tfp_flows.bijectors.flow_bijector import concat_condition
from tfp_flows.bijectors.half_affine import HalfAffine, deinterleave
from tfp_flows.networks.conv import ZeroConv2D

__all__ = ['Split']


class Split(HalfAffine):
    """Standardises the factored-out half under a learned prior conditioned on the kept half.

    The second half `Z2` of the channels leaves the flow at this scale with density
    `N(Z2; mean(Z1), exp(log_sd(Z1)))`, where `h = ZeroConv([Z1, c])`, `mean = h[..., 0::2]`,
    `log_sd = h[..., 1::2]`. As a bijector from standard-normal noise:

    ```none
    forward:  Y = [Z1, eps],  eps = (Z2 - mean) * exp(-log_sd),   log|det| = -sum(log_sd)
    inverse:  Z2 = mean + exp(log_sd) * eps
    ```

    so `log N(Z2; mean, sd) = log N(eps; 0, 1) + log|det|`, and a model built from these has a
    standard-normal base. Drawing `eps ~ N(0, T^2)` reproduces openai/glow's sampling at temperature
    `T`. The output keeps the input's shape; `tfp_flows.bijectors.GlowFlow` routes `eps` out as the
    level's latent. The prior conv starts at zero, i.e. as a standard normal.

    Args:
      num_channels: `C` of the input (even); `C / 2` channels are factored out.
      conditional_channels: `D` of an optional conditioning input, 0 for none. Default value: 0.
      validate_args: Python `bool`. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'split'`.
    """

    def __init__(
        self,
        num_channels: int,
        conditional_channels: int = 0,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'split',
    ):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._conditional_channels = int(conditional_channels)
            self.prior = ZeroConv2D(
                num_channels // 2 + self._conditional_channels,
                num_channels,
                dtype=dtype,
                name='prior',
                # Interleaved (mean, log_sd) pairs emitted as [all means, all log_sds].
                output_order=deinterleave(num_channels),
            )
            super().__init__(
                num_channels,
                parameters=parameters,
                name=name,
                validate_args=validate_args,
                dtype=dtype,
            )

    def _shift_and_log_scale(self, kept, conditional_input):
        h = self.prior(
            concat_condition(kept, conditional_input, self._conditional_channels, self.name)
        )
        mean, log_sd = tf.split(h, 2, axis=-1)  # openai/glow's h[..., 0::2], h[..., 1::2]
        return -mean, -log_sd
