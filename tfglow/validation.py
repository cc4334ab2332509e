"""Checks of user-given option values, shared so every option says its problem the same way."""

import numpy as np

__all__ = ['integer']


def integer(value, name: str, minimum: int) -> int:
    """`value` as a Python int; ValueError naming `name` unless it is an integer >= `minimum`.

    Booleans are refused although Python counts them as integers: `True` for a count is a bug.
    """
    if isinstance(value, bool) or not isinstance(value, int | np.integer) or value < minimum:
        raise ValueError(f'{name} must be an integer >= {minimum}; got {value!r}.')
    return int(value)
