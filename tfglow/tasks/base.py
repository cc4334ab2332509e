"""What `tfglow.train` needs from a model family, and the helpers the families share.

A `Task` turns a config into a model, its training batches, a per-example loss, an evaluation and
sample grids. The training loop (strategies, optimizer, EMA, NaN guard, checkpoints, resume,
TensorBoard) is shared and knows nothing else about the model.
"""

import abc
import math
from collections.abc import Callable

import ml_collections
import numpy as np
import tensorflow as tf

from tfglow import data, images, pixels

__all__ = [
    'ImageTask',
    'Task',
    'add_uniform_noise',
    'grid_layout',
    'nats_metrics',
    'noise_seed',
    'replicas_per_pipeline',
    'support_grid',
]

# Independent random streams drawn from a seed; evaluation noise uses tfglow.pixels' stream.
TRAIN_NOISE_STREAM = 0
INIT_NOISE_STREAM = 1
EVAL_NOISE_STREAM = pixels.DEQUANTIZATION_STREAM

# Sample grids of labelled models show at most this many classes, one per row.
MAX_CLASS_ROWS = 10


class Task(abc.ABC):
    """One model family as `tfglow.train` trains it, built from `config` and the data's `info`.

    Every task's loss reports per-example `metric_names`, always including `'bits_per_dim'`, the
    metric the best checkpoint is chosen by; the evaluation reports the same names.

    Attributes:
      config: the run's config.
      info: the training split's `tfglow.data.DataInfo`.
      metric_names: per-example metrics of the loss and the evaluation.
      example_unit: what one batch element is, for the throughput ('images' or 'episodes').
    """

    metric_names: tuple[str, ...] = ('bits_per_dim',)
    example_unit: str = 'images'

    def __init__(self, config: ml_collections.ConfigDict, info: data.DataInfo):
        self.config = config
        self.info = info

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return tuple(self.info.image_shape)

    @property
    def num_dims(self) -> int:
        """`H * W * C`, the sub-pixels of one image."""
        return math.prod(self.image_shape)

    @abc.abstractmethod
    def build_model(self) -> tf.Module:
        """The untrained model, with initial weights seeded by `config.seed`."""

    def initialize(self, model: tf.Module) -> None:
        """Data-dependent initialisation, run once before training (default: none needed)."""
        del model

    def is_initialized(self, model: tf.Module) -> bool:
        """Whether `model` (e.g. restored from a checkpoint) needs no `initialize`."""
        del model
        return True

    @abc.abstractmethod
    def train_dataset(
        self, input_context: tf.distribute.InputContext, start_step: int
    ) -> tf.data.Dataset:
        """One input pipeline's per-replica training batches, from training step `start_step` on.

        The stream must be a function of `config.seed` alone, so that a resumed run continues it.
        """

    @abc.abstractmethod
    def loss(self, model: tf.Module, batch: dict) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
        """`(loss [B], {name: [B] for name in metric_names})` of one replica's batch."""

    @abc.abstractmethod
    def make_evaluator(
        self, model: tf.Module, strategy: tf.distribute.Strategy
    ) -> Callable[[], dict[str, float]]:
        """A reusable `evaluate() -> {name: mean}` over the evaluation data, for `metric_names`."""

    @abc.abstractmethod
    def sample_grids(self, model: tf.Module) -> dict[float, np.ndarray]:
        """One uint8 image grid `[height, width, C]` per sampling temperature."""

    @abc.abstractmethod
    def evaluation_details(self) -> dict:
        """What the evaluation numbers are computed on, for `eval_results.json`."""


class ImageTask(Task):
    """A task trained and evaluated on batches of single images `{'image', 'label'}`."""

    def evaluation_details(self) -> dict:
        config = self.config
        return {
            'eval_split': config.data.eval_split,
            'num_eval_examples': config.num_eval_examples
            or self.info.split_sizes.get(config.data.eval_split),
        }

    def train_images(
        self, input_context: tf.distribute.InputContext, start_step: int
    ) -> tuple[tf.data.Dataset, int]:
        """Training batches of one pipeline from step `start_step` on, and their first index.

        The pipelines are deterministic (seeded shuffle), so resuming at step `s` skips the
        batches each pipeline already produced: `s * replicas_per_pipeline`.
        """
        config = self.config
        dataset = data.make_dataset(
            config.data,
            config.data.train_split,
            config.batch_size,
            training=True,
            seed=config.seed,
            input_context=input_context,
        )
        first_index = start_step * replicas_per_pipeline(input_context)
        return dataset.skip(first_index), first_index

    def eval_images(self) -> tf.data.Dataset:
        """The evaluation split's batches: its first `num_eval_examples` (0 = all) images."""
        config = self.config
        dataset = data.make_dataset(
            config.data, config.data.eval_split, config.eval_batch_size, training=False
        )
        if config.num_eval_examples > 0:
            dataset = dataset.unbatch().take(config.num_eval_examples)
            dataset = dataset.batch(config.eval_batch_size)
            split_size = self.info.split_sizes.get(config.data.eval_split)
            if split_size:
                # `unbatch` loses the batch count, which the evaluation's progress lines need.
                num_examples = min(config.num_eval_examples, split_size)
                num_batches = math.ceil(num_examples / config.eval_batch_size)
                dataset = dataset.apply(tf.data.experimental.assert_cardinality(num_batches))
        return dataset


def replicas_per_pipeline(input_context: tf.distribute.InputContext) -> int:
    """Replicas fed by each input pipeline: batches one pipeline produces per training step."""
    return input_context.num_replicas_in_sync // input_context.num_input_pipelines


def noise_seed(seed: int, stream: int, pipeline_id: int = 0) -> tf.Tensor:
    """A stateless seed for one noise stream of `seed` and one input pipeline."""
    return tf.random.experimental.stateless_fold_in(
        tf.constant([seed, stream], tf.int64), pipeline_id
    )


def add_uniform_noise(
    dataset: tf.data.Dataset, key: str, base_seed: tf.Tensor, first_index: int, samples: int = 0
) -> tf.data.Dataset:
    """Adds `'noise'`: U(0, 1) of `batch[key]`'s shape, seeded by the batch's index in the stream.

    Args:
      dataset: batches (dicts).
      key: the images the noise dequantises.
      base_seed: stateless seed of the stream (`noise_seed`).
      first_index: index of the dataset's first batch in the stream (resumed runs skip batches).
      samples: if > 0, draw this many noise samples per image: `[B, samples, ...]`.
    """

    def add(index, batch):
        shape = tf.shape(batch[key])
        if samples:
            shape = tf.concat([shape[:1], [samples], shape[1:]], axis=0)
        seed = tf.random.experimental.stateless_fold_in(base_seed, index)
        return dict(batch, noise=tf.random.stateless_uniform(shape, seed=seed))

    return dataset.enumerate(start=first_index).map(add, num_parallel_calls=tf.data.AUTOTUNE)


def nats_metrics(nats: tf.Tensor, num_dims: int) -> tuple[tf.Tensor, dict[str, tf.Tensor]]:
    """The loss (bits/dim) and metrics of per-example negative log-likelihoods in nats/image.

    Training on bits/dim rather than nats keeps the learning rate's meaning independent of the
    image size, as for Glow.
    """
    bits = nats / (num_dims * math.log(2.0))
    return bits, {'bits_per_dim': bits, 'nats_per_image': nats}


def grid_layout(num_samples: int, num_classes: int = 0) -> tuple[int, int]:
    """`(rows, columns)` of a sample grid: one row per class (at most 10), else about square."""
    if num_classes:
        num_rows = min(num_classes, MAX_CLASS_ROWS)
    else:
        num_rows = max(1, math.isqrt(num_samples))
    return num_rows, math.ceil(num_samples / num_rows)


def support_grid(support: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """One row per set: its support images, a blank cell, then its samples.

    Args:
      support: uint8 `[rows, K, H, W, C]`.
      samples: uint8 `[rows, n, H, W, C]`.
    """
    blank = np.zeros_like(support[:, :1])
    cells = np.concatenate([support, blank, samples], axis=1)
    return images.make_grid(cells.reshape(-1, *cells.shape[2:]), num_rows=len(cells))
