"""`validate_config`: every key and value of a config checked against its family's schema.

A typo or an impossible value fails in milliseconds with a message naming the key (and, for an
unknown key, the closest known one), instead of deep inside TensorFlow.
"""

from __future__ import annotations

import difflib
import math
from collections.abc import Mapping, Sequence
from typing import Any

import ml_collections

from tfglow.config_lib.schema import (
    COUPLINGS,
    DEQUANTIZATIONS,
    EPISODIC_MODELS,
    FLOW_MODELS,
    MODEL_KEYS,
    MODEL_NAMES,
    NETWORK_DTYPES,
    OPTIMIZERS,
    PERMUTATIONS,
    PIXEL_CNN_OUTPUTS,
    SOURCES,
    STRATEGIES,
    base_config,
    did_you_mean,
)
from tfglow.validation import integer, is_integer

__all__ = ['validate_config']

# Autoregressive models temper each pixel's conditional, p**(1/T): T = 0 has no meaning there.
_AUTOREGRESSIVE_MODELS = ('pixelcnn', 'attention_pixelcnn', 'meta_pixelcnn')
# Allowed values of the model keys, by kind: choices, integer ranges (min, max or None).
_MODEL_CHOICES = {
    'permutation': PERMUTATIONS,
    'coupling': COUPLINGS,
    'output': PIXEL_CNN_OUTPUTS,
    'network_dtype': NETWORK_DTYPES,
    'dequantization': DEQUANTIZATIONS,
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
    'map_width': (0, None),
    'map_layers': (1, None),
    'condition_width': (1, None),
    'condition_grid': (0, None),
    'inner_steps': (0, None),
    'inner_loss_width': (1, None),
    'inner_loss_layers': (1, None),
    'n_bits_x': (1, 8),
    'dequantizer_couplings': (0, None),
    'support_map_width': (0, None),
    'dequantizer_width': (1, None),
}
# Float model keys that must be > 0 (the others must be >= 0).
_MODEL_POSITIVE_FLOATS = ('inner_step_size',)


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
    if model_name in FLOW_MODELS:
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
    if model_name in _AUTOREGRESSIVE_MODELS and min(config.sample_temperatures) <= 0:
        raise ValueError(
            f'config.sample_temperatures must be > 0 for model {model_name!r}: it tempers each '
            f"pixel's conditional as p**(1/T); got {config.sample_temperatures!r}"
        )
    _check_int(config, 'num_samples', minimum=1)
    _check_int(config, 'sample_upscale', minimum=0)
    _check_int(config, 'keep_checkpoints', minimum=1)


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
        suggestion = _family_hint(prefix, key) or did_you_mean(key, schema.keys())
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
        families = [name for name in MODEL_NAMES if key in MODEL_KEYS[name]]
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
        hint = did_you_mean(value, allowed) if isinstance(value, str) else ''
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
    # Plain ints only: the config is written to config.json, which cannot hold NumPy integers.
    integer(_get(config, key), f'config.{key}', minimum, maximum, allow_numpy=False)


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
            _check_float(config, path, minimum=0.0, exclusive_minimum=key in _MODEL_POSITIVE_FLOATS)
        elif isinstance(default, tuple):
            _check_layer_indices(config, path)
        else:
            _check_str(config, path, nonempty=True)
    model = config.model
    if model.get('weight_y', 0.0) > 0 and not model.class_conditional:
        raise ValueError(
            f'config.model.weight_y is {model.weight_y} but config.model.class_conditional '
            'is False; the class-prediction loss needs a class-conditional model (or set 0.0)'
        )
    if 'attention' in schema and not model.attention and not model.map_width:
        raise ValueError(
            'config.model.attention is False and config.model.map_width is 0: the model would '
            'not read the support set; attend, or give it a support map (map_width > 0)'
        )
    if 'output' in schema:
        # The PixelCNN's outputs fix the number of pixel levels: 2 for Bernoulli, else 256.
        n_bits = 1 if model.output == 'bernoulli' else 8
        if model.n_bits_x != n_bits:
            raise ValueError(
                f'config.model.n_bits_x must be {n_bits} for output {model.output!r} '
                f'(it models {2**n_bits} levels per sub-pixel); got {model.n_bits_x}'
            )


def _check_layer_indices(config: ml_collections.ConfigDict, key: str) -> None:
    """A sequence of distinct layer indices >= 1; the model checks the upper bound."""
    values = _get(config, key)
    valid = isinstance(values, list | tuple) and all(
        is_integer(value, minimum=1, allow_numpy=False) for value in values
    )
    if not valid or len(set(values)) != len(values):
        raise ValueError(
            f'config.{key} must be a sequence of distinct layer indices >= 1 (() for the '
            f'default), got {values!r}'
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
    _check_bool(config, 'episodes.rotate_train_classes')
    for key in ('train_classes', 'eval_classes'):
        labels = episodes[key]
        valid = isinstance(labels, list | tuple) and all(
            is_integer(label, minimum=0, allow_numpy=False) for label in labels
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
