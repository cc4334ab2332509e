"""Input and output checks of the serving signatures, run inside the graph so TF Serving clients
get them.

Each `*_checks` function pins an input's static shape with `tf.ensure_shape` (a wrong shape then
fails in `EnsureShape`, naming the input and both shapes) and returns the input with a list of
assertions on its values whose messages name the input. `after` makes tensors usable only once
every check passed, so no op sees an unchecked input. All failures are InvalidArgument errors.

```python
images, checks = image_checks(images, 'images', (28, 28, 1))
num, num_checks = count_checks(num, 'samples', max_batch)
images, num = after(checks + num_checks, images, num)
```

Limits: a finite input can still drive a flow out of its range, where it overflows to NaN (which
the uint8 conversion would turn into black pixels) or decodes to saturated noise. So the inputs
that set a latent's size are bounded, and every decoded or scored output is checked to be finite
before it is returned:

```none
temperature   0 <= t <= MAX_TEMPERATURE (2)     samples are mostly saturated noise from t ~ 2-3
latents       |z_i| <= MAX_LATENT (100)          for those given to decode, and those that alpha
                                                 (manipulate) or strength (augment) make
num...        <= max_batch images per request    an export's choice (default DEFAULT_MAX_BATCH)
```

Measured on the Fashion-MNIST smoke Glow (`tests/tfglow/export_helpers.trained_workdir`): its
test images encode to `|z| <= 10`, uniform-noise images to `|z| <= 37`; N(0, s^2) latents decode
to finite values up to s = 25 and overflow at s = 250; at temperature 2 65% of the sampled
values fall outside the pixel range, at 3 86%, and from 30 samples overflow.
"""

from collections.abc import Sequence

import numpy as np
import tensorflow as tf

from tfglow import pixels
from tfglow.trained import FlowImages

__all__ = [
    'DEFAULT_MAX_BATCH',
    'MAX_LATENT',
    'MAX_TEMPERATURE',
    'after',
    'count_checks',
    'checked_uint8',
    'encode_outputs',
    'exact_round_trip',
    'finite_checks',
    'finite_flow',
    'flow_decode',
    'image_checks',
    'label_checks',
    'latent_bound_checks',
    'latent_checks',
    'max_batch_message',
    'non_negative_checks',
    'product_checks',
]

MAX_TEMPERATURE = 2.0
MAX_LATENT = 100.0
DEFAULT_MAX_BATCH = 1024


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


def count_checks(num: tf.Tensor, what: str, max_batch: int):
    """A scalar `1 <= num <= max_batch` (how many `what` a call makes), and its checks."""
    num = tf.ensure_shape(num, [], name='num')
    return num, [
        tf.debugging.assert_positive(num, message=f'num ({what}) must be >= 1'),
        tf.debugging.assert_less_equal(
            num, max_batch, message=max_batch_message(f'num ({what})', max_batch)
        ),
    ]


def max_batch_message(what: str, max_batch: int) -> str:
    return (
        f'{what} must be <= {max_batch}, the most images this export makes per request '
        '(tfglow-export --max_batch)'
    )


def product_checks(a: tf.Tensor, b: tf.Tensor, what: str, max_batch: int):
    """Asserts `a * b <= max_batch` (images made, `what` is e.g. 'num * B')."""
    # In int64: the product of two int32 values may not fit an int32.
    made = tf.cast(a, tf.int64) * tf.cast(b, tf.int64)
    message = max_batch_message(what, max_batch)
    return [tf.debugging.assert_less_equal(made, tf.constant(max_batch, tf.int64), message=message)]


def non_negative_checks(value: tf.Tensor, name: str, maximum: float = np.inf):
    """A scalar float input that must be finite and in `[0, maximum]`, and its checks."""
    value = tf.ensure_shape(value, [], name=name)
    if np.isfinite(maximum):
        message = f'{name} must be a finite number in [0, {maximum:g}]'
    else:
        message = f'{name} must be a finite number >= 0'
    return value, [
        tf.debugging.assert_non_negative(value, message=message),
        tf.debugging.assert_less(value, np.float32(np.inf), message=message),
        tf.debugging.assert_less_equal(value, np.float32(maximum), message=message),
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


def latent_bound_checks(latents: tf.Tensor, message: str) -> list[tf.Operation]:
    """Asserts every value is finite with `|z| <= MAX_LATENT` (NaN fails the comparison)."""
    inside = tf.reduce_all(tf.abs(latents) <= MAX_LATENT)
    return [tf.debugging.assert_equal(inside, True, message=message)]


def latent_checks(latents: tf.Tensor, latent_size: int):
    """Shape `[B >= 1, latent_size]`, values finite in `[-MAX_LATENT, MAX_LATENT]`."""
    latents = tf.ensure_shape(latents, [None, latent_size], name='latents')
    checks = [
        tf.debugging.assert_positive(
            tf.shape(latents)[0], message='latents must hold at least one row'
        ),
        *latent_bound_checks(
            latents,
            f'latents must be finite, every |value| <= {MAX_LATENT:g} (an encoded image of the '
            'data stays far below; a flow overflows beyond)',
        ),
    ]
    return latents, checks


def finite_checks(values: tf.Tensor, message: str) -> list[tf.Operation]:
    """Asserts every value of a signature's result is finite (`message` names the input)."""
    finite = tf.reduce_all(tf.math.is_finite(values))
    return [tf.debugging.assert_equal(finite, True, message=message)]


def flow_decode(flow: FlowImages, latents: tf.Tensor, label: tf.Tensor | None = None):
    """Flat latents `[B, D]` -> the flow's float output `[B, H, W, C]`, before any conversion."""
    return flow.model.decode(flow.unflatten(latents), label=label)


def checked_uint8(x: tf.Tensor, n_bits: int, message: str) -> tf.Tensor:
    """The flow's output as uint8 images, failing with `message` when a value is not finite.

    The check comes first because the conversion maps NaN to level 0: after it, an overflow
    looks like a black pixel.
    """
    (x,) = after(finite_checks(x, message), x)
    return pixels.flow_to_uint8(x, n_bits)


class _FiniteDecodes:
    """A flow whose `decode` fails with `message` when its output is not finite: lets
    `FlowImages.sample` draw its latents as it always does and check before converting."""

    def __init__(self, flow: tf.Module, message: str):
        self._flow = flow
        self._message = message

    def __getattr__(self, name: str):
        return getattr(self._flow, name)

    def decode(self, latents, label=None):
        x = self._flow.decode(latents, label=label)
        (x,) = after(finite_checks(x, self._message), x)
        return x


def finite_flow(flow: FlowImages, message: str) -> FlowImages:
    """`flow`'s maps, whose `decode` and `sample` fail with `message` on a non-finite output."""
    return FlowImages(_FiniteDecodes(flow.model, message), flow.n_bits)


def exact_round_trip(images: tf.Tensor, x: tf.Tensor, n_bits: int) -> tf.Tensor:
    """bool `[B]`: whether the flow output `x` is finite and holds each image's levels."""
    axes = [1, 2, 3]
    same = pixels.to_levels(images, n_bits) == pixels.flow_to_levels(x, n_bits)
    return tf.reduce_all(same, axis=axes) & tf.reduce_all(tf.math.is_finite(x), axis=axes)


def encode_outputs(
    flow: FlowImages, images: tf.Tensor, label: tf.Tensor | None = None
) -> dict[str, tf.Tensor]:
    """An export's `encode` of checked uint8 images: `flow.encode_outputs` and `exact`.

    `latents` gets its static shape `[B, D]`; `exact` (bool `[B]`) says whether decoding the
    latents gives back each image's levels, pixel for pixel (a second pass through the flow).
    Fails, naming `images`, when an encoding is not finite.
    """
    outputs = flow.encode_outputs(images, label)
    latents = tf.ensure_shape(outputs['latents'], [None, flow.latent_size])
    message = 'images: the flow overflows on these images (their latents are not finite)'
    (outputs['latents'],) = after(finite_checks(latents, message), latents)
    outputs['exact'] = exact_round_trip(
        images, flow_decode(flow, outputs['latents'], label), flow.n_bits
    )
    return outputs
