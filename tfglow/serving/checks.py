"""Input checks of the serving signatures, run inside the graph so TF Serving clients get them.

Each `*_checks` function pins an input's static shape with `tf.ensure_shape` (a wrong shape then
fails in `EnsureShape`, naming the input and both shapes) and returns the input with a list of
assertions on its values whose messages name the input. `after` makes tensors usable only once
every check passed, so no op sees an unchecked input. All failures are InvalidArgument errors.

```python
images, checks = image_checks(images, 'images', (28, 28, 1))
num, num_checks = count_checks(num, 'samples')
images, num = after(checks + num_checks, images, num)
```
"""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = [
    'after',
    'count_checks',
    'image_checks',
    'label_checks',
    'latent_checks',
    'non_negative_checks',
]


def after(checks: Sequence[tf.Operation], *tensors: tf.Tensor) -> list[tf.Tensor]:
    """`tensors`, usable only once every check passed (so no op sees an unchecked input)."""
    with tf.control_dependencies(checks):
        return [tf.identity(t) for t in tensors]


def image_checks(images: tf.Tensor, name: str, image_shape: Sequence[int]):
    """Shape `[B >= 1, H, W, C]`; returns `(images, checks)`."""
    images = tf.ensure_shape(images, [None, *image_shape], name=name)
    shape = ', '.join(map(str, image_shape))
    check = tf.debugging.assert_positive(
        tf.shape(images)[0], message=f'{name} must hold at least one uint8 [{shape}] image'
    )
    return images, [check]


def count_checks(num: tf.Tensor, what: str):
    """A scalar `num` >= 1 (how many `what` a call makes), and the check on it."""
    num = tf.ensure_shape(num, [], name='num')
    return num, [tf.debugging.assert_positive(num, message=f'num ({what}) must be >= 1')]


def non_negative_checks(value: tf.Tensor, name: str):
    """A scalar float input that must be finite and >= 0 (temperature, strength), and its checks."""
    value = tf.ensure_shape(value, [], name=name)
    message = f'{name} must be a finite number >= 0'
    return value, [
        tf.debugging.assert_non_negative(value, message=message),
        tf.debugging.assert_less(value, np.float32(np.inf), message=message),
    ]


def label_checks(label: tf.Tensor, count: tf.Tensor, what: str, num_classes: int):
    """Shape `[count]`, values in `[0, num_classes)`; returns `(label, checks)`."""
    label = tf.ensure_shape(label, [None], name='label')
    message = f'label must hold one class index in [0, {num_classes}) per {what}'
    checks = [
        tf.debugging.assert_equal(tf.size(label), count, message=message),
        tf.debugging.assert_non_negative(label, message=message),
        tf.debugging.assert_less(label, num_classes, message=message),
    ]
    return label, checks


def latent_checks(latents: tf.Tensor, latent_size: int):
    """Shape `[B >= 1, latent_size]`, finite values; returns `(latents, checks)`."""
    latents = tf.ensure_shape(latents, [None, latent_size], name='latents')
    checks = [
        tf.debugging.assert_positive(
            tf.shape(latents)[0], message='latents must hold at least one row'
        ),
        tf.debugging.assert_less(
            tf.reduce_max(tf.abs(latents)),
            np.float32(np.inf),
            message='latents must be finite (no NaN or Inf)',
        ),
    ]
    return latents, checks
