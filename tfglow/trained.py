"""A trained Glow restored from a training workdir with its EMA weights, and its pixel maps.

`load_trained_glow(workdir)` rebuilds the model that `tfglow-train` trained from the workdir's
`config.json`, restores a checkpoint and puts the EMA (Polyak) weights into the model: the weights
the evaluator scores and the export serves. `TrainedGlow` then maps uint8 pixels to latents and
back, in the one convention that the export, the attribute tool and the sampling tool share:

```none
encode:  x = preprocess(images, n_bits) + 1 / (2 * n_bins)     the centre of each pixel's bin
         latents = model.encode(x)                               per level, finest first
         flat = concat([reshape(eps_l, [B, -1]) for eps_l in latents])   openai/glow demo's order
decode:  images = postprocess(model.decode(unflatten(flat)), n_bits)
```

Encoding the bin centre (not a random point of the bin, as training does) makes encoding
deterministic, and keeps `decode(encode(images)) == images` exact to the pixel: the flow's round
trip is exact only up to float error, which would flip values sitting on a bin edge.

#### Examples

```python
trained = load_trained_glow('workdirs/fashion_mnist_glow')   # latest checkpoint
flat = trained.encode(images)                                  # [B, H*W*C]
assert (trained.decode(flat).numpy() == images).all()
```
"""

import dataclasses
import os

import ml_collections
import tensorflow as tf

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import config_lib, data
from tfglow.ema import ExponentialMovingAverage
from tfglow.models import glow

__all__ = ['TrainedGlow', 'load_trained_glow', 'resolve_checkpoint']

# The sub-directories of a training workdir that hold checkpoints (see tfglow.train).
_CHECKPOINT_DIRS = {'latest': 'checkpoints', 'best': 'best'}
# Sampling noise is drawn from this stream of the request's seed, one fold-in per level.
_SAMPLE_STREAM = 3


@dataclasses.dataclass
class TrainedGlow:
    """A Glow holding the EMA weights of one checkpoint, with its uint8 <-> latent maps.

    Attributes:
      model: the `tfp_flows.Glow`, its variables set to the checkpoint's EMA weights.
      config: the run's config, as `tfglow-train` wrote it to the workdir.
      checkpoint: path prefix of the restored checkpoint.
      step: the training step of that checkpoint.
      class_names: the data's class names, or None when the source has none.
    """

    model: tfp_flows.Glow
    config: ml_collections.ConfigDict
    checkpoint: str
    step: int
    class_names: list[str] | None

    @property
    def n_bits(self) -> int:
        return int(self.config.model.n_bits_x)

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.model.image_shape)

    @property
    def latent_shapes(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(tuple(shape) for shape in self.model.latent_shapes)

    @property
    def latent_size(self) -> int:
        """Length `D` of a flat latent: `H * W * C`, since the flow preserves dimension."""
        return sum(h * w * c for h, w, c in self.latent_shapes)

    @property
    def num_classes(self) -> int:
        """Classes of a class-conditional model (every method then needs `label`), else 0."""
        return int(self.model.num_classes)

    @property
    def noise_seed(self) -> int:
        """Seed of the evaluator's dequantisation noise in this run (`config.seed`)."""
        return int(self.config.seed)

    def flatten(self, latents: list[tf.Tensor]) -> tf.Tensor:
        """Per-level latents (finest first) -> `[B, D]`."""
        batch = tf.shape(latents[0])[0]
        return tf.concat([tf.reshape(eps, [batch, -1]) for eps in latents], axis=1)

    def unflatten(self, flat: tf.Tensor) -> list[tf.Tensor]:
        """`[B, D]` -> per-level latents `[B, h_l, w_l, c_l]`, finest first."""
        sizes = [h * w * c for h, w, c in self.latent_shapes]
        parts = tf.split(flat, sizes, axis=1)
        batch = tf.shape(flat)[0]
        return [
            tf.reshape(part, tf.concat([[batch], shape], axis=0))
            for part, shape in zip(parts, self.latent_shapes, strict=True)
        ]

    def encode_levels(self, images: tf.Tensor, label: tf.Tensor | None = None) -> list[tf.Tensor]:
        """uint8 images `[B, H, W, C]` -> per-level latents (the bin centres' encoding)."""
        x = dq.preprocess(images, self.n_bits)
        x += 0.5 / dq.num_bins(self.n_bits)
        return self.model.encode(x, label=label)

    def encode(self, images: tf.Tensor, label: tf.Tensor | None = None) -> tf.Tensor:
        """uint8 images `[B, H, W, C]` -> flat latents `[B, D]`."""
        return self.flatten(self.encode_levels(images, label))

    def decode(self, flat: tf.Tensor, label: tf.Tensor | None = None) -> tf.Tensor:
        """Flat latents `[B, D]` -> uint8 images `[B, H, W, C]`."""
        x = self.model.decode(self.unflatten(flat), label=label)
        return dq.postprocess(x, self.n_bits)

    def sample(
        self,
        num: tf.Tensor,
        temperature: tf.Tensor,
        seed: tf.Tensor,
        label: tf.Tensor | None = None,
    ) -> tf.Tensor:
        """`num` uint8 samples at `temperature`, a pure function of the int `seed`.

        Level `l`'s latent is `temperature * N(0, I)` drawn with the stateless seed
        `fold_in((seed, 3), l)`, openai/glow's temperature at every level.
        """
        base = tf.stack([tf.cast(seed, tf.int64), tf.constant(_SAMPLE_STREAM, tf.int64)])
        temperature = tf.cast(temperature, self.model.dtype)
        latents = [
            temperature
            * tf.random.stateless_normal(
                tf.concat([[num], shape], axis=0),
                seed=tf.random.experimental.stateless_fold_in(base, level),
                dtype=self.model.dtype,
            )
            for level, shape in enumerate(self.latent_shapes)
        ]
        return dq.postprocess(self.model.decode(latents, label=label), self.n_bits)

    def bits_per_dim(
        self, images: tf.Tensor, noise: tf.Tensor, label: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Per-image bits/dim `[B]` of uint8 images dequantised with U(0, 1) `noise`.

        The same computation as `tfglow.evaluate.BitsPerDimEvaluator` for the same noise.
        """
        x = dq.dequantize(dq.preprocess(images, self.n_bits), self.n_bits, noise=noise)
        kwargs = {} if label is None else {'label': label}
        log_prob = self.model.log_prob(x, **kwargs)
        num_dims = self.image_shape[0] * self.image_shape[1] * self.image_shape[2]
        return dq.bits_per_dim(log_prob, num_dims, self.n_bits)


def resolve_checkpoint(workdir: str, checkpoint: str | int | None = None) -> str:
    """The checkpoint path prefix that `checkpoint` names in a training workdir.

    Args:
      workdir: a `tfglow-train` workdir.
      checkpoint: None or 'latest' (the newest in `workdir/checkpoints`), 'best' (the one in
        `workdir/best`, best eval bits/dim), a step number (`workdir/checkpoints/ckpt-<step>`), a
        directory (its newest checkpoint) or a checkpoint path prefix (`.../ckpt-1000`).

    Raises:
      FileNotFoundError: naming what was looked for, when there is no such checkpoint.
    """
    checkpoint = 'latest' if checkpoint is None else str(checkpoint)
    if checkpoint in _CHECKPOINT_DIRS or checkpoint.isdigit():
        directory = os.path.join(workdir, _CHECKPOINT_DIRS.get(checkpoint, 'checkpoints'))
        if checkpoint.isdigit():
            path = os.path.join(directory, f'ckpt-{checkpoint}')
            if not tf.io.gfile.exists(path + '.index'):
                raise FileNotFoundError(
                    f'no checkpoint for step {checkpoint} in {directory} '
                    f'(found: {_list_checkpoints(directory) or "none"})'
                )
            return path
    else:
        directory = checkpoint
        if not tf.io.gfile.isdir(directory):
            if tf.io.gfile.exists(checkpoint + '.index'):
                return checkpoint
            raise FileNotFoundError(
                f'checkpoint {checkpoint!r} is neither a checkpoint directory nor a checkpoint '
                "path prefix (a file '<prefix>.index' must exist)"
            )
    latest = tf.train.latest_checkpoint(directory)
    if not latest:
        raise FileNotFoundError(
            f'no checkpoint in {directory}: train with `tfglow-train --workdir={workdir}` first, '
            'or pass a checkpoint path'
        )
    return latest


def _list_checkpoints(directory: str) -> str:
    if not tf.io.gfile.isdir(directory):
        return ''
    steps = sorted(
        int(name[len('ckpt-') : -len('.index')])
        for name in tf.io.gfile.listdir(directory)
        if name.startswith('ckpt-') and name.endswith('.index')
    )
    return ', '.join(f'step {step}' for step in steps)


def load_trained_glow(workdir: str, checkpoint: str | int | None = None) -> TrainedGlow:
    """Rebuilds a workdir's Glow and restores the EMA weights of one of its checkpoints.

    Reads `workdir/config.json` and the data's metadata (image shape, classes) through
    `tfglow.data.get_info`, so the data source named in the config must be readable.

    Args:
      workdir: a `tfglow-train` workdir.
      checkpoint: which checkpoint; see `resolve_checkpoint`. Default: the latest.

    Returns:
      A `TrainedGlow` whose model holds the EMA weights.

    Raises:
      FileNotFoundError: without a config or checkpoint.
      ValueError: for a model other than Glow, a checkpoint that does not match the config, or an
        uninitialised model.
    """
    config = config_lib.read_config(workdir)
    name = config.model.get('name', 'glow')
    if name != 'glow':
        raise ValueError(
            f"only config.model.name 'glow' can be restored here; {workdir} trained {name!r}"
        )
    path = resolve_checkpoint(workdir, checkpoint)
    info = data.get_info(config.data)
    model = glow.build_model(config.model, info.image_shape, info.num_classes, seed=config.seed)
    ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    # The optimizer's slots are in the checkpoint too; only the model, EMA and step are needed.
    checkpoint = tf.train.Checkpoint(model=model, ema=ema, step=step)
    try:
        checkpoint.restore(path).expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ValueError(
            f'checkpoint {path} does not match the model built from {workdir}/config.json '
            f'(was the config edited after training?). Details: {e}'
        ) from e
    if not bool(model.is_initialized):
        raise ValueError(f'checkpoint {path} holds a model whose data-dependent init never ran')
    # The averaged weights are what the evaluator scores; the raw ones are not used again.
    for variable, shadow in zip(model.trainable_variables, ema.shadows, strict=True):
        variable.assign(shadow)
    return TrainedGlow(
        model=model,
        config=config,
        checkpoint=path,
        step=int(step.numpy()),
        class_names=info.class_names,
    )
