"""Helpers for the files in `configs/`: openai/glow's schedule, smoke runs, variant arguments."""

from __future__ import annotations

import math
from collections.abc import Iterable

import ml_collections

from tfglow.config_lib.schema import did_you_mean

__all__ = ['apply_openai_schedule', 'apply_smoke', 'parse_variants', 'pick_variant']

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
    'condition_width': 4,
    'inner_loss_width': 8,
    'inner_loss_layers': 1,
    'dequantizer_couplings': 1,
    'dequantizer_width': 8,
}


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
            f'unknown config variant {unknown[0]!r}{did_you_mean(unknown[0], allowed)}; '
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
