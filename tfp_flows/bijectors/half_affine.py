"""Shared machinery of layers that transform half of the channels given the other half."""

import numpy as np
import tensorflow as tf

from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images

__all__ = ['HalfAffine', 'deinterleave']


def deinterleave(num_channels: int) -> np.ndarray:
    """The channel order `[0, 2, 4, ..., 1, 3, 5, ...]`: even channels first, then odd ones.

    openai/glow reads a network output `h` as interleaved pairs (`h[..., 0::2]`, `h[..., 1::2]`).
    A network whose last layer emits its channels in this order (`ZeroConv2D(output_order=...)`)
    yields the same two tensors as contiguous halves.
    """
    return np.concatenate([np.arange(0, num_channels, 2), np.arange(1, num_channels, 2)])


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
        # tf.split rather than slicing: its gradient is a concat, not two scatters into zeros.
        return tf.split(x, 2, axis=-1)

    def _transform(self, x, conditional_input, sign: float, parameters=None):
        """Shared forward (sign=+1) and inverse (sign=-1) pass.

        `parameters`: `(shift, log_scale)` when already computed from `x`'s first half.
        """
        kept, changed = self._halves(x)
        if parameters is None:
            parameters = self._shift_and_log_scale(kept, conditional_input)
        shift, log_scale = parameters
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

    def _backprop_from_output(self, y, dy, dlog_det, conditional_input=None):
        # The inverse and the forward evaluate the network on the same first half (Y1 = X1), so
        # it runs once, on the tape: the input is reconstructed from its output, and the forward
        # is recomputed from the reconstruction through the same (shift, log_scale). The
        # backward pass then costs one network evaluation more than plain backprop, as with
        # recomputation, and keeps nothing from the forward pass.
        kept, _ = self._halves(y)
        condition = {} if conditional_input is None else {'conditional_input': conditional_input}
        with tf.GradientTape() as tape:
            tape.watch([kept, condition])
            parameters = self._shift_and_log_scale(kept, conditional_input)
            x = tf.stop_gradient(self._transform(y, None, -1.0, parameters)[0])
            tape.watch(x)
            outputs = self._transform(x, None, 1.0, parameters)
        dx, dkept, dcondition, dvariables = tape.gradient(
            outputs,
            [x, kept, condition, self.trainable_variables],
            output_gradients=[dy, dlog_det],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        # X1 reached the output twice: copied through, and (as `kept`) through the network.
        dx += tf.concat([dkept, tf.zeros_like(dkept)], axis=-1)
        return x, dx, dcondition, dvariables
