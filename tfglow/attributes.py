"""Attribute directions in Glow's latent space (openai/glow's demo), from labels or measurements.

For each attribute, over a labelled set of images encoded with every latent level:

```none
z_delta = scale * (mean z[attribute present] - mean z[attribute absent])     z: flat latents [D]
edit:     decode(encode(x) + alpha * z_delta)
```

openai/glow's demo used `scale = 1.6` on CelebA-HQ's 40 attributes (`OPENAI_SCALE`); the default
here is 1, so `alpha = 1` moves an image by exactly the difference of the two group means.

Where the present/absent split comes from (`SOURCES`):
- `'properties'`: measurable properties of the images themselves (`measure_properties`: ink,
  thickness, slant, width, height), with "present" the top `quantile` of the data and "absent" the
  bottom `quantile`. This gives directions on any grey-scale digit, character or clothing data.
- `'labels'`: one attribute per class, present where the label is that class, absent elsewhere.
- `'tfds_attributes'`: the boolean `attributes` feature of a tensorflow-datasets dataset, e.g.
  `celeb_a`'s 40 (config.data.source must be 'tfds').

The result is an `AttributeDirections` (saved as one `.npz`), which `tfglow-export --attributes`
stores in the SavedModel for its `manipulate` signature.
"""

import dataclasses
import io
import json
import os
import zipfile
from collections.abc import Callable, Iterable, Iterator

import ml_collections
import numpy as np
import tensorflow as tf

from tfglow import data, extras
from tfglow.data import common
from tfglow.progress import Progress
from tfglow.trained import TrainedGlow

__all__ = [
    'OPENAI_SCALE',
    'PROPERTIES',
    'SOURCES',
    'AttributeDirections',
    'compute_directions',
    'directions_for_model',
    'load_directions',
    'measure_properties',
]

OPENAI_SCALE = 1.6
PROPERTIES = ('ink', 'thickness', 'slant', 'width', 'height')
SOURCES = ('properties', 'labels', 'tfds_attributes')

# One batch for `compute_directions`: uint8 images [B, H, W, C], int labels [B], and boolean masks
# [B, A] of the examples where each attribute is present and where it is absent.
Batch = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]


@dataclasses.dataclass(frozen=True)
class AttributeDirections:
    """Named latent directions, one row per attribute.

    Attributes:
      names: attribute names, `A` of them.
      directions: float32 `[A, D]`, `D` the flat latent size of the model they were computed on.
      present_counts: int `[A]`, examples averaged for "present".
      absent_counts: int `[A]`, examples averaged for "absent".
      scale: the factor applied to the mean difference (1.0, or 1.6 as in openai/glow).
      metadata: JSON-serialisable details (source, split, thresholds, checkpoint, ...).
    """

    names: tuple[str, ...]
    directions: np.ndarray
    present_counts: np.ndarray
    absent_counts: np.ndarray
    scale: float = 1.0
    metadata: dict = dataclasses.field(default_factory=dict)

    def __post_init__(self):
        count = len(self.names)
        if self.directions.ndim != 2 or self.directions.shape[0] != count:
            raise ValueError(
                f'directions must be [num_attributes={count}, D]; got {self.directions.shape}'
            )
        if len(set(self.names)) != count:
            raise ValueError(f'attribute names must be unique; got {list(self.names)}')

    @property
    def latent_size(self) -> int:
        return int(self.directions.shape[1])

    def index(self, name: str) -> int:
        """The row of attribute `name`; ValueError listing the names when there is none."""
        if name not in self.names:
            raise ValueError(f'unknown attribute {name!r}; known: {", ".join(self.names)}')
        return self.names.index(name)

    def save(self, path: str) -> None:
        """Writes an `.npz` that `load_directions` reads (parent directories are created)."""
        # np.savez seeks in its file; tf.io.gfile files (gs:// too) only stream, so build it here.
        buffer = io.BytesIO()
        np.savez(
            buffer,
            names=np.array(self.names, dtype=np.str_),
            directions=self.directions.astype(np.float32),
            present_counts=self.present_counts,
            absent_counts=self.absent_counts,
            scale=np.float64(self.scale),
            metadata=np.array(json.dumps(self.metadata)),
        )
        directory = os.path.dirname(path)
        if directory:
            tf.io.gfile.makedirs(directory)
        with tf.io.gfile.GFile(path, 'wb') as f:
            f.write(buffer.getvalue())


def load_directions(path: str) -> AttributeDirections:
    """Reads a file written by `AttributeDirections.save` (the output of `tfglow-attributes`).

    Raises:
      FileNotFoundError: when there is no file at `path`.
      ValueError: when the file is not an attribute-directions file.
    """
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f'no attribute directions file at {path!r}')
    with tf.io.gfile.GFile(path, 'rb') as f:
        content = f.read()
    not_ours = f'{path!r} is not an attribute directions file (written by tfglow-attributes)'
    try:
        arrays = dict(np.load(io.BytesIO(content)))
    except (TypeError, ValueError, OSError, EOFError, zipfile.BadZipFile) as e:
        raise ValueError(f'{not_ours}: {e}') from None
    missing = {'names', 'directions', 'present_counts', 'absent_counts'} - set(arrays)
    if missing:
        raise ValueError(f'{not_ours}: it lacks {", ".join(sorted(missing))}')
    return AttributeDirections(
        names=tuple(str(name) for name in arrays['names']),
        directions=arrays['directions'].astype(np.float32),
        present_counts=arrays['present_counts'],
        absent_counts=arrays['absent_counts'],
        scale=float(arrays.get('scale', 1.0)),
        metadata=json.loads(str(arrays['metadata'])) if 'metadata' in arrays else {},
    )


def measure_properties(images: np.ndarray) -> dict[str, np.ndarray]:
    """Per-image shape measurements of bright ink on a dark background (digits, clothing, Omniglot).

    With `m` the grey level in [0, 1] (channel mean) and moments weighted by `m`:

    ```none
    ink       = mean(m)                                   how much of the image is ink
    thickness = 2 * sum(m) / sum(|dm/dx| + |dm/dy|)       area / half the outline: stroke width, px
    slant     = -cov(x, y) / var(y)                       columns moved right per row up (> 0: /)
    width     = std(x),  height = std(y)                  spread of the ink, in pixels
    ```

    Args:
      images: uint8 `[N, H, W, C]`.

    Returns:
      `{name: float64 [N]}` for each name in `PROPERTIES`; 0 for blank images.
    """
    images = np.asarray(images)
    if images.ndim != 4:
        raise ValueError(f'images must be [N, H, W, C]; got shape {images.shape}')
    ink = images.astype(np.float64).mean(axis=-1) / 255.0
    _, height, width = ink.shape
    mass = ink.sum(axis=(1, 2))
    safe_mass = np.maximum(mass, 1e-12)
    rows, cols = np.mgrid[0:height, 0:width].astype(np.float64)
    center_y = (ink * rows).sum(axis=(1, 2)) / safe_mass
    center_x = (ink * cols).sum(axis=(1, 2)) / safe_mass
    dy = rows[None] - center_y[:, None, None]
    dx = cols[None] - center_x[:, None, None]
    var_y = (ink * dy**2).sum(axis=(1, 2)) / safe_mass
    var_x = (ink * dx**2).sum(axis=(1, 2)) / safe_mass
    cov = (ink * dx * dy).sum(axis=(1, 2)) / safe_mass
    # Zero padding counts the image border as background, so ink touching the edge has an outline.
    padded = np.pad(ink, ((0, 0), (1, 1), (1, 1)))
    outline = np.abs(np.diff(padded, axis=1)).sum(axis=(1, 2))
    outline += np.abs(np.diff(padded, axis=2)).sum(axis=(1, 2))
    return {
        'ink': mass / (height * width),
        'thickness': 2.0 * mass / np.maximum(outline, 1e-12),
        # Image rows grow downwards: a stroke leaning right at the top has cov(x, y) < 0.
        'slant': -cov / np.maximum(var_y, 1e-12),
        'width': np.sqrt(var_x),
        'height': np.sqrt(var_y),
    }


def compute_directions(
    encode: Callable[[np.ndarray, np.ndarray], np.ndarray],
    batches: Iterable[Batch],
    names: Iterable[str],
    *,
    scale: float = 1.0,
    metadata: dict | None = None,
) -> AttributeDirections:
    """`scale * (mean z[present] - mean z[absent])` per attribute, streaming over `batches`.

    Args:
      encode: `(images, labels) -> flat latents [B, D]`.
      batches: `(images, labels, present [B, A], absent [B, A])` tuples.
      names: the `A` attribute names.
      scale: factor on the mean difference (`OPENAI_SCALE` for openai/glow's).
      metadata: stored with the result.

    Raises:
      ValueError: when an attribute has no present or no absent example, or masks overlap.
    """
    names = tuple(names)
    sums = counts = None
    for images, labels, present, absent in batches:
        if np.any(present & absent):
            raise ValueError('an example cannot be both present and absent for one attribute')
        latents = np.asarray(encode(images, labels), dtype=np.float64)
        masks = np.stack([present, absent]).astype(np.float64)  # [2, B, A]
        batch_sums = np.einsum('kba,bd->kad', masks, latents)
        sums = batch_sums if sums is None else sums + batch_sums
        counts = masks.sum(axis=1) if counts is None else counts + masks.sum(axis=1)
    if sums is None:
        raise ValueError('no images to compute attribute directions from')
    empty = [
        f'{name} ({"present" if counts[0, i] == 0 else "absent"})'
        for i, name in enumerate(names)
        if counts[0, i] == 0 or counts[1, i] == 0
    ]
    if empty:
        raise ValueError(
            f'no examples for attribute(s) {", ".join(empty)}: use more examples or a larger '
            'quantile'
        )
    means = sums / counts[:, :, None]
    return AttributeDirections(
        names=names,
        directions=(scale * (means[0] - means[1])).astype(np.float32),
        present_counts=counts[0].astype(np.int64),
        absent_counts=counts[1].astype(np.int64),
        scale=float(scale),
        metadata=dict(metadata or {}),
    )


def _labelled_batches(
    data_config: ml_collections.ConfigDict, split: str, batch_size: int, num_examples: int
) -> Iterator[tuple[np.ndarray, np.ndarray]]:
    """`(images, labels)` numpy batches: the first `num_examples` of `split` (0: all), in order."""
    dataset = data.make_dataset(data_config, split, batch_size, training=False)
    if num_examples:
        dataset = dataset.unbatch().take(num_examples).batch(batch_size)
    for batch in dataset.as_numpy_iterator():
        yield batch['image'], batch['label']


def _tfds_attribute_batches(
    data_config: ml_collections.ConfigDict, split: str, batch_size: int, num_examples: int
) -> tuple[list[str], Iterator[tuple[np.ndarray, np.ndarray]]]:
    """The boolean `attributes` feature of a tfds dataset (celeb_a): names and (images, [B, A])."""
    if data_config.source != 'tfds':
        raise ValueError(
            "source 'tfds_attributes' needs a tensorflow-datasets config (config.data.source "
            f"'tfds', e.g. celeb_a); this run's data source is {data_config.source!r}"
        )
    tfds = extras.require('tensorflow_datasets', '--source=tfds_attributes')

    builder = tfds.builder(data_config.name, data_dir=data_config.path or None)
    features = builder.info.features
    if 'attributes' not in features:
        raise ValueError(
            f'tfds {data_config.name!r} has no "attributes" feature to compute directions from '
            f"(it has {', '.join(features.keys())}); use source 'labels' or 'properties'"
        )
    names = sorted(features['attributes'].keys())
    shape = data.get_info(data_config).image_shape

    def to_pair(example):
        image = common.fit_image(example['image'], data_config.image_size, shape)
        flags = tf.stack([tf.cast(example['attributes'][name], tf.bool) for name in names])
        return image, flags

    dataset = builder.as_dataset(split=split, shuffle_files=False).map(to_pair)
    if num_examples:
        dataset = dataset.take(num_examples)
    return names, dataset.batch(batch_size).as_numpy_iterator()


def directions_for_model(
    trained: TrainedGlow,
    source: str = 'properties',
    *,
    split: str | None = None,
    num_examples: int = 10_000,
    quantile: float = 0.2,
    scale: float = 1.0,
    batch_size: int = 256,
) -> AttributeDirections:
    """Attribute directions of a trained model over its own training data.

    Args:
      trained: the model (see `tfglow.trained.load_trained_glow`); its config names the data.
      source: `'properties'`, `'labels'` or `'tfds_attributes'` (see the module docstring).
      split: data split; default: the config's training split.
      num_examples: the first `num_examples` images of the split (0: all of them).
      quantile: for `'properties'`: present = top `quantile`, absent = bottom `quantile`.
      scale: factor on the mean difference (`OPENAI_SCALE` = 1.6 for openai/glow's).
      batch_size: images encoded at a time.

    Returns:
      The directions, with their source, split, thresholds and checkpoint in `metadata`.

    Raises:
      ValueError: for an unknown source, a quantile outside (0, 0.5], or an attribute without
        present or absent examples.
    """
    if source not in SOURCES:
        raise ValueError(f'source must be one of {", ".join(SOURCES)}; got {source!r}')
    if not 0.0 < quantile <= 0.5:
        raise ValueError(f'quantile must be in (0, 0.5]; got {quantile}')
    if num_examples < 0 or batch_size < 1:
        raise ValueError(
            f'num_examples must be >= 0 and batch_size >= 1; got {num_examples}, {batch_size}'
        )
    config = trained.config
    split = split or config.data.train_split
    metadata = {
        'source': source,
        'split': split,
        'num_examples': num_examples,
        'checkpoint': trained.checkpoint,
        'step': trained.step,
    }
    encode_fn = tf.function(trained.encode, reduce_retracing=True)
    split_size = data.get_info(config.data).split_sizes.get(split)
    num_images = min(filter(None, (num_examples, split_size)), default=0)
    # Without a known count (a split of unknown size, all of it) encoding runs without progress.
    progress = (
        Progress('attribute directions', num_images, 'images encoded') if num_images else None
    )

    def encode(images, labels):
        label = tf.constant(labels, tf.int32) if trained.num_classes else None
        latents = encode_fn(tf.constant(images), label).numpy()
        if progress:
            progress.advance(len(images))
        return latents

    batches = lambda: _labelled_batches(config.data, split, batch_size, num_examples)
    if source == 'properties':
        # Pass 1 sets the quantile thresholds; pass 2 encodes (the data is read twice so that
        # only one batch of latents is in memory at a time).
        values = [measure_properties(images) for images, _ in batches()]
        values = {name: np.concatenate([v[name] for v in values]) for name in PROPERTIES}
        low = {name: float(np.quantile(values[name], quantile)) for name in PROPERTIES}
        high = {name: float(np.quantile(values[name], 1.0 - quantile)) for name in PROPERTIES}
        flat = [name for name in PROPERTIES if low[name] >= high[name]]
        if flat:
            raise ValueError(
                f'propert(ies) {", ".join(flat)} do not vary over these images: the top and '
                f'bottom {quantile} quantiles meet'
            )
        metadata.update(quantile=quantile, absent_below=low, present_above=high)

        def masked():
            for images, labels in batches():
                measured = measure_properties(images)
                present = np.stack([measured[n] >= high[n] for n in PROPERTIES], axis=1)
                absent = np.stack([measured[n] <= low[n] for n in PROPERTIES], axis=1)
                yield images, labels, present, absent

        return compute_directions(encode, masked(), PROPERTIES, scale=scale, metadata=metadata)
    if source == 'labels':
        num_classes = data.get_info(config.data).num_classes
        if num_classes < 2:
            raise ValueError(f'{config.data.name!r} has no class labels to compute directions for')
        names = trained.class_names or [f'class_{c}' for c in range(num_classes)]
        classes = np.arange(num_classes)

        def masked():
            for images, labels in batches():
                present = labels[:, None] == classes[None]
                yield images, labels, present, ~present

        return compute_directions(encode, masked(), names, scale=scale, metadata=metadata)
    names, pairs = _tfds_attribute_batches(config.data, split, batch_size, num_examples)

    def masked():
        for images, flags in pairs:
            yield images, np.zeros(len(images), np.int32), flags, ~flags

    return compute_directions(encode, masked(), names, scale=scale, metadata=metadata)
