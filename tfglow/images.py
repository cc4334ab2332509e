"""Image grids and PNG files for samples: plain, upscaled, or labelled."""

import math
import os
from collections.abc import Sequence

import numpy as np
import tensorflow as tf

__all__ = [
    'ZERO_TEMPERATURE_MEANING',
    'make_grid',
    'upscale',
    'upscale_factor',
    'write_labelled_grid',
    'write_png',
]

# Automatic upscaling shows each image at least this many pixels wide.
MIN_CELL_PIXELS = 64

# What a T=0 grid shows: every level's noise is zero, so each latent is its prior's mean, given the
# levels above (the learned top prior, then each split's conditional prior). For Fashion-MNIST
# that is a black image, and rightly: the default model gives the all-black image 0.22 bits/dim,
# far likelier than any test image (best 2.1, median 4.2), since half of all pixels are 0.
ZERO_TEMPERATURE_MEANING = "T=0: the decoded prior mean (mode of each level's prior)"


def make_grid(
    images: np.ndarray, num_rows: int, padding: int = 1, pad_value: int = 0
) -> np.ndarray:
    """Tiles uint8 images `[N, H, W, C]` row by row into one `[rows*(H+p)+p, cols*(W+p)+p, C]`.

    Args:
      images: uint8 array `[N, H, W, C]`; image `i` goes to row `i // cols`, column `i % cols`.
      num_rows: rows in the grid; `cols = ceil(N / num_rows)`, unfilled cells keep `pad_value`.
      padding: pixels between and around the images. Default value: 1.
      pad_value: value of the padding pixels. Default value: 0.

    Returns:
      The grid, uint8 `[height, width, C]`.

    Raises:
      ValueError: if `images` is not a non-empty uint8 `[N, H, W, C]` array or `num_rows` < 1.
    """
    images = np.asarray(images)
    if images.ndim != 4 or images.shape[0] == 0 or images.dtype != np.uint8:
        raise ValueError(
            'make_grid expects non-empty uint8 images [N, H, W, C]; '
            f'got {images.dtype} {images.shape}.'
        )
    if num_rows < 1:
        raise ValueError(f'num_rows must be at least 1; got {num_rows}.')
    n, height, width, channels = images.shape
    num_cols = math.ceil(n / num_rows)
    grid = np.full(
        (num_rows * (height + padding) + padding, num_cols * (width + padding) + padding, channels),
        pad_value,
        dtype=np.uint8,
    )
    for i, image in enumerate(images):
        row, col = divmod(i, num_cols)
        top = padding + row * (height + padding)
        left = padding + col * (width + padding)
        grid[top : top + height, left : left + width] = image
    return grid


def write_png(path: str, image: np.ndarray) -> None:
    """Writes a uint8 `[H, W, C]` image (C = 1, 3 or 4) to `path` as PNG, creating parent dirs."""
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    tf.io.write_file(path, tf.io.encode_png(tf.convert_to_tensor(image, tf.uint8)))


def upscale_factor(factor: int, cell_size: int) -> int:
    """`factor` (>= 1), or for 0 the least one showing `cell_size`-pixel cells >= 64 pixels wide.

    28-pixel cells are too small to see on a screen; nearest-neighbour upscaling keeps every
    pixel a sharp square, so the PNG still shows exactly the model's output.

    Raises:
      ValueError: if `factor` is negative.
    """
    if factor < 0:
        raise ValueError(f'upscale must be >= 0 (0: automatic); got {factor}.')
    return factor or max(1, math.ceil(MIN_CELL_PIXELS / cell_size))


def upscale(image: np.ndarray, factor: int) -> np.ndarray:
    """Nearest-neighbour upscaling of `[H, W, C]` by an integer `factor` >= 1: pixels -> blocks."""
    if factor < 1:
        raise ValueError(f'upscale factor must be >= 1; got {factor}.')
    return np.repeat(np.repeat(np.asarray(image), factor, axis=0), factor, axis=1)


def write_labelled_grid(
    path: str,
    rows: Sequence[np.ndarray],
    row_labels: Sequence[str],
    title: str,
    upscale_by: int = 0,
) -> None:
    """Writes a PNG of image rows, each labelled on its left, under `title` (needs matplotlib).

    Args:
      path: the PNG to write (parent directories are created).
      rows: uint8 `[n_i, H, W, C]` per row; shorter rows leave their last cells empty.
      row_labels: one label per row.
      title: the line above the grid.
      upscale_by: pixel upscaling (`upscale_factor`; 0: cells of at least 64 pixels).
    """
    if len(rows) != len(row_labels) or not rows:
        raise ValueError(f'need one label per row; got {len(rows)} rows, {len(row_labels)} labels.')
    height, width, channels = np.asarray(rows[0]).shape[1:]
    num_cols = max(len(row) for row in rows)
    # Cells past a short row's end take the padding grey, not black (a possible image).
    cells = np.full([len(rows), num_cols, height, width, channels], 64, np.uint8)
    for i, row in enumerate(rows):
        cells[i, : len(row)] = row
    factor = upscale_factor(upscale_by, height)
    grid = make_grid(cells.reshape(-1, height, width, channels), len(rows), pad_value=64)
    grid = upscale(grid, factor)

    import matplotlib  # Imported here: only the labelled PNGs need it.

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    dpi, margin, top = 100, 1.8, 0.5  # Label column and title band, in inches.
    grid_w, grid_h = grid.shape[1] / dpi, grid.shape[0] / dpi
    fig = plt.figure(figsize=(margin + grid_w, top + grid_h), dpi=dpi)
    ax = fig.add_axes(
        [margin / (margin + grid_w), 0, grid_w / (margin + grid_w), grid_h / (top + grid_h)]
    )
    # RGB(A) uint8 is drawn as is; a grey colour map would round some values by one.
    ax.imshow(np.repeat(grid, 3, axis=-1) if channels == 1 else grid, interpolation='nearest')
    ax.set_frame_on(False)  # A frame would be drawn over the grid's edge pixels.
    ax.set_xticks([])
    ax.set_yticks(
        [(1 + i * (height + 1) + height / 2) * factor for i in range(len(rows))], row_labels
    )
    ax.tick_params(length=0)
    fig.suptitle(title, y=1 - 0.1 / (top + grid_h), va='top', fontsize=10)
    directory = os.path.dirname(path)
    if directory:
        tf.io.gfile.makedirs(directory)
    fig.savefig(path, dpi=dpi)
    plt.close(fig)
