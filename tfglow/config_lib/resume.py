"""Resuming a run with a config: which changes a checkpoint can continue under, and which not.

A run's `config.json` describes its checkpoints. Resuming under a config that differs from it in
the model, the data or the optimisation would either fail to restore or, worse, silently continue
a different experiment than the one recorded. `check_resume_config` allows without asking only
the changes that do not alter what is computed: more (or fewer, not below the checkpoint) training
steps, the cadence of logs, evaluations and checkpoints, and how sample grids are drawn. A key
that a run written before the key existed lacks counts as unchanged while the new config holds the
schema's default, which is what the code assumes for such runs.
"""

from __future__ import annotations

from typing import Any

import ml_collections

from tfglow.config_lib.schema import base_config

__all__ = [
    'CADENCE_KEYS',
    'DISPLAY_KEYS',
    'check_resume_config',
    'config_differences',
    'format_differences',
]

# How often a run logs, evaluates and checkpoints, and how many checkpoints it keeps: what the run
# computes is the same whatever their values.
CADENCE_KEYS = ('log_every_steps', 'eval_every_steps', 'checkpoint_every_steps', 'keep_checkpoints')
# How sample grids are drawn: nothing that a checkpoint holds depends on them.
DISPLAY_KEYS = ('sample_upscale',)
_ABSENT = '<absent>'


def config_differences(
    old: ml_collections.ConfigDict, new: ml_collections.ConfigDict
) -> dict[str, tuple[Any, Any]]:
    """`{'dotted.key': (old value, new value)}` for every key whose value differs, sorted.

    A key that only one side has appears with the value `'<absent>'` on the other.
    """
    old_values, new_values = _flatten(old.to_dict()), _flatten(new.to_dict())
    return {
        key: (old_values.get(key, _ABSENT), new_values.get(key, _ABSENT))
        for key in sorted(old_values.keys() | new_values.keys())
        if old_values.get(key, _ABSENT) != new_values.get(key, _ABSENT)
    }


def format_differences(differences: dict[str, tuple[Any, Any]]) -> str:
    """`'batch_size 64 -> 32, model.coupling 'affine' -> 'additive''`."""
    return ', '.join(f'{key} {old!r} -> {new!r}' for key, (old, new) in differences.items())


def check_resume_config(
    saved: ml_collections.ConfigDict,
    config: ml_collections.ConfigDict,
    step: int,
    *,
    allow_changes: bool = False,
) -> dict[str, tuple[Any, Any]]:
    """Checks that `config` may continue a run saved with config `saved`, now at `step`.

    Args:
      saved: the config the run's checkpoints were trained with (its `config.json`).
      config: the config the run is to resume with.
      step: the step of the checkpoint it resumes from.
      allow_changes: accept any difference besides `num_train_steps` below `step`.

    Returns:
      The differences (see `config_differences`), all of them accepted; record them.

    Raises:
      ValueError: when `config.num_train_steps` is below `step` (a run cannot train backwards),
        or when `config` differs from `saved` in anything but `num_train_steps`,
        `CADENCE_KEYS` and `DISPLAY_KEYS` and `allow_changes` is False; the message names every
        such difference.
    """
    if config.num_train_steps < step:
        raise ValueError(
            f'the run is already at step {step}, past num_train_steps={config.num_train_steps}: '
            f'nothing to train (raise num_train_steps to continue it)'
        )
    defaults = _flatten(base_config(config.model.name).to_dict())
    differences = {
        key: (old, new)
        for key, (old, new) in config_differences(saved, config).items()
        if not (old == _ABSENT and key in defaults and new == defaults[key])
    }
    changed = {
        key: values
        for key, values in differences.items()
        if key != 'num_train_steps' and key not in CADENCE_KEYS + DISPLAY_KEYS
    }
    if changed and not allow_changes:
        raise ValueError(
            f'the config differs from the one the run was trained with (checkpoint at step '
            f'{step}): {format_differences(changed)}; use a new --workdir, or pass '
            '--allow_config_change to resume with these changes'
        )
    return differences


def _flatten(values: dict[str, Any], prefix: str = '') -> dict[str, Any]:
    flat = {}
    for key, value in values.items():
        if isinstance(value, dict):
            flat.update(_flatten(value, f'{prefix}{key}.'))
        else:
            # JSON gives lists where the config holds tuples (sample_temperatures).
            flat[prefix + key] = tuple(value) if isinstance(value, list) else value
    return flat
