"""MNIST-format idx files (MNIST, Fashion-MNIST), read whole into memory.

A folder holds `train-images-idx3-ubyte`, `train-labels-idx1-ubyte` (split 'train') and
`t10k-images-idx3-ubyte`, `t10k-labels-idx1-ubyte` (split 'test'), each optionally gzipped (`.gz`)
and also accepted with a dot before `idx` (`train-images.idx3-ubyte`). With `config.data.path = ''`
and `config.data.name = 'fashion_mnist'` the folder of Debian's `dataset-fashion-mnist` package is
used.
"""

import functools
import gzip
import os
import struct
import zlib

import ml_collections
import numpy as np

from tfglow.data import common

DEFAULT_DIR = '/usr/share/datasets/fashion-mnist'
SPLITS = ('train', 'test')
_FILE_PREFIX = {'train': 'train', 'test': 't10k'}
_CLASS_NAMES = {
    'fashion_mnist': [
        'T-shirt/top',
        'Trouser',
        'Pullover',
        'Dress',
        'Coat',
        'Sandal',
        'Shirt',
        'Sneaker',
        'Bag',
        'Ankle boot',
    ],
    'mnist': [str(digit) for digit in range(10)],
}
_UBYTE = 0x08  # idx type code of unsigned bytes, the only one MNIST-style files use


def get_info(config: ml_collections.ConfigDict, split: str) -> common.DataInfo:
    """DataInfo of the idx files that `config` names (all splits found)."""
    del split  # both splits share their classes
    directory = _directory(config)
    images, labels = _load(directory, 'train')
    split_sizes = {'train': len(labels)}
    if _find_files(directory, 'test'):
        split_sizes['test'] = len(_load(directory, 'test').labels)
    num_classes = int(labels.max()) + 1
    names = _CLASS_NAMES.get(config.name)
    return common.DataInfo(
        image_shape=common.output_shape(*images.shape[1:], config.image_size),
        num_classes=num_classes,
        split_sizes=split_sizes,
        class_names=names if names and len(names) == num_classes else None,
    )


def load(config: ml_collections.ConfigDict, split: str) -> common.Arrays:
    """The images `[N, 28, 28, 1]` and labels of one split."""
    common.check_split(split, SPLITS, 'idx files')
    return _load(_directory(config), split)


def read_idx(path: str, expected_ndim: int) -> np.ndarray:
    """Reads an idx file of unsigned bytes with `expected_ndim` dimensions, checking its size."""
    try:
        opener = gzip.open if path.endswith('.gz') else open
        with opener(path, 'rb') as f:
            data = f.read()
    except (OSError, EOFError, zlib.error) as e:
        # gzip reports a truncated or damaged archive as EOFError / BadGzipFile / zlib.error.
        raise ValueError(f'cannot read idx file {path}: {e}') from None
    magic = bytes([0, 0, _UBYTE, expected_ndim])
    if data[:4] != magic:
        raise ValueError(
            f'{path} is not an idx file of {expected_ndim}-D unsigned bytes: its magic number is '
            f'{data[:4].hex()}, expected {magic.hex()}'
        )
    header_size = 4 + 4 * expected_ndim
    if len(data) < header_size:
        raise ValueError(f'{path} is truncated inside its header')
    shape = struct.unpack(f'>{expected_ndim}I', data[4:header_size])
    expected = header_size + int(np.prod(shape))
    if len(data) != expected:
        raise ValueError(
            f'{path} has {len(data)} bytes but its header (shape {shape}) needs {expected}: '
            f'{"truncated" if len(data) < expected else "trailing data"}'
        )
    return np.frombuffer(data, np.uint8, offset=header_size).reshape(shape)


def _directory(config: ml_collections.ConfigDict) -> str:
    if config.path:
        if not os.path.isdir(config.path):
            raise FileNotFoundError(f'idx folder {config.path!r} (config.data.path) does not exist')
        return config.path
    if config.name != 'fashion_mnist':
        raise ValueError(
            f'config.data.path is empty: only fashion_mnist idx files are found automatically '
            f'(in {DEFAULT_DIR}); set config.data.path to the folder of the {config.name!r} files'
        )
    if not os.path.isdir(DEFAULT_DIR):
        raise FileNotFoundError(
            f'Fashion-MNIST is not in {DEFAULT_DIR}: install it with '
            '`apt-get install -y dataset-fashion-mnist`, or set config.data.path to a folder '
            'holding its idx files'
        )
    return DEFAULT_DIR


def _candidates(directory: str, split: str, kind: str) -> list[str]:
    ndim = 3 if kind == 'images' else 1
    prefix = _FILE_PREFIX[split]
    names = [f'{prefix}-{kind}-idx{ndim}-ubyte', f'{prefix}-{kind}.idx{ndim}-ubyte']
    return [os.path.join(directory, n + ext) for n in names for ext in ('.gz', '')]


def _find_files(directory: str, split: str) -> tuple[str, str] | None:
    """(images, labels) paths of `split`, or None when either is missing."""
    found = []
    for kind in ('images', 'labels'):
        paths = [p for p in _candidates(directory, split, kind) if os.path.isfile(p)]
        if not paths:
            return None
        found.append(paths[0])
    return found[0], found[1]


def _require_files(directory: str, split: str) -> tuple[str, str]:
    files = _find_files(directory, split)
    if files is None:
        expected = _candidates(directory, split, 'images') + _candidates(directory, split, 'labels')
        raise FileNotFoundError(
            f'idx files for split {split!r} not found in {directory}; looked for '
            + ', '.join(os.path.basename(p) for p in expected)
        )
    return files


def _load(directory: str, split: str) -> common.Arrays:
    images_path, labels_path = _require_files(directory, split)
    # The file identity (size, mtime) is part of the cache key, so replaced files are re-read.
    return _read_pair(_file_key(images_path), _file_key(labels_path))


def _file_key(path: str) -> tuple[str, int, int]:
    stat = os.stat(path)
    return (path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4)
def _read_pair(images_key: tuple[str, int, int], labels_key: tuple[str, int, int]) -> common.Arrays:
    images = read_idx(images_key[0], 3)
    labels = read_idx(labels_key[0], 1)
    if len(images) != len(labels):
        raise ValueError(
            f'{images_key[0]} holds {len(images)} images but {labels_key[0]} holds '
            f'{len(labels)} labels'
        )
    if not len(images):
        raise ValueError(f'{images_key[0]} holds no images')
    images = images[..., np.newaxis]
    labels = labels.astype(np.int32)
    # Cached arrays are shared between callers: make accidental in-place edits fail loudly.
    images.flags.writeable = False
    labels.flags.writeable = False
    return common.Arrays(images, labels)
