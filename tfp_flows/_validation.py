"""Checking integer arguments: one rule, one message, for every count and size in tfp_flows."""

import numpy as np

__all__ = ['image_shape', 'integer', 'is_integer']


def is_integer(value, minimum: int, maximum: int | None = None) -> bool:
    """Whether `value` is a Python int in `minimum..maximum` (no upper bound for None).

    Booleans are refused although Python counts them as integers: `True` for a count is a bug.
    """
    if isinstance(value, bool) or not isinstance(value, int):
        return False
    return minimum <= value and (maximum is None or value <= maximum)


def integer(
    value, name: str, minimum: int, maximum: int | None = None, bounds: str | None = None
) -> int:
    """`value`, or a ValueError naming `name` unless `is_integer(value, minimum, maximum)`.

    Args:
      value: the argument to check.
      name: the argument's name, as the message shows it.
      minimum: smallest allowed value.
      maximum: largest allowed value, or None for no upper bound. Default value: None.
      bounds: the allowed range as the message states it, where the bare numbers would not say
        why (e.g. `'>= C=3 (one channel per sub-pixel)'`). Default value: `'>= minimum'`, or
        `'in [minimum, maximum]'`.

    Raises:
      ValueError: `'{name} must be an integer {bounds}; got {value!r}.'`
    """
    if not is_integer(value, minimum, maximum):
        if bounds is None:
            bounds = f'>= {minimum}' if maximum is None else f'in [{minimum}, {maximum}]'
        raise ValueError(f'{name} must be an integer {bounds}; got {value!r}.')
    return value


def image_shape(value) -> tuple[int, int, int]:
    """`value` (any sequence) as an `(H, W, C)` tuple of positive Python ints; else ValueError.

    NumPy integers (e.g. from an array's `shape`) are accepted; floats are refused rather than
    truncated.
    """
    try:
        shape = tuple(value)
    except TypeError:
        shape = ()
    if len(shape) != 3 or not all(
        isinstance(d, int | np.integer) and not isinstance(d, bool) and d >= 1 for d in shape
    ):
        raise ValueError(f'image_shape must be (H, W, C) with positive integers; got {value!r}.')
    return tuple(int(d) for d in shape)
