"""Config files in and out: loading configs/*.py by path, writing and reading config.json and
the history of the changes a resumed run accepted."""

from __future__ import annotations

import importlib.util
import json
import os
from types import ModuleType
from typing import Any

import ml_collections

from tfglow.config_lib.validation import validate_config

__all__ = [
    'CONFIG_FILENAME',
    'CONFIG_HISTORY_FILENAME',
    'append_config_history',
    'load_config',
    'load_config_module',
    'read_config',
    'write_config',
]

CONFIG_FILENAME = 'config.json'
CONFIG_HISTORY_FILENAME = 'config_history.json'
# tfglow/config_lib/io.py -> the repository root, which holds configs/.
_REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


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

    workdir = path
    if path.endswith('.json') and not tf.io.gfile.isdir(path):
        workdir = os.path.dirname(path)
    else:
        path = os.path.join(path, CONFIG_FILENAME)
    if not tf.io.gfile.exists(path):
        missing = 'the directory does not exist'
        if tf.io.gfile.isdir(workdir):
            missing = f'it has no {os.path.basename(path)}'
        # trained.py words its "no run" errors the same way.
        raise FileNotFoundError(
            f'no training run in {workdir}: {missing}; train with '
            f'tfglow-train --config=<config file> --workdir={workdir} first'
        )
    with tf.io.gfile.GFile(path) as f:
        values = json.load(f)
    # JSON has no tuples; the schema's sequences (sample_temperatures) are tuples.
    return ml_collections.ConfigDict(_lists_to_tuples(values))


def append_config_history(workdir: str, step: int, differences: dict[str, tuple[Any, Any]]) -> str:
    """Appends a resumed run's accepted config changes to `workdir/config_history.json`.

    `config.json` always holds the config the run now trains with; this file keeps what it was
    before, as a JSON list of `{"step": s, "changes": {"key": [old, new], ...}}`, oldest first.

    Args:
      workdir: the run's directory.
      step: the step at which the changed config takes over.
      differences: `config_lib.config_differences(old, new)`.

    Returns:
      The path written.
    """
    import tensorflow as tf  # See write_config.

    path = os.path.join(workdir, CONFIG_HISTORY_FILENAME)
    history = []
    if tf.io.gfile.exists(path):
        with tf.io.gfile.GFile(path) as f:
            history = json.load(f)
    history.append(
        {'step': step, 'changes': {key: list(pair) for key, pair in differences.items()}}
    )
    with tf.io.gfile.GFile(path, 'w') as f:
        f.write(json.dumps(history, indent=2) + '\n')
    return path


def _lists_to_tuples(value: Any) -> Any:
    if isinstance(value, dict):
        return {key: _lists_to_tuples(item) for key, item in value.items()}
    if isinstance(value, list):
        return tuple(_lists_to_tuples(item) for item in value)
    return value


def _resolve_config_path(path: str) -> str:
    candidates = [path] if os.path.isabs(path) else [path, os.path.join(_REPO_ROOT, path)]
    for candidate in candidates:
        if os.path.isfile(candidate):
            return candidate
    configs_dir = os.path.join(_REPO_ROOT, 'configs')
    known = sorted(f for f in os.listdir(configs_dir) if f.endswith('.py'))
    raise FileNotFoundError(
        f'config file {path!r} not found; configs in {configs_dir}: {", ".join(known)}'
    )
