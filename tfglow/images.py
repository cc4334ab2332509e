"""Image grids and PNG files for samples."""

import math
import os

import numpy as np
import tensorflow as tf

__all__ = ['make_grid', 'write_png']


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
