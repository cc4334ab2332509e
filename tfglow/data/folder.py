"""A folder of image files (PNG, JPEG, BMP, GIF), decoded with tf.io.

Layouts, with `<root>` = `config.data.path`:
  `<root>/<class>/**/<image>`          one subfolder per class (labels: sorted subfolder names);
  `<root>/<image>`                     no subfolders: one unnamed class (label 0);
  `<root>/<split>/<class>/**/<image>`  split subfolders, used when `<root>/<train_split>` exists
                                       (every subfolder of `<root>` is then a split; classes are the
                                       union over splits, so labels agree between splits).
Without split subfolders the whole folder is the split `config.data.train_split`. Hidden files and
folders and files with other extensions are skipped. A class folder whose class has no image in any
split is an error naming it (it would otherwise vanish from the labels without a word).

Every file's header is read first (image_header), so `get_info` is quick and a corrupt or truncated
file, images of mixed sizes (when `image_size` is 0) or a mix of grey and colour images are
reported by file name before training starts. Splits whose decoded images fit
`common.IN_MEMORY_BYTES` are decoded once into memory; larger ones stream from disk with a full
per-epoch shuffle of the file list.
"""

import functools
import os
from collections.abc import Callable, Iterable
from typing import NamedTuple

import ml_collections
import numpy as np
import tensorflow as tf

from tfglow.data import common, image_header

IMAGE_EXTENSIONS = ('.png', '.jpg', '.jpeg', '.bmp', '.gif')
_DECODE_BATCH = 256
# (path, label) -> {'image', 'label'}
_Decode = Callable[[tf.Tensor, tf.Tensor], dict[str, tf.Tensor]]


class _Split(NamedTuple):
    directory: str
    files: list[str]
    labels: list[int]
    headers: list[image_header.Header]


class _Folder(NamedTuple):
    splits: dict[str, _Split]
    class_names: list[str]
    image_shape: tuple[int, int, int]  # as yielded, after image_size


def get_info(config: ml_collections.ConfigDict, split: str) -> common.DataInfo:
    """DataInfo of the image folder `config.data.path`."""
    del split  # every split shares the folder's classes
    folder = _scan(config)
    return common.DataInfo(
        image_shape=folder.image_shape,
        num_classes=max(len(folder.class_names), 1),
        split_sizes={name: len(s.files) for name, s in folder.splits.items()},
        class_names=folder.class_names or None,
    )


def load(config: ml_collections.ConfigDict, split: str) -> common.Arrays | common.Stream:
    """One split: in memory when small enough, else a stream decoding files on the fly."""
    folder = _scan(config)
    common.check_split(split, list(folder.splits), f'image folder {config.path!r}')
    files = folder.splits[split].files
    if not files:
        raise ValueError(
            f'split {split!r} has no images ({", ".join(IMAGE_EXTENSIONS)}) in '
            f'{folder.splits[split].directory}'
        )
    shape = folder.image_shape
    # Skip resizing when every image already has the requested size.
    same_size = all(h[:2] == shape[:2] for h in folder.splits[split].headers)
    image_size = 0 if same_size else config.image_size

    def decode(path: tf.Tensor, label: tf.Tensor) -> dict[str, tf.Tensor]:
        image = tf.io.decode_image(
            tf.io.read_file(path), channels=shape[2], expand_animations=False
        )
        return {'image': common.fit_image(image, image_size, shape), 'label': label}

    labels = np.asarray(folder.splits[split].labels, np.int32)
    if common.fits_in_memory(len(files), shape):
        return _decode_all(files, labels, decode)

    def build(shard: common.Shard, training: bool, seed: int) -> tf.data.Dataset:
        shard_labels = labels[shard.index :: shard.count]
        shard_files = tf.constant(files[shard.index :: shard.count])
        # Permuting file indices (cheap) makes every epoch a full permutation of the split.
        indices = common.permuted_indices(len(shard_labels), training, seed)
        shard_labels = tf.constant(shard_labels)
        return indices.map(
            lambda i: decode(shard_files[i], shard_labels[i]), num_parallel_calls=tf.data.AUTOTUNE
        )

    return common.Stream(build)


def _scan(config: ml_collections.ConfigDict) -> _Folder:
    root = config.path
    if not root:
        raise ValueError('config.data.path must name the image folder (source "folder")')
    if not os.path.isdir(root):
        raise FileNotFoundError(f'image folder {root!r} (config.data.path) does not exist')
    if os.path.isdir(os.path.join(root, config.train_split)):
        split_dirs = {name: os.path.join(root, name) for name in _subfolders(root)}
    else:
        split_dirs = {config.train_split: root}
    listings = {name: _list_images(directory) for name, directory in split_dirs.items()}
    class_names = sorted({c for listing in listings.values() for _, c in listing if c})
    all_files = [path for listing in listings.values() for path, _ in listing]
    if not all_files:
        raise ValueError(f'no images ({", ".join(IMAGE_EXTENSIONS)}) found under {root}')
    _check_no_empty_classes(split_dirs.values(), class_names)
    headers = {path: _header(path) for path in all_files}
    _check_uniform(all_files, headers, config.image_size)
    first = headers[all_files[0]]
    label_of = {name: index for index, name in enumerate(class_names)}
    splits = {}
    for name, listing in listings.items():
        if class_names and any(c is None for _, c in listing):
            raise ValueError(
                f'{split_dirs[name]} holds images outside class subfolders while other splits '
                'have classes; give every split the same class subfolders'
            )
        files = [path for path, _ in listing]
        splits[name] = _Split(
            split_dirs[name],
            files,
            [label_of.get(c, 0) for _, c in listing],
            [headers[path] for path in files],
        )
    return _Folder(
        splits,
        class_names,
        common.output_shape(first.height, first.width, first.channels, config.image_size),
    )


def _check_no_empty_classes(directories: Iterable[str], class_names: list[str]) -> None:
    """Raises ValueError naming the class folders of a class that has no image in any split.

    Labels are the classes that hold images, so such a folder would silently be one class less
    than the user sees on disk.
    """
    empty = [
        os.path.join(directory, name)
        for directory in directories
        for name in _subfolders(directory)
        if name not in class_names
    ]
    if empty:
        raise ValueError(
            f'class folder(s) without images ({", ".join(IMAGE_EXTENSIONS)}): '
            f'{", ".join(empty)}; every class folder is a label, so add images to them or '
            'remove them'
        )


def _subfolders(directory: str) -> list[str]:
    return sorted(
        e.name for e in os.scandir(directory) if e.is_dir() and not e.name.startswith('.')
    )


def _is_image(name: str) -> bool:
    return not name.startswith('.') and name.lower().endswith(IMAGE_EXTENSIONS)


def _list_images(directory: str) -> list[tuple[str, str | None]]:
    """(path, class name or None) of every image under `directory`, in sorted order."""
    images = sorted(e.path for e in os.scandir(directory) if e.is_file() and _is_image(e.name))
    classes = _subfolders(directory)
    if images and classes:
        raise ValueError(
            f'{directory} holds both images (e.g. {os.path.basename(images[0])}) and subfolders '
            f'(e.g. {classes[0]}/): put every image in a class subfolder, or use no subfolders '
            'for a single class'
        )
    if images:
        return [(path, None) for path in images]
    listing = []
    for class_name in classes:
        for dirpath, dirnames, filenames in os.walk(os.path.join(directory, class_name)):
            dirnames[:] = sorted(d for d in dirnames if not d.startswith('.'))
            listing += [(os.path.join(dirpath, f), class_name) for f in sorted(filenames)]
    return [(path, c) for path, c in listing if _is_image(os.path.basename(path))]


def _header(path: str) -> image_header.Header:
    stat = os.stat(path)
    return _cached_header(path, stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=2**18)
def _cached_header(path: str, size: int, mtime_ns: int) -> image_header.Header:
    """Headers are re-read only for new or changed files (size and mtime key the cache)."""
    del size, mtime_ns
    return image_header.read(path)


def _check_uniform(
    files: list[str], headers: dict[str, image_header.Header], image_size: int
) -> None:
    """Raises ValueError naming two files that a model with one input shape cannot both take."""
    by_channels = {}
    for path in files:
        by_channels.setdefault(headers[path].channels, path)
    if len(by_channels) > 1:
        grey, colour = by_channels[1], by_channels[3]
        raise ValueError(
            f'the folder mixes greyscale and colour images: {grey} has 1 channel, {colour} has 3; '
            'convert them all to one mode'
        )
    if image_size:
        return
    first = headers[files[0]]
    for path in files:
        if headers[path][:2] != first[:2]:
            raise ValueError(
                f'images have different sizes: {files[0]} is {first.height}x{first.width}, {path} '
                f'is {headers[path].height}x{headers[path].width}; set config.data.image_size to '
                'resize and centre-crop them all to one size'
            )


def _decode_all(files: list[str], labels: np.ndarray, decode: _Decode) -> common.Arrays:
    """Decodes every file into one array, naming the file when one fails to decode."""
    dataset = tf.data.Dataset.from_tensor_slices((files, labels))
    dataset = dataset.map(decode, num_parallel_calls=tf.data.AUTOTUNE).batch(_DECODE_BATCH)
    images = []
    iterator = iter(dataset)
    for start in range(0, len(files), _DECODE_BATCH):
        try:
            images.append(next(iterator)['image'].numpy())
        except tf.errors.OpError:
            _raise_for_bad_file(files[start : start + _DECODE_BATCH], decode)
            raise
    return common.Arrays(np.concatenate(images), labels)


def _raise_for_bad_file(files: list[str], decode: _Decode) -> None:
    # A batch failed: decode its files one by one to find (and name) the culprit.
    for path in files:
        try:
            decode(tf.constant(path), tf.constant(0))
        except tf.errors.OpError as e:
            raise ValueError(f'cannot decode image file {path}: {e.message}') from None
