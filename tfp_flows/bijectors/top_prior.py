"""The prior of the coarsest level: standard, learned, class- or context-conditional."""

import tensorflow as tf

from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images, concat_condition
from tfp_flows.networks.conv import LinearZeros, ZeroConv2D

__all__ = ['TopPrior']


class TopPrior(FlowBijector):
    """Standardises the top latent `Z` `[B, h, w, C]` under `N(mean, exp(log_sd))`.

    ```none
    H = 0                                    # [B, h, w, 2C]
    H += ZeroConv(border indicator)          # learn_top: learned, varies only near the border
    H += LinearZeros(one_hot(label))         # num_classes > 0 (openai/glow's ycond)
    H += ZeroConv(c)                         # conditional_channels > 0: [B, D] or [B, h, w, D]
    mean = H[..., :C],  log_sd = H[..., C:]  # halves, not interleaved, as in openai/glow
    forward:  eps = (Z - mean) * exp(-log_sd),    log|det| = -sum(log_sd)
    ```

    With nothing enabled it is the identity and the top prior is N(0, I). Every term starts at zero.

    Args:
      num_channels: `C`.
      learn_top: Python `bool`, learn the prior's mean and scale. Default value: `False`.
      num_classes: classes for a class-conditional prior, 0 for none. Default value: 0.
      conditional_channels: `D` of an optional conditioning input, 0 for none. Default value: 0.
      validate_args: Python `bool`; checks labels are in range. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'top_prior'`.
    """

    def __init__(
        self,
        num_channels: int,
        learn_top: bool = False,
        num_classes: int = 0,
        conditional_channels: int = 0,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'top_prior',
    ):
        parameters = dict(locals())
        if num_classes < 0:
            raise ValueError(f'num_classes must be >= 0; got {num_classes}.')
        with tf.name_scope(name) as name:
            self._num_channels = int(num_channels)
            self._num_classes = int(num_classes)
            self._conditional_channels = int(conditional_channels)
            out = 2 * num_channels
            # The learned term sees only the border indicator: its input is a constant zero channel.
            self.learned = ZeroConv2D(1, out, dtype=dtype, name='learned') if learn_top else None
            self.class_embedding = (
                LinearZeros(num_classes, out, dtype=dtype, name='class_embedding')
                if num_classes
                else None
            )
            self.context = (
                ZeroConv2D(conditional_channels, out, dtype=dtype, name='context')
                if conditional_channels
                else None
            )
            super().__init__(
                parameters=parameters, name=name, validate_args=validate_args, dtype=dtype
            )

    @property
    def num_classes(self) -> int:
        return self._num_classes

    def _one_hot(self, label, dtype):
        if label is None:
            raise ValueError(
                f'{self.name} is class-conditional (num_classes={self._num_classes}): '
                'pass label=[B] ints.'
            )
        label = tf.convert_to_tensor(label)
        if not label.dtype.is_integer:
            raise ValueError(
                f'label must be an integer tensor of class ids; got dtype {label.dtype.name}.'
            )
        if label.shape.rank is not None and label.shape.rank != 1:
            raise ValueError(f'label must have shape [B]; got {label.shape}.')
        if self.validate_args:
            with tf.control_dependencies(
                [
                    tf.debugging.assert_non_negative(label, message='label must be >= 0'),
                    tf.debugging.assert_less(
                        label,
                        tf.cast(self._num_classes, label.dtype),
                        message=f'label must be < num_classes={self._num_classes}',
                    ),
                ]
            ):
                label = tf.identity(label)
        return tf.one_hot(label, self._num_classes, dtype=dtype)

    def mean_and_log_sd(self, z, label=None, conditional_input=None):
        """Prior parameters for `Z`'s shape, each `[B or 1, h, w, C]`."""
        if self._num_classes == 0 and label is not None:
            raise ValueError(
                f'{self.name} is not class-conditional (num_classes=0) but got a label.'
            )
        shape = tf.shape(z)
        h = tf.zeros(tf.concat([[1], shape[1:3], [2 * self._num_channels]], axis=0), z.dtype)
        if self.learned is not None:
            h += self.learned(tf.zeros(tf.concat([[1], shape[1:3], [1]], axis=0), z.dtype))
        if self.class_embedding is not None:
            h += self.class_embedding(self._one_hot(label, z.dtype))[:, None, None, :]
        if self.context is not None or conditional_input is not None:
            empty = tf.zeros(tf.concat([shape[:3], [0]], axis=0), z.dtype)
            condition = concat_condition(
                empty, conditional_input, self._conditional_channels, self.name
            )
            h += self.context(condition)
        return h[..., : self._num_channels], h[..., self._num_channels :]

    def _standardise(self, z, label, conditional_input, sign):
        check_images(z, self._num_channels, self.name)
        mean, log_sd = self.mean_and_log_sd(z, label, conditional_input)
        log_sd = tf.broadcast_to(log_sd, tf.shape(z))
        log_det = -sign * tf.reduce_sum(log_sd, axis=[1, 2, 3])
        if sign > 0:
            return (z - mean) * tf.exp(-log_sd), log_det
        return mean + z * tf.exp(log_sd), log_det

    def _forward_and_log_det(self, z, label=None, conditional_input=None):
        return self._standardise(z, label, conditional_input, 1.0)

    def _inverse_and_log_det(self, eps, label=None, conditional_input=None):
        return self._standardise(eps, label, conditional_input, -1.0)
