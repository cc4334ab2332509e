"""uint8 images <-> flat Glow latents, and the latents of a labelled image set, class by class.

A `LatentCodec` maps images to the flow's latents and back in one convention, the one the exports
use (`tfglow.trained.FlowImages`, with `tfglow.pixels`' levels):

```none
encode:  x = preprocess(images, n_bits) + 1 / (2 * n_bins)      the centre of each pixel's bin
         z = concat([reshape(eps_l, [B, -1]) for eps_l in model.encode(x)])   finest level first
decode:  levels = clip(floor((model.decode(unflatten(z)) + 0.5) * n_bins), 0, n_bins - 1)
         images = floor(levels * 255 / (n_bins - 1))             0 and 255 for binary Omniglot
```

Encoding is deterministic, and `decode(encode(images))` gives back the images' levels (for
`n_bits = 1`: ink 255, background 0, whatever grey the input had on either side of 128).

Models: any flow with `encode`/`decode` that needs no support set: `tfp_flows.Glow` (the 'glow'
task; class-conditional models are refused) and `FewShotGlow` built with `context='none'` (the
'fewshot_glow' task with `configs/omniglot_fewshot_glow.py:unconditional`). `load_codec` restores
either from a `tfglow-train` workdir with its EMA weights (`tfglow.trained.restore_run`);
`SavedModelCodec` reads a SavedModel with `encode` and `decode` signatures (`tfglow-export`'s, or
`tfglow-augment --export_dir`'s).

`encode_classes` turns `{class name: uint8 [n, H, W, C]}` into `ClassLatents`: every latent, class
after class, with each class's group (the Omniglot alphabet: the part of the name before '/').
"""

import dataclasses
import json
import math
import os
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import config_lib, trained
from tfglow.data.episodic import group_of
from tfglow.serving.client import signature_inputs
from tfglow.serving.versions import METADATA_PATH
from tfp_flows.distributions.few_shot_glow import FewShotGlow

__all__ = [
    'ClassLatents',
    'FlowCodec',
    'LatentCodec',
    'SavedModelCodec',
    'encode_classes',
    'load_codec',
]


class LatentCodec:
    """uint8 images `[N, H, W, C]` <-> float32 flat latents `[N, D]` (see the module docstring).

    Subclasses implement `_encode_batch` and `_decode_batch` (uint8 levels' images out); this class
    batches, checks inputs and knows the layout of the flat latent.

    Attributes:
      name: shown in reports.
      image_shape: `(H, W, C)`.
      latent_shapes: `(h_l, w_l, c_l)` per level, finest first.
      n_bits: bits per sub-pixel of the model.
      checkpoint: where the weights came from ('' if unknown).
      step: training step of the weights (0 if unknown).
    """

    name: str
    image_shape: tuple[int, int, int]
    latent_shapes: tuple[tuple[int, int, int], ...]
    n_bits: int
    checkpoint: str = ''
    step: int = 0

    @property
    def num_bins(self) -> int:
        return dq.num_bins(self.n_bits)

    @property
    def latent_size(self) -> int:
        """`D`: the flow keeps dimension, so `H * W * C`."""
        return sum(math.prod(shape) for shape in self.latent_shapes)

    @property
    def level_slices(self) -> list[slice]:
        """Columns of each level in the flat latent, finest level first."""
        sizes = [math.prod(shape) for shape in self.latent_shapes]
        starts = np.concatenate([[0], np.cumsum(sizes)]).astype(int)
        return [slice(int(a), int(b)) for a, b in zip(starts[:-1], starts[1:], strict=True)]

    def describe(self) -> dict:
        return {
            'name': self.name,
            'type': type(self).__name__,
            'image_shape': list(self.image_shape),
            'latent_shapes': [list(shape) for shape in self.latent_shapes],
            'n_bits': self.n_bits,
            'checkpoint': self.checkpoint,
            'step': self.step,
        }

    def encode(self, images: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """uint8 images `[N, H, W, C]` -> float32 latents `[N, D]`."""
        images = np.asarray(images)
        if images.dtype != np.uint8 or images.ndim != 4 or images.shape[1:] != self.image_shape:
            raise ValueError(
                f'{self.name} encodes uint8 images [N, {", ".join(map(str, self.image_shape))}]; '
                f'got {images.dtype} {images.shape}.'
            )
        if not len(images):
            return np.zeros([0, self.latent_size], np.float32)
        parts = [
            np.asarray(self._encode_batch(images[i : i + batch_size]), np.float32)
            for i in range(0, len(images), batch_size)
        ]
        return np.concatenate(parts)

    def decode(self, latents: np.ndarray, batch_size: int = 256) -> np.ndarray:
        """float latents `[N, D]` -> uint8 images `[N, H, W, C]` (levels shown as 0..255)."""
        latents = np.asarray(latents)
        if latents.dtype.kind not in 'fiu':
            raise ValueError(f'{self.name} decodes float latents; got {latents.dtype} values.')
        # float64 beyond float32's range becomes Inf, refused below.
        latents = latents.astype(np.float32)
        if latents.ndim != 2 or latents.shape[1] != self.latent_size:
            raise ValueError(
                f'{self.name} decodes latents [N, {self.latent_size}]; got shape {latents.shape}.'
            )
        if not np.isfinite(latents).all():
            raise ValueError('latents must be finite (no NaN or Inf).')
        if not len(latents):
            return np.zeros([0, *self.image_shape], np.uint8)
        parts = [
            np.asarray(self._decode_batch(latents[i : i + batch_size]), np.uint8)
            for i in range(0, len(latents), batch_size)
        ]
        return np.concatenate(parts)

    def _encode_batch(self, images: np.ndarray) -> np.ndarray:
        raise NotImplementedError

    def _decode_batch(self, latents: np.ndarray) -> np.ndarray:
        raise NotImplementedError


class FlowCodec(LatentCodec):
    """A `tfp_flows.Glow` or unconditional `FewShotGlow` behind `LatentCodec`.

    `encode_tensor` and `decode_tensor` are the same maps on tensors, for use inside other graphs
    (the augmentation export).

    Args:
      model: the flow, holding the weights to use.
      n_bits: bits per sub-pixel it was trained on (`config.model.n_bits_x`).
      name: shown in reports. Default: the model's name.
      checkpoint, step: where the weights came from, for reports.

    Raises:
      ValueError: for a model that cannot encode without a support set or a label.
    """

    def __init__(
        self,
        model: tfp_flows.Glow | FewShotGlow,
        n_bits: int,
        name: str | None = None,
        checkpoint: str = '',
        step: int = 0,
    ):
        if isinstance(model, FewShotGlow):
            if model.is_conditional:
                raise ValueError(
                    f'{model.name} is a support-conditioned FewShotGlow: its latents depend on the '
                    'support set. Augmentation needs a flow that encodes without one: train the '
                    "unconditional variant (context='none', e.g. "
                    'configs/omniglot_fewshot_glow.py:unconditional) or a plain Glow.'
                )
        elif isinstance(model, tfp_flows.Glow):
            if model.num_classes:
                raise ValueError(
                    f'{model.name} is class-conditional (num_classes={model.num_classes}); new '
                    'classes have no label to encode with.'
                )
        else:
            raise ValueError(
                f'{type(model).__name__} has no encode/decode: augmentation in latent space needs '
                'a flow (tfp_flows.Glow, or a FewShotGlow with context none).'
            )
        self.model = model
        # An unconditional FewShotGlow is a plain Glow: encode and decode go to it directly.
        self._images = trained.FlowImages(
            model.glow if isinstance(model, FewShotGlow) else model, n_bits
        )
        self.n_bits = self._images.n_bits
        self.name = name or model.name
        self.image_shape = self._images.image_shape
        self.latent_shapes = self._images.latent_shapes
        self.checkpoint = checkpoint
        self.step = step
        image_spec = tf.TensorSpec([None, *self.image_shape], tf.uint8)
        latent_spec = tf.TensorSpec([None, self.latent_size], tf.float32)
        self._encode_fn = tf.function(self.encode_tensor, input_signature=[image_spec])
        self._decode_fn = tf.function(self.decode_tensor, input_signature=[latent_spec])

    def encode_tensor(self, images: tf.Tensor) -> tf.Tensor:
        """uint8 `[B, H, W, C]` -> float32 `[B, D]`."""
        return self._images.encode(images)

    def decode_tensor(self, latents: tf.Tensor) -> tf.Tensor:
        """float32 `[B, D]` -> uint8 `[B, H, W, C]`."""
        return self._images.decode(latents)

    def _encode_batch(self, images):
        return self._encode_fn(tf.constant(images)).numpy()

    def _decode_batch(self, latents):
        return self._decode_fn(tf.constant(latents)).numpy()


class SavedModelCodec(LatentCodec):
    """A SavedModel's `encode` (`images` -> `latents`) and `decode` (`latents` -> `images`).

    Reads `n_bits` and the latent shapes from `assets.extra/tfglow_metadata.json`; decoded images
    are in `tfglow.pixels`' levels, as every tfglow export returns them.

    Raises:
      FileNotFoundError: without the SavedModel or its metadata.
      ValueError: when it lacks the signatures, or takes labels.
    """

    def __init__(self, path: str):
        metadata_path = os.path.join(path, METADATA_PATH)
        if not tf.io.gfile.exists(os.path.join(path, 'saved_model.pb')):
            raise FileNotFoundError(f'no SavedModel in {path!r} (saved_model.pb is missing).')
        if not tf.io.gfile.exists(metadata_path):
            raise FileNotFoundError(
                f'{metadata_path} is missing: use an export of tfglow-export or tfglow-augment.'
            )
        with tf.io.gfile.GFile(metadata_path) as f:
            metadata = json.load(f)
        signatures = tf.saved_model.load(path).signatures
        missing = [name for name in ('encode', 'decode') if name not in signatures]
        if missing:
            raise ValueError(f'the SavedModel {path} has no {" or ".join(missing)} signature.')
        if metadata.get('num_classes'):
            raise ValueError(f'{path} is class-conditional: new classes have no label.')
        self._signatures = signatures
        self.name = os.path.basename(os.path.normpath(path))
        self.image_shape = tuple(metadata['image_shape'])
        self.latent_shapes = tuple(tuple(s) for s in metadata['latent_shapes'])
        self.n_bits = int(metadata['n_bits'])
        self.checkpoint = metadata.get('checkpoint', '')
        self.step = int(metadata.get('step', 0))

    def _encode_batch(self, images):
        return self._call('encode', images=images)['latents']

    def _decode_batch(self, latents):
        return self._call('decode', latents=latents)['images']

    def _call(self, name: str, **inputs) -> dict[str, np.ndarray]:
        # Refuses what TensorFlow would cast silently (see tfglow.serving.client).
        signature = self._signatures[name]
        outputs = signature(**signature_inputs(signature, inputs))
        return {key: value.numpy() for key, value in outputs.items()}


def load_codec(
    workdir: str, checkpoint: str | int | None = 'latest', data_path: str = ''
) -> FlowCodec:
    """The flow of a `tfglow-train` workdir with its EMA weights, as a `FlowCodec`.

    Args:
      workdir: a run of the 'glow' task, or of 'fewshot_glow' with `context='none'`.
      checkpoint: 'latest', 'best', a step or a path (see `tfglow.trained.resolve_checkpoint`).
      data_path: replaces the run's `config.data.path` (data moved since training).

    Raises:
      FileNotFoundError: without the workdir, its config or the checkpoint.
      ValueError: for a model that cannot encode without support (see `FlowCodec`).
    """
    if not tf.io.gfile.isdir(workdir):
        raise FileNotFoundError(f'workdir {workdir!r} does not exist.')
    # The family is checked before the costly restore.
    config = config_lib.read_config(workdir)
    name = config.model.get('name', 'glow')
    if name == 'fewshot_glow' and config.model.get('context', 'spatial') != 'none':
        raise ValueError(
            f'{workdir} trained a support-conditioned FewShotGlow (context '
            f'{config.model.context!r}): its latents depend on the support set. Augmentation '
            'needs a flow that encodes without one: the unconditional variant '
            "(configs/omniglot_fewshot_glow.py:unconditional, context 'none') or a plain Glow."
        )
    if name not in ('glow', 'fewshot_glow'):
        raise ValueError(
            f'{workdir} trained a {name!r} model, which has no encode/decode: augmentation in '
            "latent space needs the 'glow' or the unconditional 'fewshot_glow' task."
        )
    run = trained.restore_run(workdir, checkpoint, data_path=data_path)
    return FlowCodec(
        run.model,
        run.config.model.n_bits_x,
        name=os.path.basename(os.path.normpath(workdir)),
        checkpoint=run.checkpoint,
        step=run.step,
    )


@dataclasses.dataclass(frozen=True)
class ClassLatents:
    """Latents of a labelled image set, class after class.

    Attributes:
      names: class names.
      groups: each class's group (alphabet), '' when the names have none.
      latents: float32 `[M, D]`, the rows of class `c` at `offsets[c]:offsets[c] + counts[c]`.
      counts: int64 `[C]`.
    """

    names: list[str]
    groups: list[str]
    latents: np.ndarray
    counts: np.ndarray

    def __post_init__(self):
        if len(self.names) != len(self.counts) or len(self.groups) != len(self.names):
            raise ValueError('names, groups and counts must have one entry per class.')
        if int(np.sum(self.counts)) != len(self.latents):
            raise ValueError(
                f'counts add up to {int(np.sum(self.counts))} rows; latents has '
                f'{len(self.latents)}.'
            )

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def offsets(self) -> np.ndarray:
        return np.concatenate([[0], np.cumsum(self.counts)[:-1]]).astype(np.int64)

    @property
    def class_of_row(self) -> np.ndarray:
        """int64 `[M]`: the class of each row."""
        return np.repeat(np.arange(self.num_classes), self.counts)

    def of(self, c: int) -> np.ndarray:
        """The latents of class `c`, `[n_c, D]`."""
        start = int(self.offsets[c])
        return self.latents[start : start + int(self.counts[c])]

    def means(self) -> np.ndarray:
        """float64 `[C, D]`: each class's mean latent."""
        sums = np.add.reduceat(self.latents.astype(np.float64), self.offsets, axis=0)
        return sums / self.counts[:, None]

    def deviations(self) -> np.ndarray:
        """float64 `[M, D]`: each row minus its class mean."""
        return self.latents - self.means()[self.class_of_row]

    def subset(self, classes) -> 'ClassLatents':
        """The classes `classes` (indices), in that order."""
        classes = [int(c) for c in classes]
        return ClassLatents(
            names=[self.names[c] for c in classes],
            groups=[self.groups[c] for c in classes],
            latents=np.concatenate([self.of(c) for c in classes]) if classes else self.latents[:0],
            counts=self.counts[classes],
        )


def encode_classes(
    codec: LatentCodec, class_arrays: Mapping[str, np.ndarray], batch_size: int = 256
) -> ClassLatents:
    """Encodes `{class name: uint8 [n, H, W, C]}` (n >= 1 per class) into `ClassLatents`."""
    if not class_arrays:
        raise ValueError('no classes to encode.')
    names, counts, arrays = [], [], []
    for name, images in class_arrays.items():
        images = np.asarray(images)
        if not len(images):
            raise ValueError(f'class {name!r} holds no images.')
        names.append(name)
        counts.append(len(images))
        arrays.append(images)
    latents = codec.encode(np.concatenate(arrays), batch_size=batch_size)
    return ClassLatents(
        names=names,
        groups=[group_of(name) for name in names],
        latents=latents,
        counts=np.array(counts, np.int64),
    )
