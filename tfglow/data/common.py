"""Types and image helpers shared by the data sources and the input pipeline."""

import dataclasses
from collections.abc import Callable, Sequence
from typing import NamedTuple

import numpy as np
import tensorflow as tf

# A split whose decoded images fit in this many bytes is held in memory as one array and shuffled
# by index (an exact permutation every epoch, no re-decoding); larger splits stream from disk.
# Tests lower it to exercise the streaming paths on tiny data.
IN_MEMORY_BYTES = 512 * 2**20


@dataclasses.dataclass(frozen=True)
class DataInfo:
    """What a model needs to know about a data set.

    Attributes:
      image_shape: `(H, W, C)` of the images `make_dataset` yields (after resize/crop), C in {1, 3}.
      num_classes: number of labels; 1 for unlabelled data (every label is 0).
      split_sizes: number of examples in each split found (e.g. `{'train': 60000, 'test': 10000}`).
      class_names: name of each label, or None when the source has none.
      class_groups: the group of each class (Omniglot: its alphabet), or None; few-shot pipelines
        draw classes by group.
    """

    image_shape: tuple[int, int, int]
    num_classes: int
    split_sizes: dict[str, int]
    class_names: list[str] | None = None
    class_groups: list[str] | None = None


class Shard(NamedTuple):
    """The part of a split one input pipeline (worker) reads: every `count`-th example."""

    index: int
    count: int


class Arrays(NamedTuple):
    """A whole split in memory: images uint8 `[N, H, W, C]` (any size), labels int32 `[N]`."""

    images: np.ndarray
    labels: np.ndarray


class Stream(NamedTuple):
    """A split read from disk.

    `build(shard, training, seed)` returns a dataset of `{'image': uint8 [H, W, C] (final size),
    'label': int32 []}` holding only `shard`'s examples; when `training` it is shuffled (seeded,
    reshuffled every epoch) and repeated forever, otherwise one ordered pass.
    """

    build: Callable[[Shard, bool, int], tf.data.Dataset]


def check_split(split: str, allowed: Sequence[str], where: str) -> None:
    """Raises ValueError naming `split` and the splits `where` offers."""
    if split not in allowed:
        raise ValueError(
            f'unknown split {split!r} for {where}; allowed: {", ".join(map(repr, allowed))}'
        )


def output_shape(height: int, width: int, channels: int, image_size: int) -> tuple[int, int, int]:
    """The `(H, W, C)` that `make_dataset` yields for images stored as `height x width`."""
    if image_size:
        return (image_size, image_size, channels)
    return (height, width, channels)


def fits_in_memory(num_examples: int | None, shape: Sequence[int | None]) -> bool:
    """Whether `num_examples` images of `shape` are small enough to hold as one array."""
    if num_examples is None or None in shape:
        return False
    return num_examples * int(np.prod(shape)) <= IN_MEMORY_BYTES


def resize_and_center_crop(images: tf.Tensor, size: int) -> tf.Tensor:
    """Scales the shorter side to `size` (bilinear) and crops the centre `size x size`.

    Args:
      images: uint8 `[..., H, W, C]`, one image or a batch.
      size: output height and width.

    Returns:
      uint8 `[..., size, size, C]`.
    """
    shape = tf.shape(images)
    height, width = shape[-3], shape[-2]
    shorter = tf.minimum(height, width)
    # Integer arithmetic: the shorter side becomes exactly `size`, the longer one is rounded.
    new_height = (2 * height * size + shorter) // (2 * shorter)
    new_width = (2 * width * size + shorter) // (2 * shorter)
    # Antialiasing matters when shrinking (e.g. CelebA 178 -> 64): plain bilinear would alias.
    resized = tf.image.resize(images, [new_height, new_width], method='bilinear', antialias=True)
    top = (new_height - size) // 2
    left = (new_width - size) // 2
    cropped = resized[..., top : top + size, left : left + size, :]
    return tf.cast(tf.clip_by_value(tf.round(cropped), 0.0, 255.0), tf.uint8)


def fit_image(image: tf.Tensor, image_size: int, shape: Sequence[int]) -> tf.Tensor:
    """Resizes/crops a decoded image when `image_size` > 0 and fixes its static `shape`."""
    if image_size:
        image = resize_and_center_crop(image, image_size)
    return tf.ensure_shape(image, shape)


def resize_arrays(images: np.ndarray, image_size: int) -> np.ndarray:
    """`resize_and_center_crop` on an in-memory uint8 `[N, H, W, C]` array, in chunks."""
    if not image_size or images.shape[1:3] == (image_size, image_size):
        return images
    chunk = 4096  # bounds the float32 copy tf.image.resize makes
    return np.concatenate(
        [
            resize_and_center_crop(tf.constant(images[start : start + chunk]), image_size).numpy()
            for start in range(0, len(images), chunk)
        ]
    )


def permuted_indices(num_examples: int, training: bool, seed: int) -> tf.data.Dataset:
    """Indices into a split: one ordered pass, or (training) a new permutation each epoch, forever.

    Each epoch's permutation is a pure function of `(seed, epoch)`: it does not depend on TF's
    global seed, and a checkpointed iterator stores only its position (a shuffle buffer of n indices
    would be saved element by element: ~12 MB for Fashion-MNIST's 60,000).
    """
    if not training:
        return tf.data.Dataset.range(num_examples)

    def epoch(index: tf.Tensor) -> tf.data.Dataset:
        order = tf.random.experimental.stateless_shuffle(
            tf.range(num_examples, dtype=tf.int64),
            seed=tf.stack([tf.constant(seed, tf.int64), index]),
        )
        return tf.data.Dataset.from_tensor_slices(order)

    return tf.data.Dataset.counter().flat_map(epoch)


def shuffle_and_repeat(
    dataset: tf.data.Dataset, training: bool, buffer_size: int, seed: int
) -> tf.data.Dataset:
    """Training: seeded shuffle, reshuffled each epoch, repeated forever; eval: unchanged."""
    if not training:
        return dataset
    return dataset.shuffle(buffer_size, seed=seed, reshuffle_each_iteration=True).repeat()
