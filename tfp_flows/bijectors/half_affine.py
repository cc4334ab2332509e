"""Shared machinery of layers that transform half of the channels given the other half."""

import tensorflow as tf

from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images

__all__ = ['HalfAffine']


class HalfAffine(FlowBijector):
    """`Y = [X1, (X2 + shift(X1)) * exp(log_scale(X1))]`, with X1 the first half of the channels.

    Both the coupling layer and the split prior have this form; subclasses only say how
    `(shift, log_scale)` come from `X1` and an optional conditioning input, via
    `_shift_and_log_scale(x1, conditional_input) -> (shift, log_scale or None)` (None = additive).

    ```none
    log|det dY/dX| = sum(log_scale)
    ```
    """

    def __init__(self, num_channels: int, *, parameters, name, validate_args, dtype):
        if num_channels < 2 or num_channels % 2:
            raise ValueError(f'{name}: num_channels must be even and >= 2; got {num_channels}.')
        self._num_channels = int(num_channels)
        super().__init__(parameters=parameters, name=name, validate_args=validate_args, dtype=dtype)

    def _halves(self, x):
        check_images(x, self._num_channels, self.name)
        half = self._num_channels // 2
        return x[..., :half], x[..., half:]

    def _transform(self, x, conditional_input, sign: float):
        """Shared forward (sign=+1) and inverse (sign=-1) pass."""
        kept, changed = self._halves(x)
        shift, log_scale = self._shift_and_log_scale(kept, conditional_input)
        if sign > 0:
            changed = changed + shift
        if log_scale is not None:
            changed = changed * tf.exp(sign * log_scale)
            log_det = sign * tf.reduce_sum(log_scale, axis=[1, 2, 3])
        else:
            log_det = tf.zeros(tf.shape(x)[:1], x.dtype)
        if sign < 0:
            changed = changed - shift
        return tf.concat([kept, changed], axis=-1), log_det

    def _forward_and_log_det(self, x, conditional_input=None):
        return self._transform(x, conditional_input, 1.0)

    def _inverse_and_log_det(self, y, conditional_input=None):
        return self._transform(y, conditional_input, -1.0)
