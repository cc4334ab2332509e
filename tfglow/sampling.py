"""PNG grids from a trained Glow: samples at several temperatures and interpolation strips.

The grids are drawn through the export's serving functions (`sample` and `interpolate` of
`tfglow.serving.glow.GlowServingModule`, or the same signatures of a loaded SavedModel), so they
show exactly what a served model returns.

```python
paths = write_sample_pngs('workdirs/fashion_mnist_glow', '/tmp/samples', temperatures=(0.7,))
# ['/tmp/samples/samples_T0.7.png', '/tmp/samples/interpolation.png']
```
"""

import math
import os
from collections.abc import Callable, Sequence

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import data, images
from tfglow.serving.glow import GlowServingModule
from tfglow.trained import load_trained_glow

__all__ = [
    'MAX_CLASS_ROWS',
    'interpolation_grid',
    'pick_pairs',
    'temperature_grids',
    'write_sample_pngs',
]

# Class-conditional grids show at most this many classes, one per row (as tfglow.train does).
MAX_CLASS_ROWS = 10


def temperature_grids(
    sample: Callable[..., dict],
    temperatures: Sequence[float],
    num_samples: int,
    *,
    seed: int = 0,
    num_classes: int = 0,
) -> dict[float, np.ndarray]:
    """One uint8 grid `[height, width, C]` per temperature at which the samples do not overflow.

    Every temperature uses the same seed, so the grids show the same latents scaled differently.
    Unconditional grids are as square as `num_samples` allows; class-conditional ones hold one row
    per class (the first `MAX_CLASS_ROWS` classes) with `ceil(num_samples / rows)` samples each.

    Args:
      sample: `(num, temperature, seed[, label]) -> {'images': uint8 [num, H, W, C]}`, the
        export's `serving_default`.
      temperatures: the temperatures, each >= 0.
      num_samples: images per grid (at least).
      seed: the sampling seed.
      num_classes: classes of a class-conditional model, 0 for an unconditional one.
    """
    if num_samples < 1:
        raise ValueError(f'num_samples must be >= 1; got {num_samples}')
    kwargs = {}
    if num_classes:
        num_rows = min(num_classes, MAX_CLASS_ROWS)
        num_cols = math.ceil(num_samples / num_rows)
        kwargs['label'] = tf.repeat(tf.range(num_rows, dtype=tf.int32), num_cols)
    else:
        num_rows = max(1, math.isqrt(num_samples))
        num_cols = math.ceil(num_samples / num_rows)
    grids = {}
    for temperature in temperatures:
        try:
            pixels = sample(
                num=tf.constant(num_rows * num_cols, tf.int32),
                temperature=tf.constant(temperature, tf.float32),
                seed=tf.constant(seed, tf.int64),
                **kwargs,
            )['images']
        except tf.errors.InvalidArgumentError as error:
            if 'overflow' not in error.message:
                raise
            # The export refuses to return an overflowed sample as an image; so does the grid,
            # and the other temperatures still get theirs.
            logging.warning('No sample grid at T=%s: %s', temperature, error.message.strip())
            continue
        grids[float(temperature)] = images.make_grid(pixels.numpy(), num_rows)
    return grids


def pick_pairs(
    pool: np.ndarray, labels: np.ndarray, num_pairs: int, same_class: bool = False
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """`num_pairs` pairs of images from `pool`, in order: `(images_a, images_b, labels_a)`.

    Without `same_class`, pair `i` is `(pool[i], pool[num_pairs + i])`. With it, each pair is the
    next two unused images of one class (a class-conditional model decodes a path with one label).

    Raises:
      ValueError: when `pool` has too few images (of a common class) for `num_pairs` pairs.
    """
    if num_pairs < 1:
        raise ValueError(f'num_pairs must be >= 1; got {num_pairs}')
    if not same_class:
        if len(pool) < 2 * num_pairs:
            raise ValueError(f'{num_pairs} pairs need {2 * num_pairs} images; got {len(pool)}')
        first, second = np.arange(num_pairs), np.arange(num_pairs, 2 * num_pairs)
    else:
        waiting, first, second = {}, [], []
        for index, label in enumerate(labels):
            if label in waiting:
                first.append(waiting.pop(label))
                second.append(index)
                if len(first) == num_pairs:
                    break
            else:
                waiting[label] = index
        if len(first) < num_pairs:
            raise ValueError(
                f'found only {len(first)} same-class pairs in {len(pool)} images; '
                f'{num_pairs} requested'
            )
    return pool[first], pool[second], labels[first]


def interpolation_grid(
    interpolate: Callable[..., dict],
    images_a: np.ndarray,
    images_b: np.ndarray,
    num_steps: int,
    labels: np.ndarray | None = None,
) -> np.ndarray:
    """A uint8 grid with one row per pair: `num_steps` images from `images_a[i]` to `images_b[i]`.

    Args:
      interpolate: `(images_a, images_b, num_steps[, label]) -> {'images': [B, S, H, W, C]}`, the
        export's `interpolate`.
      images_a, images_b: uint8 `[B, H, W, C]`.
      num_steps: images per row, >= 2 (the first and last are the pair itself).
      labels: int `[B]` for a class-conditional model, else None.
    """
    kwargs = {} if labels is None else {'label': tf.constant(labels, tf.int32)}
    path = interpolate(
        images_a=tf.constant(images_a, tf.uint8),
        images_b=tf.constant(images_b, tf.uint8),
        num_steps=tf.constant(num_steps, tf.int32),
        **kwargs,
    )['images'].numpy()
    return images.make_grid(path.reshape(-1, *path.shape[2:]), num_rows=len(images_a))


def write_sample_pngs(
    workdir: str,
    output_dir: str,
    checkpoint: str | int | None = None,
    *,
    temperatures: Sequence[float] = (0.0, 0.5, 0.7, 1.0),
    num_samples: int = 16,
    seed: int = 0,
    num_pairs: int = 4,
    num_steps: int = 8,
    split: str | None = None,
    upscale: int = 0,
) -> list[str]:
    """Writes `samples_T<t>.png` per temperature and `interpolation.png` for a workdir's model.

    Args:
      workdir: a `tfglow-train` workdir; its EMA weights are used.
      output_dir: where the PNGs go (created if missing).
      checkpoint: which checkpoint (see `tfglow.trained.resolve_checkpoint`).
      temperatures: one sample grid per temperature.
      num_samples: images per sample grid.
      seed: sampling seed.
      num_pairs: interpolation rows, each between two images of `split` (0: no interpolation).
      num_steps: images per interpolation row.
      split: data split of the interpolated images; default the config's eval split.
      upscale: nearest-neighbour upscaling of every PNG (`tfglow.images.upscale_factor`; 0: cells
        of at least 64 pixels, 1: none).

    Returns:
      The paths written.
    """
    trained = load_trained_glow(workdir, checkpoint)
    factor = images.upscale_factor(upscale, trained.image_shape[0])
    module = GlowServingModule(trained)
    grids = temperature_grids(
        module.sample, temperatures, num_samples, seed=seed, num_classes=trained.num_classes
    )
    paths = []
    for temperature, grid in grids.items():
        paths.append(os.path.join(output_dir, f'samples_T{temperature}.png'))
        images.write_png(paths[-1], images.upscale(grid, factor))
        if temperature == 0:
            logging.info('%s: %s.', paths[-1], images.ZERO_TEMPERATURE_MEANING)
    if num_pairs:
        config = trained.config
        # Enough images to find same-class pairs of a conditional model among 10 classes.
        pool_size = 2 * num_pairs * (MAX_CLASS_ROWS if trained.num_classes else 1)
        dataset = data.make_dataset(
            config.data, split or config.data.eval_split, pool_size, training=False
        )
        batch = next(dataset.as_numpy_iterator())
        images_a, images_b, labels = pick_pairs(
            batch['image'], batch['label'], num_pairs, same_class=bool(trained.num_classes)
        )
        grid = interpolation_grid(
            module.interpolate,
            images_a,
            images_b,
            num_steps,
            labels if trained.num_classes else None,
        )
        paths.append(os.path.join(output_dir, 'interpolation.png'))
        images.write_png(paths[-1], images.upscale(grid, factor))
    return paths
