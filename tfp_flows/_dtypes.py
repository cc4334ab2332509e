"""Checking dtype arguments."""

import tensorflow as tf

__all__ = ['floating_dtype']


def floating_dtype(value, name: str) -> tf.DType:
    """`value` (a `tf.DType`, NumPy dtype or name such as `'bfloat16'`) as a floating `tf.DType`.

    Raises:
      ValueError: naming the argument, for a value that is not a floating dtype.
    """
    try:
        dtype = tf.as_dtype(value)
    except TypeError:
        dtype = None
    if dtype is None or not dtype.is_floating:
        raise ValueError(
            f"{name} must be a floating dtype such as 'float32' or 'bfloat16'; got {value!r}."
        )
    return dtype
