"""Fuzz: every exported signature of every model family, driven with seeded bad inputs.

Each family's smoke model is exported untrained (`export_helpers.untrained_workdir`), the Glow
with a small attribute-directions file, the augmentation export over the unconditional few-shot
Glow. For each signature, inputs are mutated one at a time from a valid request: wrong dtypes,
ranks and shapes, empty batches, NaN and Inf, huge values, huge and negative counts, noise
images. Every call must either raise an error naming the input, or return finite values (uint8
images are in range by type). A value past a documented limit (`tfglow.serving.checks`) must
raise. Wrong dtypes are also passed as numpy arrays through `tfglow.serving.client`, which must
refuse them where TensorFlow would cast silently. The outcome table is printed.
"""

import dataclasses
import functools
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.tfglow import export_helpers
from tests.tfglow.augment import helpers as augment_helpers
from tfglow import attributes
from tfglow.augment import latent, methods
from tfglow.serving import augment, checks, client, export

_SPECS = {
    'glow': export_helpers.SMOKE_CONFIG,
    'fewshot_glow': 'configs/omniglot_fewshot_glow.py:smoke',
    'fewshot_glow_unconditional': 'configs/omniglot_fewshot_glow.py:smoke,unconditional',
    'attention_pixelcnn': 'configs/omniglot_attention_pixelcnn.py:smoke',
    'pixelcnn': 'configs/omniglot_attention_pixelcnn.py:smoke,pixelcnn',
    'meta_pixelcnn': 'configs/omniglot_meta_pixelcnn.py:smoke',
}
# Small, so that a request over the cap is cheap to refuse.
_MAX_BATCH = 8
_MUTATIONS_PER_INPUT = 6
_SEED = 17
_BATCH = 2
# Valid values of the scalar and per-image inputs.
_VALID = {
    'num': np.int32(2),
    'num_steps': np.int32(3),
    'temperature': np.float32(0.5),
    'strength': np.float32(0.5),
    'seed': np.int64(0),
    'alpha': np.full([_BATCH], 0.5, np.float32),
    'attribute': np.zeros([_BATCH], np.int32),
    'label': np.zeros([_BATCH], np.int32),
}
# Past the documented limits: a call must fail.
_LIMITS = {'temperature': checks.MAX_TEMPERATURE, 'latents': checks.MAX_LATENT}


@dataclasses.dataclass
class _Mutation:
    name: str  # the input changed
    what: str
    value: object  # a numpy array, or a tf.Tensor of another dtype
    must_fail: bool


@dataclasses.dataclass
class _Tally:
    tried: int = 0
    clean: int = 0
    answered: int = 0
    silent: list = dataclasses.field(default_factory=list)
    unclear: list = dataclasses.field(default_factory=list)


def _directions(latent_size: int) -> attributes.AttributeDirections:
    rng = np.random.default_rng(0)
    return attributes.AttributeDirections(
        names=('a', 'b'),
        directions=(0.1 * rng.standard_normal([2, latent_size])).astype(np.float32),
        present_counts=np.ones(2),
        absent_counts=np.ones(2),
    )


@functools.cache
def _exports() -> dict[str, str]:
    """Family -> version directory of its export."""
    base = export_helpers.temporary_dir('tfglow_fuzz_')
    paths = {}
    for family, spec in _SPECS.items():
        kwargs = {'attributes': _directions(784)} if family == 'glow' else {}
        paths[family] = export.export_saved_model(
            export_helpers.untrained_workdir(spec),
            os.path.join(base, family),
            max_batch=_MAX_BATCH,
            **kwargs,
        )
    workdir = export_helpers.untrained_workdir(_SPECS['fewshot_glow_unconditional'])
    codec = latent.load_codec(workdir)
    statistics = methods.BaseStatistics(
        latent.encode_classes(codec, augment_helpers.omniglot('train', 4))
    )
    paths['augment'] = augment.export_augment_saved_model(
        codec, statistics, os.path.join(base, 'augment'), num_related=2, max_batch=_MAX_BATCH
    )
    return paths


def _valid_value(name: str, spec: tf.TensorSpec, rng) -> np.ndarray:
    if name in _VALID:
        return _VALID[name]
    shape = [_BATCH if d is None else d for d in spec.shape]
    if spec.dtype == tf.uint8:
        return rng.integers(0, 256, shape).astype(np.uint8)
    if spec.dtype == tf.bool:
        return np.ones(shape, bool)
    return np.zeros(shape, spec.dtype.as_numpy_dtype)


def _huge(rng) -> float:
    return float(rng.choice([-1, 1]) * 10 ** rng.uniform(3, 38))


def _mutations(name: str, spec: tf.TensorSpec, valid: np.ndarray, rng) -> list[_Mutation]:
    """`_MUTATIONS_PER_INPUT` seeded mutations of input `name`."""
    numpy_dtype = spec.dtype.as_numpy_dtype
    candidates = []
    other = rng.choice(
        [d for d in (tf.float32, tf.int32, tf.int64, tf.uint8, tf.float64) if d != spec.dtype]
    )
    retyped = tf.constant(valid.astype(other.as_numpy_dtype))
    candidates.append(_Mutation(name, f'dtype {other.name}', retyped, True))
    candidates.append(_Mutation(name, 'dtype string', tf.fill(valid.shape, 'x'), True))
    candidates.append(_Mutation(name, 'rank + 1', valid[None], True))
    if valid.ndim:
        candidates.append(_Mutation(name, 'rank - 1', valid[0], True))
        empty = np.zeros([0, *valid.shape[1:]], numpy_dtype)
        # An empty batch is an empty request, except for a mask, which must match its support.
        candidates.append(_Mutation(name, 'empty batch', empty, True))
    if valid.ndim >= 2:
        shape = list(valid.shape)
        shape[-1] += int(rng.integers(1, 5))
        candidates.append(_Mutation(name, 'wrong last dim', np.resize(valid, shape), True))
    if spec.dtype.is_floating:
        for bad in (np.nan, np.inf, -np.inf):
            candidates.append(_Mutation(name, f'{bad}', np.full_like(valid, bad), True))
        huge = _huge(rng)
        limit = _LIMITS.get(name, 1e6)
        candidates.append(
            _Mutation(name, f'huge {huge:.3g}', np.full_like(valid, huge), abs(huge) > limit)
        )
        negative = -float(rng.uniform(0.1, 10))
        candidates.append(
            _Mutation(
                name,
                f'negative {negative:.3g}',
                np.full_like(valid, negative),
                name in ('temperature', 'strength'),
            )
        )
    elif spec.dtype.is_integer and spec.dtype != tf.uint8:
        info = np.iinfo(numpy_dtype)
        counts = name in ('num', 'num_steps')
        for bad in (0, -1, _MAX_BATCH + 1, info.max, int(rng.integers(10**4, 10**9))):
            # Any seed is valid; a count must be in [1 (2 for num_steps), max_batch].
            must_fail = name not in ('seed',) and (not counts or bad < 2 or bad > _MAX_BATCH)
            if name in ('attribute', 'label') and bad == 0:
                must_fail = False
            candidates.append(_Mutation(name, f'value {bad}', np.full_like(valid, bad), must_fail))
    elif spec.dtype == tf.uint8:
        for level in (0, 255):
            candidates.append(_Mutation(name, f'all {level}', np.full_like(valid, level), False))
        noise = rng.integers(0, 256, valid.shape).astype(np.uint8)
        candidates.append(_Mutation(name, 'noise', noise, False))
    elif spec.dtype == tf.bool:
        candidates.append(_Mutation(name, 'all False', np.zeros_like(valid), False))
    picked = rng.choice(len(candidates), min(_MUTATIONS_PER_INPUT, len(candidates)), replace=False)
    return [candidates[i] for i in sorted(picked)]


def _names_input(message: str, name: str, order: list[str]) -> bool:
    """Whether an error message names input `name`: by name, or (the runtime's dtype check) by
    its position among the signature's inputs, which are flattened in sorted order."""
    position = re.search(r'input #(\d+)\(zero-based\)', message)
    if position:
        return order[int(position.group(1))] == name
    return re.search(rf'\b{re.escape(name)}\b', message) is not None


def _finite(outputs: dict) -> bool:
    for value in outputs.values():
        value = value.numpy()
        if value.dtype.kind == 'f' and not np.isfinite(value).all():
            return False
    return True


def _fuzz_signature(signature, tally: _Tally, label: str, rng) -> None:
    specs = signature.structured_input_signature[1]
    order = sorted(specs)
    valid = {name: _valid_value(name, spec, rng) for name, spec in specs.items()}
    for name, spec in specs.items():
        for mutation in _mutations(name, spec, valid[name], rng):
            inputs = dict(valid, **{name: mutation.value})
            case = f'{label} {name}: {mutation.what}'
            tally.tried += 1
            try:
                tensors = {
                    key: value if tf.is_tensor(value) else tf.constant(value, specs[key].dtype)
                    for key, value in inputs.items()
                }
                outputs = signature(**tensors)
            except (tf.errors.InvalidArgumentError, ValueError, TypeError) as e:
                if _names_input(str(e), name, order):
                    tally.clean += 1
                else:
                    tally.unclear.append(f'{case}: {str(e).splitlines()[0][:200]}')
                continue
            tally.answered += 1
            if mutation.must_fail or not _finite(outputs):
                tally.silent.append(case)


def _fuzz_client(signature, tally: _Tally, label: str, rng) -> None:
    """Numpy arrays of the wrong dtype through `client.signature_inputs`: refused, named."""
    specs = signature.structured_input_signature[1]
    valid = {name: _valid_value(name, spec, rng) for name, spec in specs.items()}
    for name, spec in specs.items():
        not_bool = np.ones(valid[name].shape, np.int64 if spec.dtype == tf.bool else bool)
        bad_values = [np.full(valid[name].shape, 2.5), not_bool]
        if spec.dtype.is_floating:
            bad_values = [np.full(valid[name].shape, np.nan), np.full(valid[name].shape, 1e300)]
        for bad in bad_values:
            tally.tried += 1
            case = f'{label} client {name}: {bad.dtype}'
            try:
                client.signature_inputs(signature, dict(valid, **{name: bad}))
            except ValueError as e:
                if str(e).startswith(f'{name} must be'):
                    tally.clean += 1
                else:
                    tally.unclear.append(f'{case}: {e}')
                continue
            tally.answered += 1
            tally.silent.append(case)


@pytest.mark.slow
class FuzzTest(tf.test.TestCase):
    def test_every_signature_refuses_or_answers_sanely(self):
        rng = np.random.default_rng(_SEED)
        tally = _Tally()
        for family, path in _exports().items():
            signatures = tf.saved_model.load(path).signatures
            for name in sorted(signatures.keys()):
                label = f'{family}/{name}'
                _fuzz_signature(signatures[name], tally, label, rng)
                _fuzz_client(signatures[name], tally, label, rng)
        print(
            f'\nfuzz: inputs tried {tally.tried}, clean errors {tally.clean}, answered sanely '
            f'{tally.answered - len(tally.silent)}, unclear errors {len(tally.unclear)}, silent '
            f'wrong answers {len(tally.silent)}'
        )
        self.assertGreaterEqual(tally.tried, 200)
        self.assertEqual(tally.silent, [])
        self.assertEqual(tally.unclear, [])


if __name__ == '__main__':
    tf.test.main()
