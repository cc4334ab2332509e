"""Omniglot as the npz files in ../shared/data/omniglot (28x28, 20 drawings per class).

`train_small.npz` (split 'train': 964 "images_background" classes from 30 alphabets) and
`test_small.npz` (split 'test': 659 "images_evaluation" classes from 20 other alphabets). Each key
is `images_background/<Alphabet>/characterNN`, each value a `(20, 784)` uint8 array of row-major
28x28 drawings with 0 = stroke and 255 = background.

The loader inverts the images so that **ink is 255 and background 0** (the MNIST convention, which
the Glow configs and sample grids assume). Classes are sorted by name; labels index the classes of
their own split (train and test classes are disjoint), class names are `Alphabet/characterNN`, and
`DataInfo.class_groups` holds each class's alphabet.
"""

import functools
import os
import pathlib
import zipfile

import ml_collections
import numpy as np

from tfglow.data import common

SPLITS = ('train', 'test')
_FILES = {'train': 'train_small.npz', 'test': 'test_small.npz'}
_KEY_PREFIX = {'train': 'images_background', 'test': 'images_evaluation'}
_SIDE = 28
# Repository root (tfglow/data/omniglot.py -> three levels up); shared/ sits beside it.
_REPO_ROOT = pathlib.Path(__file__).resolve().parents[2]


def search_dirs() -> list[str]:
    """Where `config.data.path = ''` looks for the npz files, in order.

    `../shared/data/omniglot` relative to the repository root, then to the working directory.
    """
    relative = os.path.join('..', 'shared', 'data', 'omniglot')
    return [
        os.path.normpath(os.path.join(_REPO_ROOT, relative)),
        os.path.normpath(os.path.join(os.getcwd(), relative)),
    ]


def get_info(config: ml_collections.ConfigDict, split: str) -> common.DataInfo:
    """DataInfo whose classes are those of `split` ('train' or 'test')."""
    common.check_split(split, SPLITS, 'omniglot_npz')
    directory = _directory(config)
    _, labels, class_names = _load(directory, split)
    return common.DataInfo(
        image_shape=common.output_shape(_SIDE, _SIDE, 1, config.image_size),
        num_classes=len(class_names),
        split_sizes={s: len(_load(directory, s)[1]) for s in SPLITS},
        class_names=list(class_names),
        class_groups=[name.split('/')[0] for name in class_names],
    )


def load(config: ml_collections.ConfigDict, split: str) -> common.Arrays:
    """Images `[N, 28, 28, 1]` (ink = 255) and labels of one split."""
    common.check_split(split, SPLITS, 'omniglot_npz')
    images, labels, _ = _load(_directory(config), split)
    return common.Arrays(images, labels)


def _directory(config: ml_collections.ConfigDict) -> str:
    if config.path:
        if not os.path.isdir(config.path):
            raise FileNotFoundError(
                f'Omniglot folder {config.path!r} (config.data.path) does not exist'
            )
        return config.path
    for directory in search_dirs():
        if os.path.isfile(os.path.join(directory, _FILES['train'])):
            return directory
    raise FileNotFoundError(
        f'Omniglot npz files ({", ".join(_FILES.values())}) not found in any of '
        f'{", ".join(search_dirs())}; set config.data.path to their folder'
    )


def _load(directory: str, split: str) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    path = os.path.join(directory, _FILES[split])
    if not os.path.isfile(path):
        raise FileNotFoundError(f'Omniglot {split!r} file {path} does not exist')
    stat = os.stat(path)
    return _read(path, split, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read(
    path: str, split: str, size: int, mtime_ns: int
) -> tuple[np.ndarray, np.ndarray, tuple[str, ...]]:
    """Images, labels and class names of one npz file; size and mtime only key the cache."""
    del size, mtime_ns
    try:
        with np.load(path) as npz:
            arrays = {key: npz[key] for key in npz.files}
    except (OSError, ValueError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f'cannot read Omniglot file {path}: {e}') from None
    prefix = _KEY_PREFIX[split] + '/'
    images, labels, class_names = [], [], []
    for key in sorted(arrays):
        parts = key.split('/')
        if not key.startswith(prefix) or len(parts) != 3:
            raise ValueError(f'{path}: key {key!r} is not {prefix}<Alphabet>/<character>')
        drawings = arrays[key]
        if drawings.dtype != np.uint8 or drawings.ndim != 2 or drawings.shape[1] != _SIDE**2:
            raise ValueError(
                f'{path}: {key!r} is {drawings.dtype} {drawings.shape}, expected uint8 (n, 784)'
            )
        images.append(drawings)
        labels.append(np.full(len(drawings), len(class_names), np.int32))
        class_names.append('/'.join(parts[1:]))
    if not class_names:
        raise ValueError(f'Omniglot file {path} holds no classes')
    # Stored with 0 = stroke; invert so ink is 255 like MNIST.
    images = 255 - np.concatenate(images).reshape(-1, _SIDE, _SIDE, 1)
    labels = np.concatenate(labels)
    images.flags.writeable = False
    labels.flags.writeable = False
    return images, labels, tuple(class_names)
