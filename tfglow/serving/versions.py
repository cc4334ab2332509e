"""Version directories of a SavedModel export, as TF Serving watches them, and their metadata.

An export goes to `export_dir/<version>/` (TF Serving's `--model_base_path` is `export_dir`; it
loads only integer-named directories), with `<version>/assets.extra/tfglow_metadata.json`
describing the model and every signature. `write_version` writes a serving module (a `tf.Module`
with `signatures()` and `metadata()`) there atomically.
"""

import json
import os
import time
import uuid
from collections.abc import Iterable

import tensorflow as tf
from absl import logging

from tfglow import validation
from tfglow.progress import Progress

__all__ = [
    'METADATA_PATH',
    'check_version',
    'describe_signature',
    'next_version',
    'trace_signatures',
    'write_version',
]

METADATA_PATH = os.path.join('assets.extra', 'tfglow_metadata.json')


def next_version(export_dir: str) -> int:
    """1 + the largest integer-named version directory in `export_dir` (1 when there is none)."""
    if not tf.io.gfile.isdir(export_dir):
        return 1
    versions = [
        int(name.rstrip('/'))
        for name in tf.io.gfile.listdir(export_dir)
        if name.rstrip('/').isdigit()
    ]
    return max(versions, default=0) + 1


def check_version(version: int | None) -> None:
    """Raises ValueError unless `version` is None (the next free one) or an integer >= 1.

    Call it before the costly work of building the module to export.
    """
    if version is not None:
        validation.integer(version, 'version', 1)


def describe_signature(function: tf.types.experimental.ConcreteFunction) -> dict:
    """`{'inputs': {name: {dtype, shape}}, 'outputs': {...}}` of a signature (-1: any size)."""

    def spec(value) -> dict:
        return {
            'dtype': value.dtype.name,
            'shape': [-1 if d is None else d for d in value.shape.as_list()],
        }

    args, kwargs = function.structured_input_signature
    # Unconditional models leave `label` at its default, None.
    specs = [s for s in (*args, *kwargs.values()) if isinstance(s, tf.TensorSpec)]
    inputs = {s.name: spec(s) for s in specs}
    outputs = {name: spec(t) for name, t in function.structured_outputs.items()}
    return {'inputs': inputs, 'outputs': outputs}


def trace_signatures(
    functions: Iterable[tuple[str, tf.types.experimental.GenericFunction]],
) -> dict[str, tf.types.experimental.ConcreteFunction]:
    """`{name: concrete function}` of `(name, tf.function)` pairs, logging each first trace.

    Tracing is most of an export's time besides the save (a Glow's six signatures: about 40 s on
    2 CPU cores), so each untraced function gets a line before and a progress line after.
    """
    functions = list(functions)
    untraced = [name for name, f in functions if not f.experimental_get_tracing_count()]
    progress = (
        Progress('tracing', len(untraced), 'signatures', every_seconds=0) if untraced else None
    )
    concrete = {}
    for name, function in functions:
        if name in untraced:
            logging.info('Tracing %s (%d/%d)...', name, untraced.index(name) + 1, len(untraced))
        concrete[name] = function.get_concrete_function()
        if name in untraced:
            progress.advance(1)
    return concrete


def write_version(module: tf.Module, export_dir: str, version: int | None) -> str:
    """Saves `module` (with `signatures()` and `metadata()`) as `export_dir/<version>/`.

    Written to a hidden temporary directory and renamed into place, so a server watching
    `export_dir` never loads a half-written version.

    Args:
      module: the serving module.
      export_dir: the model's base directory.
      version: the version number (checked with `check_version`); None for `next_version`.

    Returns:
      The version directory written.

    Raises:
      FileExistsError: when `version` already exists.
    """
    if version is None:
        version = next_version(export_dir)
    target = os.path.join(export_dir, str(version))
    if tf.io.gfile.exists(target):
        raise FileExistsError(f'{target} already exists; pick another version or leave it unset')
    metadata = module.metadata()
    # TF Serving only loads directories named by integers, so it ignores this one.
    staging = os.path.join(export_dir, f'.tmp-{version}-{uuid.uuid4().hex}')
    try:
        # One call with no progress of its own: the longest phase of an export (a Glow: about
        # 75 s on 2 CPU cores), so the log says it started and how long it took.
        logging.info('Writing the SavedModel to %s...', staging)
        start = time.monotonic()
        tf.saved_model.save(module, staging, signatures=module.signatures())
        logging.info('SavedModel written in %.0f s.', time.monotonic() - start)
        metadata_path = os.path.join(staging, METADATA_PATH)
        tf.io.gfile.makedirs(os.path.dirname(metadata_path))
        with tf.io.gfile.GFile(metadata_path, 'w') as f:
            json.dump(metadata, f, indent=2)
        tf.io.gfile.rename(staging, target)
    finally:
        if tf.io.gfile.exists(staging):
            tf.io.gfile.rmtree(staging)
    return target
