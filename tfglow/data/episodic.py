"""Episodic (few-shot) batches from per-class image arrays, for any support-conditioned model.

```python
class_arrays = data.load_class_arrays(config.data, 'train')   # {name: uint8 [n, H, W, C]}
ds = episodic.make_episodes(class_arrays, batch_size=16, k_min=1, k_max=19, seed=0)
# -> {'support': uint8 [B, k_max, H, W, C], 'support_mask': bool [B, k_max],
#     'target': uint8 [B, H, W, C], 'label': int32 [B], 'num_support': int32 [B]}
```

An episode is K + 1 distinct images of one class: K form the support set, the other is the
target. K is drawn once per batch, uniformly in [k_min, k_max], so one batch has one set size and
the model sees every size over training; the support is padded to `k_max` slots with zero images
and `support_mask` marks the first K slots as real, so every batch has the same static shape
(what XLA and TPUs want) while the number of real images varies.

Episodes are drawn i.i.d.: each episode's class uniformly at random (with replacement, so batches
larger than the number of classes work), then K + 1 distinct images of that class in random
order. Batch `i` is a pure function of `(seed, i)` through stateless random ops, so the stream is
repeatable, order-preserving under parallel map, and shards across input pipelines without
overlap (pipeline `p` of `P` produces batches `p, p + P, p + 2P, ...`).

With `other_support=True` each episode also carries a support set of K images of *another* class
of the same group (Omniglot: the same alphabet; see `group_of`), or of any other class where the
episode's class is alone in its group: what the specificity gap
`log p(target | support) - log p(target | other_support)` is measured with.
"""

from collections.abc import Mapping, Sequence

import numpy as np
import tensorflow as tf

from tfglow import validation

__all__ = ['group_of', 'make_episodes', 'other_classes']


def make_episodes(
    class_arrays: Mapping[str, np.ndarray],
    batch_size: int,
    k_min: int,
    k_max: int,
    seed: int = 0,
    *,
    num_batches: int | None = None,
    first_batch: int = 0,
    input_context: tf.distribute.InputContext | None = None,
    other_support: bool = False,
) -> tf.data.Dataset:
    """A dataset of batches of episodes drawn from `class_arrays`.

    Args:
      class_arrays: `{class name: uint8 [n_c, H, W, C]}`, e.g. from
        `tfglow.data.load_class_arrays`; every class needs at least `k_max + 1` images. Labels are
        positions in the mapping's iteration order.
      batch_size: episodes per batch (global; see `input_context`).
      k_min: smallest support size, >= 1.
      k_max: largest support size (and the number of support slots), >= k_min.
      seed: the stream's seed; the same seed gives the same batches.
      num_batches: stop after this many batches (per input pipeline); None = forever.
      first_batch: start at this batch of the (per-pipeline) stream, as if that many had been
        drawn already: a resumed run continues the stream in constant time. Default value: 0.
      input_context: for distributed input: each pipeline produces its own disjoint share of the
        stream with the per-replica batch size.
      other_support: also draw `'other_support'` (see the module docstring). Default: False.

    Returns:
      A `tf.data.Dataset` of dicts:
        `'support'`: uint8 `[B, k_max, H, W, C]`, real images in the first K slots, zeros after;
        `'support_mask'`: bool `[B, k_max]`, True for the K real slots;
        `'target'`: uint8 `[B, H, W, C]`, an image of the same class that is not in the support;
        `'label'`: int32 `[B]`, the episode's class;
        `'num_support'`: int32 `[B]`, K (the same for the whole batch);
        with `other_support`, `'other_support'`: uint8 `[B, k_max, H, W, C]`, K images of
        another class (see `other_classes`), masked by the same `support_mask`.

    Raises:
      ValueError: for an empty mapping, arrays of mismatched shape or non-uint8 dtype, a class
        with fewer than `k_max + 1` images, or bad sizes.
    """
    batch_size = validation.integer(batch_size, 'batch_size', 1)
    k_min = validation.integer(k_min, 'k_min', 1)
    k_max = validation.integer(k_max, 'k_max', 1)
    first_batch = validation.integer(first_batch, 'first_batch', 0)
    images, offsets, counts = _pack(class_arrays, k_min, k_max)
    if other_support:
        others, num_others = other_classes(list(class_arrays))
        others, num_others = tf.constant(others, tf.int32), tf.constant(num_others, tf.int32)
    pipelines, pipeline_id = 1, 0
    if input_context is not None:
        pipelines, pipeline_id = input_context.num_input_pipelines, input_context.input_pipeline_id
        batch_size = input_context.get_per_replica_batch_size(batch_size)
    largest = int(counts.max())
    num_classes = len(counts)
    images = tf.constant(images)
    offsets = tf.constant(offsets, tf.int32)
    counts = tf.constant(counts, tf.int32)
    slots = tf.range(k_max)

    def episode_batch(index):
        # Three independent stateless streams per batch, keyed by (seed, global batch index).
        keys = tf.random.experimental.stateless_split(
            tf.stack([tf.cast(seed, tf.int64), index]), num=5
        )
        size = tf.random.stateless_uniform(
            [], keys[0], minval=k_min, maxval=k_max + 1, dtype=tf.int32
        )
        label = tf.random.stateless_uniform(
            [batch_size], keys[1], minval=0, maxval=num_classes, dtype=tf.int32
        )
        chosen = shuffled_images(label, keys[2], k_max + 1)
        mask = tf.broadcast_to(slots[None, :] < size, [batch_size, k_max])
        masked = lambda s: tf.where(mask[:, :, None, None, None], s, tf.zeros_like(s))
        batch = {
            'support': masked(chosen[:, 1:]),
            'support_mask': mask,
            'target': chosen[:, 0],
            'label': label,
            'num_support': tf.fill([batch_size], size),
        }
        if other_support:
            # Keys 3 and 4 are new streams: the episodes themselves stay as without them.
            pick = tf.random.stateless_uniform([batch_size], keys[3])
            slot = tf.cast(pick * tf.cast(tf.gather(num_others, label), tf.float32), tf.int32)
            other = tf.gather_nd(others, tf.stack([label, slot], axis=1))
            batch['other_support'] = masked(shuffled_images(other, keys[4], k_max))
        return batch

    def shuffled_images(classes, key, count):
        # A random order of each episode's class: sort uniform keys, with the positions past the
        # class's size keyed 2 so they sort last; the first `count` are distinct images.
        noise = tf.random.stateless_uniform([batch_size, largest], key)
        valid = tf.range(largest)[None, :] < tf.gather(counts, classes)[:, None]
        order = tf.argsort(tf.where(valid, noise, 2.0), axis=1)[:, :count]
        return tf.gather(images, tf.gather(offsets, classes)[:, None] + order)

    indices = (
        tf.data.Dataset.counter(start=first_batch)
        if num_batches is None
        else tf.data.Dataset.range(first_batch, first_batch + num_batches)
    )
    indices = indices.map(lambda i: tf.cast(i, tf.int64) * pipelines + pipeline_id)
    return indices.map(
        episode_batch, num_parallel_calls=tf.data.AUTOTUNE, deterministic=True
    ).prefetch(tf.data.AUTOTUNE)


def with_rotations(class_arrays: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    """Each class `[N, H, W, C]` also as three new classes rotated by 90, 180 and 270 degrees.

    A rotated character is a new character (a standard way to quadruple Omniglot's training
    classes); class `name` keeps its images as `name@rot0` and gains `name@rot90`, ... in the
    same group (alphabet).
    """
    return {
        f'{name}@rot{90 * turns}': np.rot90(images, turns, axes=(1, 2)).copy()
        for turns in range(4)
        for name, images in class_arrays.items()
    }


def group_of(name: str) -> str:
    """The group of a class name: the part before the last '/' (Omniglot: the alphabet)."""
    return name.rsplit('/', 1)[0] if '/' in name else ''


def other_classes(names: Sequence[str]) -> tuple[np.ndarray, np.ndarray]:
    """For each class, the classes an 'other support' is drawn from, padded to one width.

    The other classes of its group (`group_of`), or every other class where it is alone in its
    group (or the names have no groups).

    Returns:
      `(others int32 [C, width], counts int32 [C])`: row `c`'s first `counts[c]` entries.

    Raises:
      ValueError: for fewer than 2 classes.
    """
    if len(names) < 2:
        raise ValueError(f'another class needs at least 2 classes; got {len(names)}.')
    groups = np.array([group_of(n) for n in names])
    everyone = np.arange(len(names))
    rows = []
    for c, group in enumerate(groups):
        same = np.flatnonzero((groups == group) & (everyone != c))
        rows.append(same if len(same) else np.delete(everyone, c))
    counts = np.array([len(r) for r in rows], np.int32)
    others = np.zeros((len(rows), counts.max()), np.int32)
    for c, row in enumerate(rows):
        others[c, : len(row)] = row
    return others, counts


def _pack(class_arrays, k_min, k_max):
    """All images in one `[N, H, W, C]` array, with each class's offset and count."""
    if k_max < k_min:
        raise ValueError(f'k_max ({k_max}) must be >= k_min ({k_min}).')
    if not class_arrays:
        raise ValueError('class_arrays holds no classes.')
    shape = None
    for name, array in class_arrays.items():
        array = np.asarray(array)
        if array.dtype != np.uint8 or array.ndim != 4:
            raise ValueError(
                f'class {name!r}: expected uint8 images [n, H, W, C]; got {array.dtype} '
                f'{array.shape}.'
            )
        if shape is None:
            shape = array.shape[1:]
        elif array.shape[1:] != shape:
            raise ValueError(
                f'class {name!r} has images of shape {array.shape[1:]}, others {shape}.'
            )
        if len(array) < k_max + 1:
            raise ValueError(
                f'class {name!r} has {len(array)} images; episodes with k_max={k_max} need at '
                f'least {k_max + 1} (K support images plus a target).'
            )
    arrays = [np.asarray(a) for a in class_arrays.values()]
    counts = np.array([len(a) for a in arrays], np.int32)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int32)
    return np.concatenate(arrays), offsets, counts
