"""2x2 space-to-depth with openai/glow's channel order."""

import tensorflow as tf

from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images

__all__ = ['Squeeze']


class Squeeze(FlowBijector):
    """`[B, H, W, C] -> [B, H/2, W/2, 4C]`, a volume-preserving reshape.

    Channel order follows openai/glow (`[B, H/2, 2, W/2, 2, C]` transposed to
    `[B, H/2, W/2, C, 2, 2]`):
    output channel `4c + 2i + j` holds input channel `c` at offset `(i, j)` of each 2x2 block. The
    order matters for reproducing openai/glow's coupling splits (first half conditions the second).

    Args:
      validate_args: Python `bool`. Default value: `False`.
      name: Default value: `'squeeze'`.
    """

    def __init__(self, validate_args: bool = False, name: str = 'squeeze'):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            super().__init__(parameters=parameters, name=name, validate_args=validate_args)

    def _forward_and_log_det(self, x):
        check_images(x, None, self.name)
        height, width, channels = x.shape[1:]
        if (height is not None and height % 2) or (width is not None and width % 2):
            raise ValueError(
                f'{self.name}: height and width must be even to squeeze; got shape {x.shape}.'
            )
        shape = tf.shape(x)
        y = tf.reshape(x, [-1, shape[1] // 2, 2, shape[2] // 2, 2, shape[3]])
        y = tf.transpose(y, [0, 1, 3, 5, 2, 4])
        y = tf.reshape(y, [-1, shape[1] // 2, shape[2] // 2, shape[3] * 4])
        return y, tf.zeros(shape[:1], x.dtype)

    def _inverse_and_log_det(self, y):
        check_images(y, None, self.name)
        if y.shape[-1] is not None and y.shape[-1] % 4:
            raise ValueError(
                f'{self.name}: channels must be a multiple of 4 to unsqueeze; got {y.shape}.'
            )
        shape = tf.shape(y)
        x = tf.reshape(y, [-1, shape[1], shape[2], shape[3] // 4, 2, 2])
        x = tf.transpose(x, [0, 1, 4, 2, 5, 3])
        x = tf.reshape(x, [-1, shape[1] * 2, shape[2] * 2, shape[3] // 4])
        return x, tf.zeros(shape[:1], y.dtype)

    def _forward_event_shape(self, input_shape, **kwargs):
        h, w, c = tf.TensorShape(input_shape).as_list()[-3:]
        return tf.TensorShape(
            [
                None if h is None else h // 2,
                None if w is None else w // 2,
                None if c is None else 4 * c,
            ]
        )

    def _forward_event_shape_tensor(self, input_shape, **kwargs):
        return tf.stack([input_shape[-3] // 2, input_shape[-2] // 2, input_shape[-1] * 4])

    def _inverse_event_shape(self, output_shape, **kwargs):
        h, w, c = tf.TensorShape(output_shape).as_list()[-3:]
        return tf.TensorShape(
            [
                None if h is None else h * 2,
                None if w is None else w * 2,
                None if c is None else c // 4,
            ]
        )

    def _inverse_event_shape_tensor(self, output_shape, **kwargs):
        return tf.stack([output_shape[-3] * 2, output_shape[-2] * 2, output_shape[-1] // 4])
