"""`get_info` and `make_dataset` over the sources, chosen by `config.data.source`."""

import importlib
import types
from collections.abc import Sequence

import ml_collections
import numpy as np
import tensorflow as tf

from tfglow.data import common

# Source name -> module; imported on first use so that e.g. idx data never imports tfds.
_SOURCE_MODULES = {
    'tfds': 'tfds_source',
    'folder': 'folder',
    'tfrecord': 'tfrecord',
    'idx': 'idx',
    'omniglot_npz': 'omniglot',
}
SOURCES = tuple(_SOURCE_MODULES)


def get_info(data_config: ml_collections.ConfigDict, split: str | None = None) -> common.DataInfo:
    """Describes the data set that `data_config` names, without reading the whole of it.

    Args:
      data_config: `config.data` (source, name, path, image_size, train_split, eval_split, ...).
      split: the split whose classes `num_classes`, `class_names` and `class_groups` describe;
        default `data_config.train_split`. Only omniglot_npz has different classes per split.

    Returns:
      A `DataInfo`; `image_shape` is what `make_dataset` yields (after resize/crop).
    """
    return _source(data_config).get_info(data_config, split or data_config.train_split)


def make_dataset(
    data_config: ml_collections.ConfigDict,
    split: str,
    batch_size: int,
    *,
    training: bool,
    seed: int = 0,
    input_context: tf.distribute.InputContext | None = None,
) -> tf.data.Dataset:
    """Batches of `{'image': uint8 [B, H, W, C], 'label': int32 [B]}` from one split.

    Args:
      data_config: `config.data`.
      split: split name, e.g. `data_config.train_split`.
      batch_size: global batch size; with `input_context`, each replica gets its share.
      training: True: seeded shuffle reshuffled every epoch, repeated forever, full batches only.
        False: one pass in stored order, the last partial batch kept.
      seed: shuffling seed; the same seed gives the same order.
      input_context: from `strategy.distribute_datasets_from_function`; this pipeline then reads
        only its shard (disjoint from the other pipelines').

    Returns:
      A prefetching `tf.data.Dataset`.
    """
    source = _source(data_config)
    if batch_size < 1:
        raise ValueError(f'batch_size must be >= 1, got {batch_size}')
    shard, per_replica_batch = common.Shard(0, 1), batch_size
    if input_context is not None:
        shard = common.Shard(input_context.input_pipeline_id, input_context.num_input_pipelines)
        per_replica_batch = input_context.get_per_replica_batch_size(batch_size)
    data = source.load(data_config, split)
    if isinstance(data, common.Arrays):
        dataset = _from_arrays(
            data, data_config.image_size, shard, per_replica_batch, training, seed
        )
    else:
        dataset = data.build(shard, training, seed).batch(
            per_replica_batch, drop_remainder=training
        )
    return dataset.prefetch(tf.data.AUTOTUNE)


def load_class_arrays(
    data_config: ml_collections.ConfigDict, split: str, classes: Sequence[int] | None = None
) -> dict[str, np.ndarray]:
    """Every image of `split` grouped by class, for episodic (few-shot) pipelines.

    Args:
      data_config: `config.data`.
      split: split name.
      classes: labels of the classes to keep (e.g. `range(7)` to hold classes 7, 8, 9 out of
        training); None keeps every class of the split.

    Returns:
      `{class name: uint8 [n, H, W, C]}` in label order, images as `make_dataset` yields them
      (Omniglot: `[20, 28, 28, 1]` with ink = 255). Without class names the keys are '0', '1', ...

    Raises:
      ValueError: when `classes` is empty or names a label that `split` does not have.
    """
    info = get_info(data_config, split)
    batches = list(make_dataset(data_config, split, 1024, training=False).as_numpy_iterator())
    images = np.concatenate([b['image'] for b in batches])
    labels = np.concatenate([b['label'] for b in batches])
    names = info.class_names or [str(c) for c in range(info.num_classes)]
    present = np.unique(labels)
    if classes is not None:
        wanted = sorted({int(c) for c in classes})
        missing = sorted(set(wanted) - set(present.tolist()))
        if not wanted or missing:
            raise ValueError(
                f'classes {list(classes)} must name labels of split {split!r}, which has '
                f'{len(present)} classes (labels {present.min()}..{present.max()})'
                + (f'; not found: {missing}' if missing else '')
            )
        present = np.array(wanted)
    return {names[c]: images[labels == c] for c in present}


def _source(data_config: ml_collections.ConfigDict) -> types.ModuleType:
    """The source module of `data_config.source`, after checking the common settings."""
    if data_config.source not in _SOURCE_MODULES:
        raise ValueError(
            f'unknown data source {data_config.source!r}; allowed: {", ".join(SOURCES)}'
        )
    image_size = data_config.image_size
    if not isinstance(image_size, int) or image_size < 0:
        raise ValueError(f'config.data.image_size must be an integer >= 0, got {image_size!r}')
    if data_config.shuffle_buffer < 1:
        raise ValueError(
            f'config.data.shuffle_buffer must be >= 1, got {data_config.shuffle_buffer}'
        )
    return importlib.import_module(f'tfglow.data.{_SOURCE_MODULES[data_config.source]}')


def _from_arrays(
    arrays: common.Arrays,
    image_size: int,
    shard: common.Shard,
    batch_size: int,
    training: bool,
    seed: int,
) -> tf.data.Dataset:
    """Batches gathered by index from a split held in memory."""
    images = common.resize_arrays(arrays.images, image_size)[shard.index :: shard.count]
    labels = arrays.labels[shard.index :: shard.count]
    if not len(labels):
        raise ValueError(
            f'input pipeline {shard.index} of {shard.count} gets no examples: the split has only '
            f'{len(arrays.labels)}'
        )
    images, labels = tf.constant(images), tf.constant(labels, tf.int32)
    # Permuting indices rather than images gives an exact permutation every epoch at no memory
    # cost, and gathering whole batches avoids per-example overhead.
    indices = common.permuted_indices(len(labels), training, seed)
    indices = indices.batch(batch_size, drop_remainder=training)
    return indices.map(
        lambda i: {'image': tf.gather(images, i), 'label': tf.gather(labels, i)},
        num_parallel_calls=tf.data.AUTOTUNE,
    )
