"""Base class for bijectors that compute a transform and its log-determinant in one pass."""

import tensorflow as tf
import tensorflow_probability as tfp

tfb = tfp.bijectors

__all__ = ['FlowBijector', 'check_images']


def check_images(x: tf.Tensor, num_channels: int | None, name: str) -> None:
    """Raises ValueError unless `x` is statically a batch of images `[B, H, W, num_channels]`."""
    shape = x.shape
    if shape.rank is not None and shape.rank != 4:
        raise ValueError(
            f'{name} expects a batch of images of shape [B, H, W, C]; got rank {shape.rank} '
            f'(shape {shape}).'
        )
    if num_channels is not None and shape.rank == 4 and shape[-1] is not None:
        if shape[-1] != num_channels:
            raise ValueError(
                f'{name} was built for {num_channels} channels; got input of shape {shape}.'
            )


class FlowBijector(tfb.Bijector):
    """A bijector whose subclasses implement `_forward_and_log_det` and `_inverse_and_log_det`.

    Most flow layers (coupling, split priors) compute their log-determinant from the same network
    output as the transform itself. TFP's hooks (`_forward`, `_forward_log_det_jacobian`) would run
    that network twice; here the transform stores its log-determinant in the bijector cache's
    attributes, keyed by the same input, so a later `forward_log_det_jacobian` on that input (as
    `TransformedDistribution.log_prob` does) reads it instead of recomputing it.

    Subclasses implement:
      `_forward_and_log_det(x, **kwargs) -> (y, fldj)` and
      `_inverse_and_log_det(y, **kwargs) -> (x, ildj)`,
    where the log-determinants are reduced over the event (one value per batch member).
    `initialize(x, **kwargs)` runs the data-dependent initialisation of any parameters on a batch
    and returns the forward transform of it; the default has nothing to initialise.
    """

    def __init__(
        self,
        *,
        parameters: dict,
        name: str,
        forward_min_event_ndims=3,
        inverse_min_event_ndims=None,
        validate_args: bool = False,
        dtype: tf.DType | None = None,
    ):
        if inverse_min_event_ndims is None:
            inverse_min_event_ndims = forward_min_event_ndims
        super().__init__(
            forward_min_event_ndims=forward_min_event_ndims,
            inverse_min_event_ndims=inverse_min_event_ndims,
            validate_args=validate_args,
            dtype=dtype,
            parameters=parameters,
            name=name,
        )

    def _forward(self, x, **kwargs):
        y, fldj = self._forward_and_log_det(x, **kwargs)
        self._cache.forward_attributes(x, **kwargs)['ildj'] = -fldj
        return y

    def _inverse(self, y, **kwargs):
        x, ildj = self._inverse_and_log_det(y, **kwargs)
        self._cache.inverse_attributes(y, **kwargs)['ildj'] = ildj
        return x

    def _forward_log_det_jacobian(self, x, **kwargs):
        return self._forward_and_log_det(x, **kwargs)[1]

    def _inverse_log_det_jacobian(self, y, **kwargs):
        return self._inverse_and_log_det(y, **kwargs)[1]

    def _forward_and_log_det(self, x, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} must implement _forward_and_log_det.')

    def _inverse_and_log_det(self, y, **kwargs):
        raise NotImplementedError(f'{type(self).__name__} must implement _inverse_and_log_det.')

    def forward_and_log_det(self, x, **kwargs):
        """`(forward(x), forward_log_det_jacobian(x))` from one pass, bypassing the cache."""
        with tf.name_scope(self.name):
            return self._forward_and_log_det(
                tf.nest.map_structure(tf.convert_to_tensor, x), **kwargs
            )

    def inverse_and_log_det(self, y, **kwargs):
        """`(inverse(y), inverse_log_det_jacobian(y))` from one pass, bypassing the cache."""
        with tf.name_scope(self.name):
            return self._inverse_and_log_det(
                tf.nest.map_structure(tf.convert_to_tensor, y), **kwargs
            )

    def initialize(self, x, **kwargs):
        """Data-dependent initialisation on the batch `x`; returns the forward transform of `x`."""
        return self.forward_and_log_det(x, **kwargs)[0]

    def _backprop_from_output(self, y, dy, dlog_det, **kwargs):
        """Backpropagates through `forward_and_log_det` from its output alone.

        The input is reconstructed as `inverse(y)`, so no activation of the forward pass needs to
        be kept, and the forward pass is recomputed from it under a local tape. Returns
        `(x, dx, dkwargs, dvariables)`: the reconstructed input, the gradient with respect to it,
        gradients for the tensor kwargs (a dict), and gradients for `self.trainable_variables`.
        Used by `GlowFlow(memory_saving='invert')`; layers whose inverse repeats the forward's
        expensive part (a coupling's network) override it to compute that part once.
        """
        x = tf.stop_gradient(self._inverse_and_log_det(y, **kwargs)[0])
        tensors = {key: value for key, value in kwargs.items() if value is not None}
        with tf.GradientTape() as tape:
            tape.watch([x, tensors])
            outputs = self._forward_and_log_det(x, **kwargs)
        dx, dkwargs, dvariables = tape.gradient(
            outputs,
            [x, tensors, self.trainable_variables],
            output_gradients=[dy, dlog_det],
            unconnected_gradients=tf.UnconnectedGradients.ZERO,
        )
        return x, dx, dkwargs, dvariables


def concat_condition(
    x: tf.Tensor, conditional_input, conditional_channels: int, name: str
) -> tf.Tensor:
    """Appends a conditioning tensor to `x` `[B, H, W, C]` as extra channels.

    `conditional_input` is a vector per example `[B, D]` (a class one-hot, a set embedding),
    broadcast over space, or a map `[B, H, W, D]` at `x`'s resolution. `D` must equal the
    `conditional_channels` the layer was built with; with `conditional_channels=0` it must be None.
    """
    if conditional_channels == 0:
        if conditional_input is not None:
            raise ValueError(
                f'{name} was built without conditioning (conditional_channels=0) but got a '
                'conditional_input; build it with conditional_channels=D to condition it.'
            )
        return x
    if conditional_input is None:
        raise ValueError(
            f'{name} was built with conditional_channels={conditional_channels} and needs a '
            'conditional_input of shape [B, D] or [B, H, W, D].'
        )
    condition = tf.convert_to_tensor(conditional_input, dtype=x.dtype)
    rank = condition.shape.rank
    if rank not in (2, 4) or condition.shape[-1] != conditional_channels:
        raise ValueError(
            f'{name}: conditional_input must have shape [B, {conditional_channels}] or '
            f'[B, H, W, {conditional_channels}]; got {condition.shape}.'
        )
    if rank == 2:
        spatial = tf.shape(x)[1:3]
        target = tf.concat([tf.shape(condition)[:1], spatial, [conditional_channels]], axis=0)
        condition = tf.broadcast_to(condition[:, None, None, :], target)
    elif x.shape[1:3].is_fully_defined() and condition.shape[1:3].is_fully_defined():
        if condition.shape[1:3] != x.shape[1:3]:
            raise ValueError(
                f'{name}: a spatial conditional_input must match the input resolution '
                f'{x.shape[1:3]}; '
                f'got {condition.shape}.'
            )
    return tf.concat([x, condition], axis=-1)
