"""Experiment configs: the shared schema, helpers for configs/, validation, loading and saving.

Every file in `configs/` starts from `base_config(model)`, which defines the whole schema that the
training loop reads for that model family, and changes only values. `validate_config` checks a
config against that schema before anything expensive happens, so a typo or an impossible value
fails in milliseconds with a message naming the key, instead of deep inside TensorFlow.

This module imports no TensorFlow at the top: configs import it, and loading a config (tests,
`--help`, tools) should stay fast.

#### Examples

```python
from tfglow import config_lib
config = config_lib.load_config('configs/cifar10_glow.py:reverse_additive,smoke')
config_lib.write_config(config, '/tmp/run')   # -> '/tmp/run/config.json'
```
"""

from __future__ import annotations

import difflib
import importlib.util
import json
import math
import os
from collections.abc import Iterable, Mapping, Sequence
from types import ModuleType
from typing import Any

import ml_collections

__all__ = [
    'COUPLINGS',
    'EPISODIC_MODELS',
    'MODEL_NAMES',
    'OPTIMIZERS',
    'PERMUTATIONS',
    'PIXEL_CNN_OUTPUTS',
    'SOURCES',
    'STRATEGIES',
    'apply_openai_schedule',
    'apply_smoke',
    'base_config',
    'model_image_shape',
    'load_config',
    'load_config_module',
    'parse_variants',
    'pick_variant',
    'read_config',
    'validate_config',
    'write_config',
]

STRATEGIES = ('default', 'one_device', 'mirrored', 'multi_worker_mirrored', 'tpu')
SOURCES = ('tfds', 'folder', 'tfrecord', 'idx', 'omniglot_npz')
MODEL_NAMES = ('glow', 'pixelcnn', 'attention_pixelcnn', 'fewshot_glow')
# Models trained on episodes (a support set and a target of one class) rather than on images; their
# configs have an `episodes` section.
EPISODIC_MODELS = ('attention_pixelcnn', 'fewshot_glow')
# The same values as tfp_flows.PixelCNN's `output` (kept here so that configs load without TF).
PIXEL_CNN_OUTPUTS = ('categorical', 'logistic_mixture', 'bernoulli')
_FLOW_MODELS = ('glow', 'fewshot_glow')
PERMUTATIONS = ('invconv', 'lu_invconv', 'shuffle', 'reverse')
COUPLINGS = ('affine', 'additive')
# What the coupling networks compute in (tfp_flows.Glow's `network_dtype`): bfloat16 is mixed
# precision for CPUs with bf16 units (AMX, AVX512-BF16) and recent GPUs; float16 for GPUs.
NETWORK_DTYPES = ('float32', 'bfloat16', 'float16')
OPTIMIZERS = ('adamax', 'adam')
# Autoregressive models sample exactly, with no temperature to scale.
_AUTOREGRESSIVE_MODELS = ('pixelcnn', 'attention_pixelcnn')

# Each family's `model` section with its defaults, beside `name`. Every key is required, so the
# config.json a run writes records every architecture value it used.
_FLOW_KEYS = {
    'num_levels': 2,
    'steps_per_level': 8,
    'hidden_width': 64,
    'permutation': 'invconv',
    'coupling': 'affine',
    'learn_top': False,
}
_PIXEL_CNN_KEYS = {
    'output': 'categorical',
    'num_layers': 12,
    'hidden_width': 64,
    'num_mixtures': 10,
}
_MODEL_KEYS = {
    'glow': {
        **_FLOW_KEYS,
        'class_conditional': False,
        'weight_y': 0.0,
        'n_bits_x': 8,
        'network_dtype': 'float32',
    },
    # As tfglow.models.fewshot.build_fewshot_model reads them; it checks the values of the string
    # options, which it owns.
    'fewshot_glow': {
        **_FLOW_KEYS,
        'context': 'spatial',
        'context_channels': 16,
        'encoder_width': 32,
        'pooling': 'attention',
        'num_heads': 4,
        'n_bits_x': 8,
    },
    'pixelcnn': {**_PIXEL_CNN_KEYS, 'class_conditional': False, 'n_bits_x': 8},
    'attention_pixelcnn': {
        **_PIXEL_CNN_KEYS,
        'num_heads': 4,
        'key_width': 16,
        'value_width': 16,
        'encoder_width': 32,
        'encoder_layers': 2,
        'support_pool': 1,
        'n_bits_x': 8,
    },
}
# Allowed values of the model keys, by kind: choices, integer ranges (min, max or None).
_MODEL_CHOICES = {
    'permutation': PERMUTATIONS,
    'coupling': COUPLINGS,
    'output': PIXEL_CNN_OUTPUTS,
    'network_dtype': NETWORK_DTYPES,
}
_MODEL_INT_RANGES = {
    'num_levels': (1, None),
    'steps_per_level': (1, None),
    'hidden_width': (1, None),
    'context_channels': (1, None),
    'encoder_width': (1, None),
    'num_heads': (1, None),
    'num_layers': (1, None),
    'num_mixtures': (1, None),
    'key_width': (1, None),
    'value_width': (1, None),
    'encoder_layers': (1, None),
    'support_pool': (1, None),
    'n_bits_x': (1, 8),
}
# The `episodes` section of episodic models: support sizes K drawn uniformly in k_min..k_max per
# training batch, a fixed K for evaluation, and optional class subsets (labels; () = all).
_EPISODES_KEYS = {
    'k_min': 1,
    'k_max': 5,
    'eval_support_size': 5,
    'train_classes': (),
    'eval_classes': (),
}
# Flows score discrete data through dequantisation noise; evaluation averages this many draws.
_FLOW_EPISODES_KEYS = {'eval_noise_samples': 4}

CONFIG_FILENAME = 'config.json'

# openai/glow's train.py counts an "epoch" as --n_train = 50,000 images for every data set, and
# advances its image counter by --n_batch_train = 64 images per GPU per iteration even where the
# image-size scaling makes the real per-GPU batch smaller. Its warmup, Adamax beta2 / Polyak decay
# and evaluation interval are therefore functions of the GPU count alone.
_OPENAI_EPOCH_IMAGES = 50_000
_OPENAI_NOMINAL_BATCH = 64
_OPENAI_ANCHOR_SIZE = 32
_OPENAI_INIT_IMAGES = 256
_OPENAI_WARMUP_EPOCHS = 10
_OPENAI_EVAL_EPOCHS = 50
# Its per-GPU test batch: the per-GPU train batch rounded down to a divisor of 50.
_OPENAI_TEST_BATCHES = (50, 25, 10, 5, 2, 1)

# Smoke runs: large enough to exercise every code path (two levels, a split, a few steps, an eval
# and a checkpoint), small enough for a test on two shared CPU cores.
_SMOKE_MAX_IMAGE_SIZE = 32
# Model sizes of a smoke run, applied to the keys a family has.
_SMOKE_MODEL_SIZES = {
    'num_levels': 2,
    'steps_per_level': 2,
    'hidden_width': 16,
    'num_layers': 2,
    'context_channels': 4,
    'encoder_width': 8,
    'key_width': 4,
    'value_width': 4,
    'encoder_layers': 1,
}


def base_config(model: str = 'glow') -> ml_collections.ConfigDict:
    """The complete schema of a model family with its default values; every config starts here.

    Args:
      model: the family, one of `MODEL_NAMES`; it decides the keys of the `model` section and
        whether there is an `episodes` section (`EPISODIC_MODELS`). Default value: 'glow'.

    Raises:
      ValueError: for an unknown model name.
    """
    if model not in MODEL_NAMES:
        raise ValueError(
            f'unknown model {model!r}{_did_you_mean(model, MODEL_NAMES)}; '
            f'allowed: {", ".join(MODEL_NAMES)}'
        )
    config = ml_collections.ConfigDict()
    config.seed = 0
    config.strategy = 'default'

    config.data = ml_collections.ConfigDict()
    config.data.source = 'idx'
    config.data.name = 'fashion_mnist'
    config.data.path = ''
    config.data.image_size = 0
    config.data.train_split = 'train'
    config.data.eval_split = 'test'
    config.data.shuffle_buffer = 10_000

    config.model = ml_collections.ConfigDict({'name': model, **_MODEL_KEYS[model]})
    if model in EPISODIC_MODELS:
        flow_keys = _FLOW_EPISODES_KEYS if model in _FLOW_MODELS else {}
        config.episodes = ml_collections.ConfigDict({**_EPISODES_KEYS, **flow_keys})

    config.batch_size = 64
    config.eval_batch_size = 256
    config.num_train_steps = 1000
    config.optimizer = 'adamax'
    config.learning_rate = 1e-3
    config.beta1 = 0.9
    config.beta2 = 0.999
    config.warmup_steps = 100
    config.ema_decay = 0.999
    config.grad_clip_norm = 0.0
    config.max_consecutive_bad_steps = 10
    config.n_batch_init = 256
    config.log_every_steps = 50
    config.checkpoint_every_steps = 1000
    config.eval_every_steps = 5000
    config.num_eval_examples = 0
    is_flow = model in _FLOW_MODELS
    config.sample_temperatures = (0.0, 0.5, 0.7, 1.0) if is_flow else (1.0,)
    config.num_samples = 16
    config.keep_checkpoints = 3
    return config


def apply_openai_schedule(
    config: ml_collections.ConfigDict, *, num_gpus: int, image_size: int, epochs: int
) -> None:
    """Sets batch sizes and schedule as openai/glow's train.py derives them for `num_gpus` GPUs.

    Per-GPU batch `64 * 32**2 // image_size**2` (64 at 32 px, 16 at 64 px, 1 at 256 px), so
    `config.batch_size` (a global batch) is `num_gpus` times that; data-dependent init on
    `256 * 32**2 // image_size**2` images (one rank's worth; openai/glow broadcast rank 0's init).
    With `I = ceil(50000 / (64 * num_gpus))` iterations per openai "epoch": warmup over `10 * 50000
    / (64 * num_gpus)` steps, `beta2 = ema_decay = 1 - 1 / I` (its Polyak average used beta2), a
    full evaluation every `50 * I` steps and a budget of `epochs * I` steps (openai/glow itself ran
    until stopped, so `epochs` is each config's own choice).

    Args:
      config: modified in place.
      num_gpus: GPUs in the openai/glow run being reproduced (8 for the quantitative results).
      image_size: image side that openai/glow scaled its batches by.
      epochs: training budget in openai/glow's nominal 50,000-image epochs.
    """
    per_gpu_batch = _OPENAI_NOMINAL_BATCH * _OPENAI_ANCHOR_SIZE**2 // image_size**2
    if per_gpu_batch < 1:
        raise ValueError(f'image_size {image_size} leaves no images per GPU in openai/glow scaling')
    nominal_global_batch = _OPENAI_NOMINAL_BATCH * num_gpus
    iterations_per_epoch = math.ceil(_OPENAI_EPOCH_IMAGES / nominal_global_batch)
    config.batch_size = num_gpus * per_gpu_batch
    config.eval_batch_size = num_gpus * max(b for b in _OPENAI_TEST_BATCHES if b <= per_gpu_batch)
    config.n_batch_init = _OPENAI_INIT_IMAGES * _OPENAI_ANCHOR_SIZE**2 // image_size**2
    config.warmup_steps = math.ceil(
        _OPENAI_WARMUP_EPOCHS * _OPENAI_EPOCH_IMAGES / nominal_global_batch
    )
    config.beta2 = 1.0 - 1.0 / iterations_per_epoch
    config.ema_decay = config.beta2
    config.eval_every_steps = _OPENAI_EVAL_EPOCHS * iterations_per_epoch
    config.num_train_steps = epochs * iterations_per_epoch


def apply_smoke(config: ml_collections.ConfigDict, *, image_size: int | None = None) -> None:
    """Shrinks `config` in place to a seconds-long run that still exercises every code path.

    Keeps the experiment's data, model family, permutation, coupling, output, conditioning, bit
    depth and episode sizes, so a smoke run tests the same features as the full one; only sizes,
    steps and intervals shrink.

    Args:
      config: modified in place.
      image_size: image side to use; default: the config's, capped at 32.
    """
    config.strategy = 'default'
    if image_size is not None:
        config.data.image_size = image_size
    elif config.data.image_size > _SMOKE_MAX_IMAGE_SIZE:
        config.data.image_size = _SMOKE_MAX_IMAGE_SIZE
    config.data.shuffle_buffer = 64
    for key, size in _SMOKE_MODEL_SIZES.items():
        if key in config.model:
            config.model[key] = size
    config.batch_size = 8
    config.eval_batch_size = 32
    config.n_batch_init = 16
    config.num_train_steps = 4
    config.warmup_steps = 2
    config.beta2 = 0.999
    config.ema_decay = 0.9
    config.log_every_steps = 1
    config.checkpoint_every_steps = 2
    config.eval_every_steps = 2
    config.num_eval_examples = 64
    config.num_samples = 4
    config.keep_checkpoints = 2


def parse_variants(arg: str | None, allowed: Iterable[str]) -> frozenset[str]:
    """Parses a config argument such as `'reverse_additive,smoke'` into a set of variant names.

    Args:
      arg: comma-separated variant names, as given after `:` in `--config=path.py:arg`; None or
        '' selects the default.
      allowed: the variant names the config file defines (its `VARIANTS`).

    Returns:
      The variant names.

    Raises:
      ValueError: for a name not in `allowed`.
    """
    allowed = tuple(allowed)
    names = frozenset(name.strip() for name in (arg or '').split(',') if name.strip())
    unknown = sorted(names - set(allowed))
    if unknown:
        raise ValueError(
            f'unknown config variant {unknown[0]!r}{_did_you_mean(unknown[0], allowed)}; '
            f'variants of this config: {", ".join(allowed)} (combine with commas)'
        )
    return names


def pick_variant(variants: Iterable[str], choices: Iterable[str], default: str) -> str:
    """Returns the one variant of `variants` among mutually exclusive `choices`, else `default`.

    Raises:
      ValueError: when `variants` names more than one of `choices`.
    """
    chosen = sorted(set(variants) & set(choices))
    if len(chosen) > 1:
        raise ValueError(f'config variants {", ".join(chosen)} exclude each other; pick one')
    return chosen[0] if chosen else default


def model_image_shape(
    config: ml_collections.ConfigDict, native_shape: Sequence[int | None]
) -> tuple[int, int, int]:
    """The `[H, W, C]` the model sees: `image_size` square if set, else the data's native shape.

    Args:
      config: a full config.
      native_shape: `(H, W, C)` as the data source stores it; H and W may be None when images
        vary in size (then `config.data.image_size` must be set).

    Raises:
      ValueError: when the shape is unknown (varying native size and `image_size` 0).
    """
    height, width, channels = native_shape
    size = config.data.image_size
    if size:
        return (size, size, channels)
    if height is None or width is None:
        raise ValueError(
            f'config.data.image_size is 0 (native size) but {config.data.name!r} images vary '
            'in size; set config.data.image_size'
        )
    return (height, width, channels)


def validate_config(
    config: ml_collections.ConfigDict, image_shape: Sequence[int] | None = None
) -> None:
    """Checks every key and value of `config` against the schema of `base_config(model name)`.

    Args:
      config: the config to check.
      image_shape: optional `(H, W, C)` of the model's input (e.g. from `data.get_info`), to
        check that the multi-scale architecture fits images of native size.

    Raises:
      ValueError: naming the first bad key, with the allowed values or range (and, for an
        unknown key, the closest known one).
    """
    model = config.get('model') if _is_section(config) else None
    model_name = model.get('name', 'glow') if _is_section(model) else 'glow'
    # The name picks the schema, so it is checked first.
    if model_name not in MODEL_NAMES:
        _check_choice(config, 'model.name', MODEL_NAMES)
    schema = base_config(model_name)
    _check_keys(config, schema, 'config', _leaf_paths(schema, 'config'))
    _check_int(config, 'seed')
    _check_choice(config, 'strategy', STRATEGIES)

    _check_choice(config, 'data.source', SOURCES)
    _check_str(config, 'data.name')
    _check_str(config, 'data.path')
    _check_int(config, 'data.image_size', minimum=0)
    _check_str(config, 'data.train_split', nonempty=True)
    _check_str(config, 'data.eval_split', nonempty=True)
    _check_int(config, 'data.shuffle_buffer', minimum=1)
    if config.data.source == 'tfds' and not config.data.name:
        raise ValueError(
            "config.data.name must name a tensorflow-datasets builder for source 'tfds'"
        )
    if config.data.source in ('folder', 'tfrecord') and not config.data.path:
        raise ValueError(
            f'config.data.path must be set for source {config.data.source!r} '
            "(only 'idx' and 'omniglot_npz' find their data automatically)"
        )

    _check_model(config, schema.model)
    if model_name in _FLOW_MODELS:
        _check_image_size(config, image_shape)
    if model_name in EPISODIC_MODELS:
        _check_episodes(config)

    _check_int(config, 'batch_size', minimum=1)
    _check_int(config, 'eval_batch_size', minimum=1)
    _check_int(config, 'num_train_steps', minimum=1)
    _check_choice(config, 'optimizer', OPTIMIZERS)
    _check_float(config, 'learning_rate', minimum=0.0, exclusive_minimum=True)
    for key in ('beta1', 'beta2', 'ema_decay'):
        _check_float(config, key, minimum=0.0, maximum=1.0, exclusive_maximum=True)
    _check_int(config, 'warmup_steps', minimum=0)
    _check_float(config, 'grad_clip_norm', minimum=0.0)
    _check_int(config, 'max_consecutive_bad_steps', minimum=1)
    _check_int(config, 'n_batch_init', minimum=1)
    for key in ('log_every_steps', 'checkpoint_every_steps', 'eval_every_steps'):
        _check_int(config, key, minimum=1)
    _check_int(config, 'num_eval_examples', minimum=0)
    _check_temperatures(config)
    if model_name in _AUTOREGRESSIVE_MODELS and tuple(config.sample_temperatures) != (1.0,):
        raise ValueError(
            f'config.sample_temperatures must be (1.0,) for model {model_name!r}: an '
            f'autoregressive model samples exactly, with no temperature; got '
            f'{config.sample_temperatures!r}'
        )
    _check_int(config, 'num_samples', minimum=1)
    _check_int(config, 'keep_checkpoints', minimum=1)


def load_config_module(path: str) -> ModuleType:
    """Imports a config file by path (relative paths: from the cwd, then from the repo root).

    Raises:
      FileNotFoundError: when the file does not exist (listing the configs that do).
      ValueError: when the file defines no `get_config`.
    """
    resolved = _resolve_config_path(path)
    name = 'tfglow_config_' + os.path.splitext(os.path.basename(resolved))[0]
    spec = importlib.util.spec_from_file_location(name, resolved)
    if spec is None or spec.loader is None:
        raise ValueError(f'cannot import config file {resolved!r}: not a Python source file')
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    if not callable(getattr(module, 'get_config', None)):
        raise ValueError(f'config file {resolved!r} defines no get_config(arg=None) function')
    return module


def load_config(spec: str, *, validate: bool = True) -> ml_collections.ConfigDict:
    """Loads `'path/to/config.py[:variant,...]'` as `--config=` would, and validates it.

    Args:
      spec: config file path, optionally followed by `:` and the variant argument.
      validate: run `validate_config` on the result.

    Returns:
      The config.
    """
    path, _, arg = spec.partition(':')
    config = load_config_module(path).get_config(arg or None)
    if validate:
        validate_config(config)
    return config


def write_config(config: ml_collections.ConfigDict, workdir: str) -> str:
    """Writes the resolved `config` as `workdir/config.json` so the run can be reproduced.

    Args:
      config: the config the run uses, overrides included.
      workdir: run directory (local or any filesystem `tf.io.gfile` supports, e.g. `gs://`);
        created if missing.

    Returns:
      The path written.
    """
    # Imported here so that loading configs stays TensorFlow-free; gfile lets workdirs live on
    # remote filesystems (gs:// for TPU runs).
    import tensorflow as tf

    tf.io.gfile.makedirs(workdir)
    path = os.path.join(workdir, CONFIG_FILENAME)
    with tf.io.gfile.GFile(path, 'w') as f:
        f.write(config.to_json(indent=2, sort_keys=True) + '\n')
    return path


def read_config(path: str) -> ml_collections.ConfigDict:
    """Reads a config written by `write_config`; `path` is its file or the run's workdir.

    Raises:
      FileNotFoundError: when there is no config file at `path`.
    """
    import tensorflow as tf  # See write_config.

    if tf.io.gfile.isdir(path):
        path = os.path.join(path, CONFIG_FILENAME)
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(
            f'no run config at {path!r} (write_config writes {CONFIG_FILENAME})'
        )
    with tf.io.gfile.GFile(path) as f:
        values = json.load(f)
    # JSON has no tuples; the schema's sequences (sample_temperatures) are tuples.
    return ml_collections.ConfigDict(_lists_to_tuples(values))


def _lists_to_tuples(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists_to_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


def _resolve_config_path(path: str) -> str:
    repo_root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    candidates = [path] if os.path.isabs(path) else [path, os.path.join(repo_root, path)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    configs_dir = os.path.join(repo_root, 'configs')
    known = sorted(f for f in os.listdir(configs_dir) if f.endswith('.py'))
    raise FileNotFoundError(
        f'config file {path!r} not found; configs in {configs_dir}: {", ".join(known)}'
    )


def _did_you_mean(name: str, known: Iterable[str]) -> str:
    matches = difflib.get_close_matches(name, list(known), n=1, cutoff=0.6)
    return f" (did you mean '{matches[0]}'?)" if matches else ''


def _leaf_paths(schema: ml_collections.ConfigDict, prefix: str) -> list[str]:
    paths = []
    for key, value in schema.items():
        path = f'{prefix}.{key}'
        is_section = isinstance(value, ml_collections.ConfigDict)
        paths.extend(_leaf_paths(value, path) if is_section else [path])
    return paths


def _is_section(value: Any) -> bool:
    return isinstance(value, Mapping | ml_collections.ConfigDict)


def _check_keys(
    config: Any, schema: ml_collections.ConfigDict, prefix: str, all_paths: list[str]
) -> None:
    """Unknown keys (with the closest known key), missing keys and misplaced sections."""
    if not _is_section(config):
        raise ValueError(f'{prefix} must be a ConfigDict section, got {config!r}')
    for key in config.keys():
        if key in schema:
            continue
        # A key of another model family (`num_levels` in a PixelCNN config) is no typo.
        suggestion = _family_hint(prefix, key) or _did_you_mean(key, schema.keys())
        if not suggestion:
            # A known key in the wrong section (`config.hidden_width`) or a typo of one.
            elsewhere = [p for p in all_paths if p.rsplit('.', 1)[1] == key]
            elsewhere = elsewhere or difflib.get_close_matches(
                f'{prefix}.{key}', all_paths, n=1, cutoff=0.8
            )
            suggestion = f" (did you mean '{elsewhere[0]}'?)" if elsewhere else ''
        raise ValueError(f'unknown config key {prefix}.{key}{suggestion}')
    for key, default in schema.items():
        if key not in config:
            raise ValueError(
                f'config key {prefix}.{key} is missing; every config must define the whole '
                'schema (start from tfglow.config_lib.base_config(model))'
            )
        if isinstance(default, ml_collections.ConfigDict):
            _check_keys(config[key], default, f'{prefix}.{key}', all_paths)


def _family_hint(prefix: str, key: str) -> str:
    """For a key that belongs to other model families: which ones."""
    if prefix == 'config.model':
        families = [name for name in MODEL_NAMES if key in _MODEL_KEYS[name]]
    elif prefix == 'config' and key == 'episodes':
        families = list(EPISODIC_MODELS)
    else:
        return ''
    if not families:
        return ''
    names = ', '.join(repr(name) for name in families)
    return f'; it belongs to model {names} (start from config_lib.base_config(<model>))'


def _get(config: ml_collections.ConfigDict, key: str) -> Any:
    value = config
    for part in key.split('.'):
        value = value[part]
    return value


def _check_choice(config: ml_collections.ConfigDict, key: str, allowed: Sequence[str]) -> None:
    value = _get(config, key)
    if value not in allowed:
        hint = _did_you_mean(value, allowed) if isinstance(value, str) else ''
        raise ValueError(
            f'config.{key} must be one of {", ".join(repr(a) for a in allowed)}; '
            f'got {value!r}{hint}'
        )


def _check_str(config: ml_collections.ConfigDict, key: str, *, nonempty: bool = False) -> None:
    value = _get(config, key)
    if not isinstance(value, str) or (nonempty and not value):
        kind = 'a non-empty string' if nonempty else 'a string'
        raise ValueError(f'config.{key} must be {kind}, got {value!r}')


def _check_bool(config: ml_collections.ConfigDict, key: str) -> None:
    value = _get(config, key)
    if not isinstance(value, bool):
        raise ValueError(f'config.{key} must be True or False, got {value!r}')


def _check_int(
    config: ml_collections.ConfigDict,
    key: str,
    *,
    minimum: int | None = None,
    maximum: int | None = None,
) -> None:
    value = _get(config, key)
    # bool is an int subclass, but `num_levels=True` is a mistake, not 1.
    valid = isinstance(value, int) and not isinstance(value, bool)
    valid = valid and (minimum is None or value >= minimum)
    valid = valid and (maximum is None or value <= maximum)
    if not valid:
        raise ValueError(f'config.{key} must be {_describe_range(minimum, maximum)}, got {value!r}')


def _describe_range(minimum: int | None, maximum: int | None) -> str:
    if minimum is not None and maximum is not None:
        return f'an integer in {minimum}..{maximum}'
    if minimum is not None:
        return f'an integer >= {minimum}'
    return 'an integer'


def _check_float(
    config: ml_collections.ConfigDict,
    key: str,
    *,
    minimum: float,
    maximum: float | None = None,
    exclusive_minimum: bool = False,
    exclusive_maximum: bool = False,
) -> None:
    value = _get(config, key)
    valid = isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value)
    if valid:
        valid = value > minimum if exclusive_minimum else value >= minimum
        if maximum is not None:
            valid = valid and (value < maximum if exclusive_maximum else value <= maximum)
    if not valid:
        low = f'{"(" if exclusive_minimum else "["}{minimum}'
        high = f'{maximum}{")" if exclusive_maximum else "]"}' if maximum is not None else 'inf)'
        raise ValueError(f'config.{key} must be a number in {low}, {high}, got {value!r}')


def _check_temperatures(config: ml_collections.ConfigDict) -> None:
    values = config.sample_temperatures
    valid = isinstance(values, list | tuple) and len(values) > 0
    valid = valid and all(
        isinstance(t, int | float) and not isinstance(t, bool) and math.isfinite(t) and t >= 0
        for t in values
    )
    if not valid:
        raise ValueError(
            'config.sample_temperatures must be a non-empty sequence of numbers >= 0 '
            f'(0 samples the prior mode), got {values!r}'
        )


def _check_model(config: ml_collections.ConfigDict, schema: ml_collections.ConfigDict) -> None:
    """Each key of the `model` section by its kind, then the rules that tie keys together."""
    for key, default in schema.items():
        path = f'model.{key}'
        if key == 'name':
            continue  # Checked first: it chose the schema.
        if key in _MODEL_CHOICES:
            _check_choice(config, path, _MODEL_CHOICES[key])
        elif key in _MODEL_INT_RANGES:
            minimum, maximum = _MODEL_INT_RANGES[key]
            _check_int(config, path, minimum=minimum, maximum=maximum)
        elif isinstance(default, bool):
            _check_bool(config, path)
        elif isinstance(default, float):
            _check_float(config, path, minimum=0.0)
        else:
            _check_str(config, path, nonempty=True)
    model = config.model
    if model.get('weight_y', 0.0) > 0 and not model.class_conditional:
        raise ValueError(
            f'config.model.weight_y is {model.weight_y} but config.model.class_conditional '
            'is False; the class-prediction loss needs a class-conditional model (or set 0.0)'
        )
    if 'output' in schema:
        # The PixelCNN's outputs fix the number of pixel levels: 2 for Bernoulli, else 256.
        n_bits = 1 if model.output == 'bernoulli' else 8
        if model.n_bits_x != n_bits:
            raise ValueError(
                f'config.model.n_bits_x must be {n_bits} for output {model.output!r} '
                f'(it models {2**n_bits} levels per sub-pixel); got {model.n_bits_x}'
            )


def _check_episodes(config: ml_collections.ConfigDict) -> None:
    """Support sizes, class subsets and (flows) noise samples of the `episodes` section."""
    for key in ('k_min', 'k_max', 'eval_support_size'):
        _check_int(config, f'episodes.{key}', minimum=1)
    episodes = config.episodes
    if episodes.k_max < episodes.k_min:
        raise ValueError(
            f'config.episodes.k_max ({episodes.k_max}) must be >= config.episodes.k_min '
            f'({episodes.k_min})'
        )
    for key in ('train_classes', 'eval_classes'):
        labels = episodes[key]
        valid = isinstance(labels, list | tuple) and all(
            isinstance(label, int) and not isinstance(label, bool) and label >= 0
            for label in labels
        )
        if not valid or len(set(labels)) != len(labels):
            raise ValueError(
                f'config.episodes.{key} must be a sequence of distinct class labels >= 0 '
                f'(() for every class of the split), got {labels!r}'
            )
    if 'eval_noise_samples' in episodes:
        _check_int(config, 'episodes.eval_noise_samples', minimum=1)


def _check_image_size(config: ml_collections.ConfigDict, image_shape: Sequence[int] | None) -> None:
    """Each level squeezes 2x2, so both image sides must be divisible by 2**num_levels."""
    factor = 2**config.model.num_levels
    size = config.data.image_size
    if size and size % factor:
        raise ValueError(
            f'config.data.image_size {size} does not fit config.model.num_levels '
            f'{config.model.num_levels}: each level halves the image side, so it must be a '
            f'multiple of 2**num_levels = {factor}'
        )
    if image_shape is not None:
        height, width = image_shape[0], image_shape[1]
        if height % factor or width % factor:
            raise ValueError(
                f'images of shape {tuple(image_shape)} do not fit config.model.num_levels '
                f'{config.model.num_levels}: height and width must be multiples of '
                f'2**num_levels = {factor}; lower num_levels or set config.data.image_size'
            )
