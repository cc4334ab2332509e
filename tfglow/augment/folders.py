"""Class folders of images in and out: `<dir>/<class>/<image>.png`, one subfolder per class.

`read_class_folders` is strict, since it reads what a user hands the augmentation tool: every
visible file of a class folder must be an image (PNG, JPEG, BMP, GIF) of the model's height and
width; folders without images, files outside class folders and undecodable files are errors that
name the path. Colour images given to a grey model (and grey to colour) are converted.
"""

import os
import re
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tfglow import images as image_files

__all__ = [
    'IMAGE_EXTENSIONS',
    'contact_sheet_path',
    'read_class_folders',
    'write_class_folders',
    'write_contact_sheet',
]

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif')

# Generated images per contact-sheet row.
SHEET_COLUMNS = 10


def _visible(names: list[str]) -> list[str]:
    return sorted(name for name in names if not name.startswith('.'))


def read_class_folders(
    directory: str, image_shape: tuple[int, int, int], invert: bool = False
) -> dict[str, np.ndarray]:
    """`{class (subfolder name): uint8 [n, H, W, C]}` of `directory`, classes sorted by name.

    Args:
      directory: holds one subfolder per class.
      image_shape: `(H, W, C)` every image must have (C is converted to).
      invert: return `255 - pixels` (e.g. black-on-white drawings for a model of white ink).

    Raises:
      FileNotFoundError: when `directory` does not exist.
      ValueError: naming the path, for no class folder, an empty class, a file that is not an
        image, an undecodable image or one of another size.
    """
    if not tf.io.gfile.isdir(directory):
        raise FileNotFoundError(f'input folder {directory!r} does not exist.')
    height, width, channels = image_shape
    classes = {}
    entries = _visible(tf.io.gfile.listdir(directory))
    for entry in entries:
        path = os.path.join(directory, entry.rstrip('/'))
        if not tf.io.gfile.isdir(path):
            raise ValueError(
                f"{path} is not in a class folder: put each class's images in its own "
                f'subfolder of {directory} (<input_dir>/<class>/<image>.png).'
            )
        images = []
        for name in _visible(tf.io.gfile.listdir(path)):
            file_path = os.path.join(path, name.rstrip('/'))
            if tf.io.gfile.isdir(file_path):
                raise ValueError(f'{file_path} is a folder inside a class folder; expected images.')
            if not name.lower().endswith(IMAGE_EXTENSIONS):
                raise ValueError(
                    f'{file_path} is not an image file (expected {", ".join(IMAGE_EXTENSIONS)}).'
                )
            try:
                image = tf.io.decode_image(
                    tf.io.read_file(file_path), channels=channels, expand_animations=False
                ).numpy()
            except (tf.errors.InvalidArgumentError, tf.errors.UnknownError) as e:
                raise ValueError(f'cannot decode image {file_path}: {e.message}') from None
            if image.shape[:2] != (height, width):
                raise ValueError(
                    f'{file_path} is {image.shape[1]}x{image.shape[0]} pixels; the model takes '
                    f'{width}x{height}.'
                )
            images.append(image)
        if not images:
            raise ValueError(f'class folder {path} holds no images.')
        stacked = np.stack(images).astype(np.uint8)
        classes[entry.rstrip('/')] = 255 - stacked if invert else stacked
    if not classes:
        raise ValueError(
            f'{directory} has no class folders: expected <input_dir>/<class>/<image>.png.'
        )
    return classes


def _safe(name: str) -> str:
    return re.sub(r'[^A-Za-z0-9_.-]+', '_', name) or 'class'


def write_class_folders(
    directory: str, class_images: Mapping[str, np.ndarray], prefix: str = 'aug', invert=False
) -> dict[str, list[str]]:
    """Writes `<directory>/<class>/<prefix>_NNNN.png` per image; returns the paths per class."""
    paths = {}
    for name, array in class_images.items():
        folder = os.path.join(directory, _safe(name))
        paths[name] = []
        for index, image in enumerate(np.asarray(array, np.uint8)):
            path = os.path.join(folder, f'{prefix}_{index:04d}.png')
            image_files.write_png(path, 255 - image if invert else image)
            paths[name].append(path)
    return paths


def contact_sheet_path(directory: str, name: str) -> str:
    """`<directory>/<class>.png`, the class's name made safe as in `write_class_folders`."""
    return os.path.join(directory, f'{_safe(name)}.png')


def write_contact_sheet(
    path: str, name: str, support: np.ndarray, generated: np.ndarray, how: str, invert=False
) -> None:
    """One labelled PNG of a class: its support images in the first row, then the generated ones.

    Args:
      path: the PNG (see `contact_sheet_path`).
      name: the class, in the title.
      support: uint8 `[K, H, W, C]` as the model saw them.
      generated: uint8 `[n, H, W, C]`.
      how: how the images were generated, in the title (e.g. "method 'pooled', strength 1").
      invert: show `255 - pixels`, as `write_class_folders` writes them.
    """
    support, generated = np.asarray(support, np.uint8), np.asarray(generated, np.uint8)
    if invert:
        support, generated = 255 - support, 255 - generated
    rows = [support]
    labels = [f'support (K={len(support)})']
    for start in range(0, len(generated), SHEET_COLUMNS):
        rows.append(generated[start : start + SHEET_COLUMNS])
        end = min(start + SHEET_COLUMNS, len(generated))
        labels.append(f'generated {start + 1}-{end}')
    image_files.write_labelled_grid(path, rows, labels, f'{name}: {len(generated)} images, {how}')
