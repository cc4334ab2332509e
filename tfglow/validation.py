"""Checks of user-given option values, shared so every option says its problem the same way."""

import numpy as np

__all__ = ['integer', 'is_integer']


def is_integer(
    value,
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    allow_numpy: bool = True,
) -> bool:
    """Whether `value` is an integer in `minimum..maximum` (None: unbounded on that side).

    Booleans are refused although Python counts them as integers: `True` for a count is a bug.

    Args:
      value: the value to check.
      minimum: smallest allowed value, or None. Default value: None.
      maximum: largest allowed value, or None. Default value: None.
      allow_numpy: accept NumPy integers too; False where the value must stay a plain Python
        int (a config written as JSON). Default value: True.
    """
    kinds = int | np.integer if allow_numpy else int
    return (
        isinstance(value, kinds)
        and not isinstance(value, bool)
        and (minimum is None or value >= minimum)
        and (maximum is None or value <= maximum)
    )


def integer(
    value,
    name: str,
    minimum: int | None = None,
    maximum: int | None = None,
    *,
    allow_numpy: bool = True,
) -> int:
    """`value` as a Python int; ValueError naming `name` unless `is_integer` accepts it.

    Args:
      value: the value to check.
      name: what the error message calls the value, e.g. `'batch_size'`.
      minimum: smallest allowed value, or None. Default value: None.
      maximum: largest allowed value, or None. Default value: None.
      allow_numpy: as for `is_integer`. Default value: True.

    Raises:
      ValueError: `'{name} must be an integer >= {minimum}; got {value!r}.'` (or `in min..max`,
        `<= max`, or no range).
    """
    if not is_integer(value, minimum, maximum, allow_numpy=allow_numpy):
        raise ValueError(f'{name} must be {_describe(minimum, maximum)}; got {value!r}.')
    return int(value)


def _describe(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f'an integer in {minimum}..{maximum}'
    if minimum is not None:
        return f'an integer >= {minimum}'
    if maximum is not None:
        return f'an integer <= {maximum}'
    return 'an integer'
