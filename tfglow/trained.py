"""A trained run restored from its workdir with its EMA weights, and a trained flow's image maps.

One owner of "a trained model": `restore_run(workdir)` reads the workdir's `config.json` once,
resolves the checkpoint once, rebuilds the model with the trainer's task (any model family) and
puts the EMA (Polyak) weights into it: the weights the evaluators score and the exports serve.
`training_checkpoint` is the checkpoint layout `tfglow-train` writes and this module reads.

`FlowImages` maps uint8 pixels to a flow's latents and back, in the convention that the exports,
the latent codec, the attribute tool and the sampling tool share (levels as in `tfglow.pixels`):

```none
encode:  x = bin_centres(images, n_bits)                        the centre of each pixel's bin
         latents = model.encode(x)                               per level, finest first
         flat = concat([reshape(eps_l, [B, -1]) for eps_l in latents])   openai/glow demo's order
decode:  images = flow_to_uint8(model.decode(unflatten(flat)), n_bits)
```

so `decode(encode(images))` gives back the images' levels (`images` itself for data in
`tfglow.pixels`' levels, e.g. every 8-bit image). `TrainedGlow` is a Glow run's `FlowImages`.

#### Examples

```python
trained = load_trained_glow('workdirs/fashion_mnist_glow')   # latest checkpoint
flat = trained.encode(images)                                  # [B, H*W*C]
assert (trained.decode(flat).numpy() == images).all()
run = restore_run('workdirs/omniglot_fewshot_glow', 'best')    # any family: run.model, run.task
```
"""

import dataclasses
import math
import os

import ml_collections
import tensorflow as tf

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import config_lib, pixels, tasks
from tfglow.ema import ExponentialMovingAverage

__all__ = [
    'FlowImages',
    'TrainedGlow',
    'TrainedRun',
    'load_trained_glow',
    'resolve_checkpoint',
    'restore_run',
    'training_checkpoint',
]

# The sub-directories of a training workdir that hold checkpoints (see tfglow.train).
_CHECKPOINT_DIRS = {'latest': 'checkpoints', 'best': 'best'}
# Sampling noise is drawn from this stream of the request's seed, one fold-in per level.
_SAMPLE_STREAM = 3


def training_checkpoint(
    model: tf.Module, ema: ExponentialMovingAverage, step: tf.Variable, **training_state
) -> tf.train.Checkpoint:
    """The checkpoint of a `tfglow-train` run: `model`, `ema`, `step` and the training state.

    Args:
      model: the model, holding the raw (trained) weights.
      ema: the average of its trainable variables.
      step: int64 variable, the training step.
      **training_state: what only resuming needs (the optimizer, counters), by name.
    """
    return tf.train.Checkpoint(model=model, ema=ema, step=step, **training_state)


@dataclasses.dataclass(frozen=True)
class TrainedRun:
    """A model restored from a training workdir.

    Attributes:
      model: the model of the run's family, its variables set to the checkpoint's EMA weights.
      task: the trainer's task of the run (its `config` and data `info`).
      checkpoint: path prefix of the restored checkpoint.
      step: the training step of that checkpoint.
    """

    model: tf.Module
    task: tasks.Task
    checkpoint: str
    step: int

    @property
    def config(self) -> ml_collections.ConfigDict:
        """The run's config, as `tfglow-train` wrote it (with any `data_path` override)."""
        return self.task.config

    @property
    def family(self) -> str:
        """`config.model.name`: 'glow', 'fewshot_glow', 'pixelcnn', 'attention_pixelcnn' or
        'meta_pixelcnn'."""
        return self.config.model.name


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
            f'no training run in {workdir}: no checkpoint in {directory}; train with '
            f'tfglow-train --config=<config file> --workdir={workdir} first, '
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


def restore_run(
    workdir: str, checkpoint: str | int | None = None, *, data_path: str = ''
) -> TrainedRun:
    """Rebuilds a `tfglow-train` workdir's model and restores a checkpoint's EMA weights.

    Reads `workdir/config.json` and the data's metadata (image shape, classes) through the
    trainer's task, so the data source named in the config must be readable.

    Args:
      workdir: the training run's directory (`config.json`, `checkpoints/`, `best/`).
      checkpoint: which checkpoint; see `resolve_checkpoint`. Default: the latest.
      data_path: if set, replaces the run's `config.data.path` (data moved since training).

    Raises:
      FileNotFoundError: without the workdir, its config or the checkpoint.
      ValueError: for an unknown model name, a checkpoint that does not match the config, or a
        model whose data-dependent init never ran.
    """
    if not tf.io.gfile.isdir(workdir):
        raise FileNotFoundError(
            f'no training run in {workdir}: the directory does not exist; train with '
            f'tfglow-train --config=<config file> --workdir={workdir} first'
        )
    config = config_lib.read_config(workdir)
    if data_path:
        config.data.path = data_path
    # The trainer's task builds the model exactly as it was trained.
    task = tasks.get_task(config)
    path = resolve_checkpoint(workdir, checkpoint)
    model = task.build_model()
    ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    # The checkpoint also holds the optimizer: only the model, the EMA and the step are read.
    try:
        status = training_checkpoint(model, ema, step).restore(path)
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ValueError(
            f'checkpoint {path} does not match the model built from {workdir}/config.json (a '
            f'{config.model.name!r} model; was the config edited after training?). Details: {e}'
        ) from e
    if not task.is_initialized(model):
        raise ValueError(f'checkpoint {path} holds a model whose data-dependent init never ran.')
    # The averaged weights are what the evaluators score; the raw ones are not used again.
    ema.copy_to_variables()
    return TrainedRun(model=model, task=task, checkpoint=path, step=int(step.numpy()))


class FlowImages:
    """uint8 images <-> latents, samples and bits/dim of a Glow (see the module docstring).

    Args:
      model: a `tfp_flows.Glow` (class-conditional ones take `label` in every method).
      n_bits: bits per sub-pixel it was trained on (`config.model.n_bits_x`).
    """

    def __init__(self, model: tfp_flows.Glow, n_bits: int):
        self.model = model
        self.n_bits = int(n_bits)
        dq.num_bins(self.n_bits)  # Checks the range.

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(int(d) for d in self.model.image_shape)

    @property
    def latent_shapes(self) -> tuple[tuple[int, int, int], ...]:
        return tuple(tuple(int(d) for d in shape) for shape in self.model.latent_shapes)

    @property
    def latent_size(self) -> int:
        """Length `D` of a flat latent: `H * W * C`, since the flow preserves dimension."""
        return sum(math.prod(shape) for shape in self.latent_shapes)

    @property
    def num_classes(self) -> int:
        """Classes of a class-conditional model (every method then needs `label`), else 0."""
        return int(self.model.num_classes)

    def flatten(self, latents: list[tf.Tensor]) -> tf.Tensor:
        """Per-level latents (finest first) -> `[B, D]`."""
        batch = tf.shape(latents[0])[0]
        return tf.concat([tf.reshape(eps, [batch, -1]) for eps in latents], axis=1)

    def unflatten(self, flat: tf.Tensor) -> list[tf.Tensor]:
        """`[B, D]` -> per-level latents `[B, h_l, w_l, c_l]`, finest first."""
        sizes = [math.prod(shape) for shape in self.latent_shapes]
        parts = tf.split(flat, sizes, axis=1)
        batch = tf.shape(flat)[0]
        return [
            tf.reshape(part, tf.concat([[batch], shape], axis=0))
            for part, shape in zip(parts, self.latent_shapes, strict=True)
        ]

    def encode_levels(self, images: tf.Tensor, label: tf.Tensor | None = None) -> list[tf.Tensor]:
        """uint8 images `[B, H, W, C]` -> per-level latents (the bin centres' encoding)."""
        return self.model.encode(pixels.bin_centres(images, self.n_bits), label=label)

    def encode(self, images: tf.Tensor, label: tf.Tensor | None = None) -> tf.Tensor:
        """uint8 images `[B, H, W, C]` -> flat latents `[B, D]`."""
        return self.flatten(self.encode_levels(images, label))

    def encode_outputs(
        self, images: tf.Tensor, label: tf.Tensor | None = None
    ) -> dict[str, tf.Tensor]:
        """The exports' `encode`: `{'latents': [B, D], 'latents_<l>': [B, h_l, w_l, c_l]}`."""
        levels = self.encode_levels(images, label)
        outputs = {'latents': self.flatten(levels)}
        outputs.update({f'latents_{level}': eps for level, eps in enumerate(levels)})
        return outputs

    def decode(self, flat: tf.Tensor, label: tf.Tensor | None = None) -> tf.Tensor:
        """Flat latents `[B, D]` -> uint8 images `[B, H, W, C]`."""
        x = self.model.decode(self.unflatten(flat), label=label)
        return pixels.flow_to_uint8(x, self.n_bits)

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
        return pixels.flow_to_uint8(self.model.decode(latents, label=label), self.n_bits)

    def bits_per_dim(
        self, images: tf.Tensor, noise: tf.Tensor, label: tf.Tensor | None = None
    ) -> tf.Tensor:
        """Per-image bits/dim `[B]` of uint8 images dequantised with U(0, 1) `noise`.

        The same computation as `tfglow.evaluate.BitsPerDimEvaluator` for the same noise.
        """
        x = pixels.dequantized(images, self.n_bits, noise)
        kwargs = {} if label is None else {'label': label}
        log_prob = self.model.log_prob(x, **kwargs)
        return dq.bits_per_dim(log_prob, math.prod(self.image_shape), self.n_bits)


class TrainedGlow(FlowImages):
    """A Glow run's model with its EMA weights, and its uint8 <-> latent maps (`FlowImages`).

    Attributes:
      model: the `tfp_flows.Glow`, its variables set to the checkpoint's EMA weights.
      config: the run's config, as `tfglow-train` wrote it to the workdir.
      checkpoint: path prefix of the restored checkpoint.
      step: the training step of that checkpoint.
      class_names: the data's class names, or None when the source has none.
    """

    def __init__(self, run: TrainedRun):
        if run.family != 'glow':
            raise ValueError(
                f"only config.model.name 'glow' can be restored here; {run.checkpoint} holds a "
                f'{run.family!r} model'
            )
        super().__init__(run.model, run.config.model.n_bits_x)
        self.config = run.config
        self.checkpoint = run.checkpoint
        self.step = run.step
        self.class_names = run.task.info.class_names

    @property
    def noise_seed(self) -> int:
        """Seed of the evaluator's dequantisation noise in this run (`config.seed`)."""
        return int(self.config.seed)


def load_trained_glow(workdir: str, checkpoint: str | int | None = None) -> TrainedGlow:
    """A Glow workdir's model with the EMA weights of one of its checkpoints (see `restore_run`).

    Raises:
      FileNotFoundError: without the workdir, a config or checkpoint.
      ValueError: for a model other than Glow, a checkpoint that does not match the config, or an
        uninitialised model.
    """
    return TrainedGlow(restore_run(workdir, checkpoint))
