"""TFRecord files of tf.train.Example holding encoded images.

Record format (what `write_tfrecords` writes):
  'image' (or 'image/encoded'): bytes, one PNG, JPEG, GIF or BMP image (grey or colour);
  'label' (or 'image/class/label'): int64 class index; optional, every label is 0 without it.
Files are uncompressed; paths may be local or any filesystem tf.io.gfile reads (e.g. gs://).

The files of a split, with `path` = `config.data.path`:
  - `path` contains `{split}`: it is replaced by the split name, then globbed (a folder: its files);
  - `path` is a folder: its `<split>/` subfolder when present, else its files whose name has the
    split as a word (`train.tfrecord`, `cifar10-train.tfrecord-00000-of-00004`);
  - otherwise `path` is a glob, and the matching files whose name has the split as a word are used.
`get_info` reads every record of the train and eval splits once (cached per file) to count them
and to check that images can be read and share one shape, so errors name the file before training.
"""

import functools
import os
import re
from collections.abc import Callable, Sequence
from typing import NamedTuple

import ml_collections
import numpy as np
import tensorflow as tf
from google.protobuf import message

from tfglow import validation
from tfglow.data import common, image_header

IMAGE_KEYS = ('image', 'image/encoded')
LABEL_KEYS = ('label', 'image/class/label')


class _FileSummary(NamedTuple):
    num_records: int
    image_key: str
    label_key: str | None
    shapes: dict[image_header.Header, int]  # each image header seen -> first record holding it
    max_label: int


def write_tfrecords(
    images: np.ndarray, labels: Sequence[int] | None, path: str, *, num_shards: int = 1
) -> list[str]:
    """Writes images (and labels) as TFRecord files of PNG-encoded tf.train.Example records.

    Args:
      images: uint8 `[N, H, W, C]`, C in {1, 3}.
      labels: N integer class indices, or None to write no label feature.
      path: output file; with `num_shards` > 1 the files are `<path>-00000-of-00004` and so on.
        Name it after its split (`out/train.tfrecord`) and set `config.data.path = 'out'`.
      num_shards: number of files; several let workers read disjoint files.

    Returns:
      The paths written.

    #### Examples

    ```python
    write_tfrecords(train_images, train_labels, 'out/train.tfrecord', num_shards=4)
    write_tfrecords(test_images, test_labels, 'out/test.tfrecord')
    ```
    """
    images = np.asarray(images)
    if images.dtype != np.uint8 or images.ndim != 4 or images.shape[-1] not in (1, 3):
        raise ValueError(
            f'images must be uint8 [N, H, W, 1 or 3], got {images.dtype} {images.shape}'
        )
    if labels is not None and len(labels) != len(images):
        raise ValueError(f'{len(images)} images but {len(labels)} labels')
    num_shards = validation.integer(num_shards, 'num_shards', 1)
    paths = (
        [path]
        if num_shards == 1
        else [f'{path}-{i:05d}-of-{num_shards:05d}' for i in range(num_shards)]
    )
    tf.io.gfile.makedirs(os.path.dirname(path) or '.')
    for shard, shard_path in enumerate(paths):
        with tf.io.TFRecordWriter(shard_path) as writer:
            for index in range(shard, len(images), num_shards):
                feature = {'image': _bytes_feature(tf.io.encode_png(images[index]).numpy())}
                if labels is not None:
                    feature['label'] = _int64_feature(int(labels[index]))
                example = tf.train.Example(features=tf.train.Features(feature=feature))
                writer.write(example.SerializeToString())
    return paths


def get_info(config: ml_collections.ConfigDict, split: str) -> common.DataInfo:
    """DataInfo of the TFRecord files `config.data.path` names (train and eval splits)."""
    del split  # every split shares the classes
    summaries, image_shape = _summarise_splits(config, ())
    labelled = [s for files in summaries.values() for s in files if s.label_key]
    return common.DataInfo(
        image_shape=image_shape,
        num_classes=max([s.max_label + 1 for s in labelled], default=1),
        split_sizes={name: sum(s.num_records for s in files) for name, files in summaries.items()},
    )


def load(config: ml_collections.ConfigDict, split: str) -> common.Arrays | common.Stream:
    """One split: in memory when small enough, else a stream reading the files on the fly."""
    summaries, shape = _summarise_splits(config, (split,))
    files = split_files(config.path, split)
    num_records = sum(s.num_records for s in summaries[split])
    if not num_records:
        raise ValueError(f'the TFRecord files of split {split!r} hold no records: {files}')
    first = next(s for s in summaries[split] if s.num_records)  # all non-empty files agree
    needs_resize = any(h[:2] != shape[:2] for s in summaries[split] for h in s.shapes)
    image_size = config.image_size if needs_resize else 0
    features = {first.image_key: tf.io.FixedLenFeature([], tf.string)}
    if first.label_key:
        features[first.label_key] = tf.io.FixedLenFeature([], tf.int64)

    def parse(record: tf.Tensor) -> dict[str, tf.Tensor]:
        example = tf.io.parse_single_example(record, features)
        image = tf.io.decode_image(
            example[first.image_key], channels=shape[2], expand_animations=False
        )
        if first.label_key:
            label = tf.cast(example[first.label_key], tf.int32)
        else:
            label = tf.constant(0, tf.int32)
        return {'image': common.fit_image(image, image_size, shape), 'label': label}

    if common.fits_in_memory(num_records, shape):
        return _decode_all(files, parse)

    def build(shard: common.Shard, training: bool, seed: int) -> tf.data.Dataset:
        # Whole files per worker when there are enough of them, else every count-th record.
        by_file = len(files) >= shard.count
        shard_files = files[shard.index :: shard.count] if by_file else files
        dataset = tf.data.Dataset.from_tensor_slices(shard_files)
        if training:
            dataset = dataset.shuffle(len(shard_files), seed=seed, reshuffle_each_iteration=True)
        dataset = dataset.interleave(
            tf.data.TFRecordDataset,
            cycle_length=min(len(shard_files), 8),
            num_parallel_calls=tf.data.AUTOTUNE,
            deterministic=True,
        )
        if not by_file:
            dataset = dataset.shard(shard.count, shard.index)
        dataset = dataset.map(parse, num_parallel_calls=tf.data.AUTOTUNE)
        return common.shuffle_and_repeat(dataset, training, config.shuffle_buffer, seed)

    return common.Stream(build)


def split_files(path: str, split: str) -> list[str]:
    """The sorted TFRecord files of `split` (see the module docstring for the rules)."""
    if not path:
        raise ValueError('config.data.path must name TFRecord files (source "tfrecord")')
    if not tf.io.gfile.glob(path.replace('{split}', '*')):
        raise FileNotFoundError(f'nothing matches the TFRecord path {path!r} (config.data.path)')
    if '{split}' in path:
        candidates = _glob(path.replace('{split}', split))
    elif tf.io.gfile.isdir(path) and tf.io.gfile.isdir(os.path.join(path, split)):
        candidates = _glob(os.path.join(path, split))
    else:
        word = re.compile(rf'(^|[-_.]){re.escape(split)}([-_.]|$)')
        candidates = [f for f in _glob(path) if word.search(os.path.basename(f))]
    if not candidates:
        raise ValueError(
            f'no TFRecord files for split {split!r} in {path!r}: name the files after their split '
            '(train.tfrecord, name-train.tfrecord-00000-of-00004), put them in a <split>/ '
            'subfolder, or write {split} in config.data.path'
        )
    return candidates


def _glob(pattern: str) -> list[str]:
    """Files matching `pattern`, or in it when it is a folder; hidden files skipped."""
    if tf.io.gfile.isdir(pattern):
        pattern = os.path.join(pattern, '*')
    matches = tf.io.gfile.glob(pattern)
    return sorted(
        p for p in matches if not os.path.basename(p).startswith('.') and not tf.io.gfile.isdir(p)
    )


def _summarise_splits(
    config: ml_collections.ConfigDict, extra_splits: Sequence[str]
) -> tuple[dict[str, list[_FileSummary]], tuple[int, int, int]]:
    """Summaries of the train split, the eval split when it has files, and `extra_splits`.

    Checks that all files agree (feature keys, channels, and sizes when image_size is 0) and returns
    the image shape `make_dataset` yields.
    """
    splits = {config.train_split: split_files(config.path, config.train_split)}
    for name in (config.eval_split, *extra_splits):
        if name not in splits:
            try:
                splits[name] = split_files(config.path, name)
            except ValueError:
                if name in extra_splits:
                    raise
    summaries = {name: [_summary(f) for f in files] for name, files in splits.items()}
    # (file, summary) of every file holding records; empty files constrain nothing.
    nonempty = [
        (f, s)
        for name, files in splits.items()
        for f, s in zip(files, summaries[name], strict=True)
        if s.num_records
    ]
    if not nonempty:
        raise ValueError(f'the TFRecord files of splits {list(splits)} hold no records')
    file0, summary0 = nonempty[0]
    header0, record0 = next(iter(summary0.shapes.items()))
    for f, s in nonempty:
        if (s.image_key, s.label_key) != (summary0.image_key, summary0.label_key):
            raise ValueError(
                f'TFRecord files disagree on their features: {file0} has '
                f'{summary0.image_key!r}/{summary0.label_key!r}, {f} has '
                f'{s.image_key!r}/{s.label_key!r}'
            )
        for h, r in s.shapes.items():
            if h.channels != header0.channels:
                raise ValueError(
                    f'TFRecord images mix greyscale and colour: {file0} record {record0} has '
                    f'{header0.channels} channel(s), {f} record {r} has {h.channels}'
                )
            if not config.image_size and h[:2] != header0[:2]:
                raise ValueError(
                    f'TFRecord images have different sizes: {file0} record {record0} is '
                    f'{header0.height}x{header0.width}, {f} record {r} is {h.height}x{h.width}; '
                    'set config.data.image_size to resize and centre-crop them to one size'
                )
    shape = common.output_shape(header0.height, header0.width, header0.channels, config.image_size)
    return summaries, shape


def _summary(path: str) -> _FileSummary:
    stat = tf.io.gfile.stat(path)
    return _cached_summary(path, stat.length, stat.mtime_nsec)


@functools.lru_cache(maxsize=4096)
def _cached_summary(path: str, size: int, mtime_ns: int) -> _FileSummary:
    """Reads every record of one file (size and mtime only key the cache)."""
    del size, mtime_ns
    image_key = label_key = None
    shapes, max_label, index = {}, -1, -1
    try:
        for index, record in enumerate(tf.data.TFRecordDataset(path).as_numpy_iterator()):
            try:
                feature = tf.train.Example.FromString(record).features.feature
            except message.DecodeError:
                raise ValueError(f'{path}: record {index} is not a tf.train.Example') from None
            if index == 0:
                image_key = next((k for k in IMAGE_KEYS if k in feature), None)
                label_key = next((k for k in LABEL_KEYS if k in feature), None)
            if image_key is None or image_key not in feature:
                raise ValueError(
                    f'{path}: record {index} has no image feature (looked for '
                    f'{", ".join(IMAGE_KEYS)}; it has {", ".join(sorted(feature)) or "none"})'
                )
            encoded = feature[image_key].bytes_list.value
            if len(encoded) != 1:
                raise ValueError(f'{path}: record {index} holds {len(encoded)} images, expected 1')
            try:
                header = image_header.parse_bytes(encoded[0])
            except ValueError as e:
                raise ValueError(f'{path}: record {index} holds a bad image: {e}') from None
            shapes.setdefault(header, index)
            if label_key:
                if label_key not in feature:
                    raise ValueError(f'{path}: record {index} has no {label_key!r} feature')
                label = feature[label_key].int64_list.value
                if len(label) != 1 or label[0] < 0:
                    raise ValueError(f'{path}: record {index} has label {list(label)}')
                max_label = max(max_label, label[0])
    except tf.errors.OpError as e:
        raise ValueError(
            f'corrupt TFRecord file {path} (after {index + 1} good records): {e.message}'
        ) from None
    return _FileSummary(index + 1, image_key or IMAGE_KEYS[0], label_key, shapes, max_label)


def _decode_all(
    files: list[str], parse: Callable[[tf.Tensor], dict[str, tf.Tensor]]
) -> common.Arrays:
    """Decodes every record into memory, naming the file when one fails."""
    images, labels = [], []
    for path in files:
        try:
            for batch in tf.data.TFRecordDataset(path).map(parse).batch(1024):
                images.append(batch['image'].numpy())
                labels.append(batch['label'].numpy())
        except tf.errors.OpError as e:
            raise ValueError(
                f'cannot decode the images of TFRecord file {path}: {e.message}'
            ) from None
    return common.Arrays(np.concatenate(images), np.concatenate(labels))


def _bytes_feature(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int64_feature(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))
