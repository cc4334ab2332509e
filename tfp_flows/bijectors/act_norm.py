"""Activation normalisation (Kingma & Dhariwal, 2018)."""

import tensorflow as tf

from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images

__all__ = ['ActNorm']

# openai/glow stores log_scale / 3 and multiplies it back by 3: the log-scale then moves three times
# faster than its parameter under the same learning rate.
LOG_SCALE_FACTOR = 3.0


class ActNorm(FlowBijector):
    """Per-channel affine map with data-dependent initialisation.

    ```none
    Y = (X + bias) * exp(log_scale),      log_scale = 3 * log_scale_param
    log|det dY/dX| = H * W * sum(log_scale)
    ```

    `initialize(x)` sets `bias = -mean(x)` and `log_scale = -log(std(x) + 1e-6)` per channel
    over the batch and spatial axes, so that `forward(x)` has zero mean and unit variance per
    channel. It is an
    explicit call, never hidden in `forward`: run it once, on the same batch on every replica (or in
    cross-replica context), before training. `initialized` records that it ran and is saved in
    checkpoints, so a restored model is not re-initialised.

    Args:
      num_channels: `C` of the `[B, H, W, C]` inputs.
      validate_args: Python `bool`. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'act_norm'`.

    #### Examples

    ```python
    act_norm = tfp_flows.bijectors.ActNorm(3)
    y = act_norm.initialize(images)   # y has mean 0, std 1 per channel
    x = act_norm.inverse(y)
    ```

    #### References

    [1]: Diederik P. Kingma, Prafulla Dhariwal. Glow: Generative Flow with Invertible 1x1
         Convolutions. In NeurIPS, 2018. https://arxiv.org/abs/1807.03039
    """

    def __init__(
        self,
        num_channels: int,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'act_norm',
    ):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._num_channels = int(num_channels)
            self.bias = tf.Variable(tf.zeros([num_channels], dtype), name='bias')
            self.log_scale_param = tf.Variable(
                tf.zeros([num_channels], dtype), name='log_scale_param'
            )
            self.initialized = tf.Variable(False, trainable=False, name='initialized')
            super().__init__(
                parameters=parameters, name=name, validate_args=validate_args, dtype=dtype
            )

    @property
    def log_scale(self) -> tf.Tensor:
        return LOG_SCALE_FACTOR * self.log_scale_param

    def normalize(self, x: tf.Tensor) -> tf.Tensor:
        """The forward map without its log-determinant (used inside conditioner networks)."""
        return (x + self.bias) * tf.exp(self.log_scale)

    def _log_det(self, x: tf.Tensor) -> tf.Tensor:
        pixels = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
        return tf.fill(tf.shape(x)[:1], pixels * tf.reduce_sum(self.log_scale))

    def _forward_and_log_det(self, x):
        check_images(x, self._num_channels, self.name)
        return self.normalize(x), self._log_det(x)

    def _inverse_and_log_det(self, y):
        check_images(y, self._num_channels, self.name)
        return y * tf.exp(-self.log_scale) - self.bias, -self._log_det(y)

    def initialize(self, x: tf.Tensor) -> tf.Tensor:
        """Sets bias and scale from the batch `x` `[B, H, W, C]`; returns the normalised batch."""
        x = tf.convert_to_tensor(x, self.dtype)
        check_images(x, self._num_channels, self.name)
        mean = tf.reduce_mean(x, axis=[0, 1, 2])
        std = tf.sqrt(tf.reduce_mean(tf.square(x - mean), axis=[0, 1, 2]))
        self.bias.assign(-mean)
        # The 1e-6 keeps a constant channel (e.g. an all-background border) at a finite scale.
        self.log_scale_param.assign(-tf.math.log(std + 1e-6) / LOG_SCALE_FACTOR)
        self.initialized.assign(True)
        return self.normalize(x)
