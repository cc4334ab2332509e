"""Fixed channel permutations: reversal (RealNVP) and a random shuffle."""

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds
from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images

__all__ = ['ChannelPermutation']

_KINDS = ('reverse', 'shuffle')


class ChannelPermutation(FlowBijector):
    """`Y[..., c] = X[..., permutation[c]]`; volume preserving.

    The permutation is held in a non-trainable variable, so a shuffled model restored from a
    checkpoint uses the permutation it was trained with, not a fresh random one.

    Args:
      num_channels: `C`.
      kind: `'reverse'` (RealNVP's channel reversal) or `'shuffle'` (a fixed random permutation).
        Default value: `'reverse'`.
      seed: int, `np.random.SeedSequence` or None, for `'shuffle'`.
      validate_args: Python `bool`. Default value: `False`.
      name: Default value: `'channel_permutation'`.
    """

    def __init__(
        self,
        num_channels: int,
        kind: str = 'reverse',
        seed=None,
        validate_args: bool = False,
        name: str = 'channel_permutation',
    ):
        parameters = dict(locals())
        if kind not in _KINDS:
            raise ValueError(f'kind must be one of {_KINDS}; got {kind!r}.')
        with tf.name_scope(name) as name:
            self._num_channels = int(num_channels)
            if kind == 'reverse':
                order = np.arange(num_channels)[::-1]
            else:
                order = _seeds.rng(seed).permutation(num_channels)
            self.permutation = tf.Variable(
                order.astype(np.int32), trainable=False, name='permutation'
            )
            super().__init__(parameters=parameters, name=name, validate_args=validate_args)

    def _forward_and_log_det(self, x):
        check_images(x, self._num_channels, self.name)
        return tf.gather(x, self.permutation, axis=-1), tf.zeros(tf.shape(x)[:1], x.dtype)

    def _inverse_and_log_det(self, y):
        check_images(y, self._num_channels, self.name)
        inverse = tf.math.invert_permutation(self.permutation)
        return tf.gather(y, inverse, axis=-1), tf.zeros(tf.shape(y)[:1], y.dtype)
