"""Python-side checks of the inputs to a SavedModel signature: what the graph cannot refuse.

A signature refuses a `tf.Tensor` (or a TF Serving `TensorProto`) of the wrong dtype, and checks
shapes and values in its graph (`tfglow.serving.checks`). But Python values (numpy arrays, lists,
numbers) are converted to the signature's dtypes by TensorFlow before the graph runs, silently:
float pixels NaN -> 0, -1 -> 255, 300 -> 44, `num=2.5` -> 2. `signature_inputs` converts them
only where no value changes, and refuses the rest with one line naming the input:

```none
uint8, bool     only arrays of exactly that dtype (or tensors)
integer         integer (not bool) values inside the dtype's range
float           finite real values (NaN, Inf, and float64 beyond float32's range refused)
```

```python
signature = tf.saved_model.load(path).signatures['decode']
outputs = signature(**signature_inputs(signature, {'latents': latents}))
```
"""

from collections.abc import Mapping

import numpy as np
import tensorflow as tf

__all__ = ['signature_inputs']


def signature_inputs(
    signature: tf.types.experimental.ConcreteFunction, inputs: Mapping[str, object]
) -> dict[str, tf.Tensor]:
    """`inputs` as tensors of `signature`'s dtypes, refusing any value a cast would change.

    Raises:
      ValueError: naming the input, for a missing or unknown input, a wrong dtype or rank, or a
        value that does not fit the dtype.
    """
    # A loaded signature takes keyword arguments; a `tf.function`'s may be positional.
    flat = tf.nest.flatten(signature.structured_input_signature)
    specs = {spec.name: spec for spec in flat if isinstance(spec, tf.TensorSpec)}
    unknown = sorted(set(inputs) - set(specs))
    missing = sorted(set(specs) - set(inputs))
    if unknown or missing:
        raise ValueError(
            f'the signature takes inputs {sorted(specs)}; unknown: {unknown}, missing: {missing}'
        )
    return {name: _tensor(name, inputs[name], spec) for name, spec in specs.items()}


def _tensor(name: str, value, spec: tf.TensorSpec) -> tf.Tensor:
    wanted = f'{name} must be {spec.dtype.name} of shape {_shape(spec.shape)}'
    if tf.is_tensor(value):
        if value.dtype != spec.dtype:
            raise ValueError(f'{wanted}; got a {value.dtype.name} tensor')
        array = None
        shape = value.shape
    else:
        array = np.asarray(value)
        shape = array.shape
        problem = _dtype_problem(array, spec.dtype)
        if problem:
            raise ValueError(f'{wanted}; got {problem}')
    if not spec.shape.is_compatible_with(shape):
        raise ValueError(f'{wanted}; got shape {_shape(shape)}')
    return value if array is None else tf.constant(array, spec.dtype)


def _dtype_problem(array: np.ndarray, dtype: tf.DType) -> str:
    """Why `array` cannot become `dtype` unchanged ('' when it can)."""
    kind = array.dtype.kind
    if dtype in (tf.uint8, tf.bool):
        # Images and masks: any other dtype is a different convention, not a cast.
        return '' if array.dtype == dtype.as_numpy_dtype else f'{array.dtype} values'
    if dtype.is_integer:
        if kind not in 'iu':
            return f'{array.dtype} values'
        info = np.iinfo(dtype.as_numpy_dtype)
        if array.size and (array.min() < info.min or array.max() > info.max):
            return f'values outside [{info.min}, {info.max}]'
        return ''
    if kind not in 'fiu':
        return f'{array.dtype} values'
    with np.errstate(over='ignore'):  # An overflow becomes Inf, refused here.
        converted = array.astype(dtype.as_numpy_dtype)
    if not np.isfinite(converted).all():
        return 'NaN, Inf or values beyond its range'
    return ''


def _shape(shape) -> str:
    return '[' + ', '.join('?' if d is None else str(d) for d in tf.TensorShape(shape)) + ']'
