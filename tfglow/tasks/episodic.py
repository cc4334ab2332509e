"""Support-conditioned models trained on episodes and scored by their conditional likelihood.

An episode is K support images and one target image of one class (`tfglow.data.episodic`):

```none
train:  K ~ U{k_min..k_max} per batch,  classes of data.train_split (episodes.train_classes)
        loss = -log p(target | support) / (H * W * C * ln 2)                  bits/dim
eval:   K = episodes.eval_support_size, classes of data.eval_split (episodes.eval_classes),
        num_eval_examples episodes (0: one per image of those classes), a fixed seed
        metrics: -log p(target | support) in nats/image and in bits/dim, and the specificity
        gap log p(target | support) - log p(target | other_support) in nats/image, where
        other_support is K images of another class of the target's group (Omniglot: alphabet;
        any other class where there are no groups), with the same noise
```

The evaluation episodes are drawn with the fixed `EVAL_EPISODE_SEED`, not `config.seed`, so runs
with different seeds and different models are scored on the very same episodes. The specificity
gap (`tfglow.fewshot.specificity` measures it fully) doubles the evaluation's model calls; near 0
it says the model reads the support's style but not which character it shows.
"""

import abc
import functools
import math

import numpy as np
import tensorflow as tf

from tfglow import data, evaluate, pixels
from tfglow.data import episodic
from tfglow.tasks import base

__all__ = ['EVAL_EPISODE_SEED', 'EpisodicTask']

EVAL_EPISODE_SEED = 0


class EpisodicTask(base.Task):
    """A model of `p(target | support)` trained and evaluated on episodes (see the module doc).

    Subclasses give the model, `target_nats` (the per-episode conditional NLL in nats) and
    `sample_levels` (samples for each support set).
    """

    metric_names = ('bits_per_dim', 'nats_per_image')
    example_unit = 'episodes'
    # An evaluation metric only: training episodes carry no other support.
    SPECIFICITY_GAP = 'specificity_gap_nats'

    @functools.cached_property
    def train_class_arrays(self) -> dict[str, np.ndarray]:
        config = self.config
        classes = config.episodes.train_classes or None
        arrays = data.load_class_arrays(config.data, config.data.train_split, classes)
        # Workdirs written before the key existed trained on the classes as they are.
        if config.episodes.get('rotate_train_classes', False):
            arrays = episodic.with_rotations(arrays)
        return arrays

    @functools.cached_property
    def eval_class_arrays(self) -> dict[str, np.ndarray]:
        config = self.config
        classes = config.episodes.eval_classes or None
        return data.load_class_arrays(config.data, config.data.eval_split, classes)

    @property
    def num_eval_episodes(self) -> int:
        """`num_eval_examples`, or one episode per image of the evaluation classes."""
        return self.config.num_eval_examples or sum(len(a) for a in self.eval_class_arrays.values())

    def train_episodes(
        self, input_context: tf.distribute.InputContext, start_step: int
    ) -> tuple[tf.data.Dataset, int]:
        """One pipeline's training episodes from step `start_step` on, and their first index."""
        config = self.config
        first_batch = start_step * base.replicas_per_pipeline(input_context)
        dataset = episodic.make_episodes(
            self.train_class_arrays,
            config.batch_size,
            config.episodes.k_min,
            config.episodes.k_max,
            seed=config.seed,
            first_batch=first_batch,
            input_context=input_context,
        )
        return dataset, first_batch

    @property
    def measures_specificity(self) -> bool:
        """Whether evaluation has the specificity gap: it needs two evaluation classes."""
        return len(self.eval_class_arrays) >= 2

    def eval_episodes(self) -> tf.data.Dataset:
        """The fixed evaluation episodes, `num_eval_episodes` of them in global batches, with
        an `'other_support'` each where `measures_specificity`."""
        config = self.config
        size = config.episodes.eval_support_size
        count = self.num_eval_episodes
        dataset = episodic.make_episodes(
            self.eval_class_arrays,
            config.eval_batch_size,
            size,
            size,
            seed=EVAL_EPISODE_SEED,
            num_batches=math.ceil(count / config.eval_batch_size),
            other_support=self.measures_specificity,
        )
        return dataset.unbatch().take(count).batch(config.eval_batch_size)

    def train_dataset(self, input_context, start_step):
        return self.train_episodes(input_context, start_step)[0]

    def eval_dataset(self) -> tf.data.Dataset:
        """What the evaluator reads: the evaluation episodes (plus whatever the model needs)."""
        return self.eval_episodes()

    @abc.abstractmethod
    def target_nats(self, model, batch: dict) -> tf.Tensor:
        """`-log p(target | support)` in nats per image, `[B]`, of a batch of episodes."""

    @abc.abstractmethod
    def sample_levels(self, model, episodes: dict, num: int, temperature: float) -> np.ndarray:
        """`num` samples for each support set of `episodes`: levels `[sets, num, H, W, C]`."""

    def loss(self, model, batch):
        return base.nats_metrics(self.target_nats(model, batch), self.num_dims)

    def eval_metrics(self, model, batch: dict) -> dict[str, tf.Tensor]:
        """The per-episode evaluation metrics: the loss's, and the specificity gap in nats."""
        metrics = self.loss(model, batch)[1]
        if self.measures_specificity:
            # The same targets (and noise) under the other class's support.
            other_nats = self.target_nats(model, {**batch, 'support': batch['other_support']})
            metrics[self.SPECIFICITY_GAP] = other_nats - metrics['nats_per_image']
        return metrics

    def make_evaluator(self, model, strategy):
        dataset = self.eval_dataset()
        names = self.metric_names + ((self.SPECIFICITY_GAP,) if self.measures_specificity else ())
        evaluator = evaluate.MeanEvaluator(
            lambda batch: self.eval_metrics(model, batch), names, strategy=strategy
        )
        return lambda: evaluator(dataset)

    def sample_grids(self, model):
        """Per temperature: one row per evaluation support set, its K images then its samples.

        The sets are the first evaluation episodes, the same at every evaluation.
        """
        config = self.config
        num_rows, num_cols = base.grid_layout(config.num_samples)
        episodes = next(iter(self.eval_episodes().unbatch().batch(num_rows)))
        n_bits = config.model.n_bits_x
        support = pixels.to_uint8(pixels.to_levels(episodes['support'], n_bits), n_bits).numpy()
        return {
            float(temperature): base.support_grid(
                support,
                pixels.to_uint8(
                    self.sample_levels(model, episodes, num_cols, temperature), n_bits
                ).numpy(),
            )
            for temperature in config.sample_temperatures
        }

    def evaluation_details(self):
        config = self.config
        names = list(self.eval_class_arrays)
        others, _ = episodic.other_classes(names) if len(names) >= 2 else (None, None)
        same_group = others is not None and any(
            episodic.group_of(names[c]) == episodic.group_of(names[int(row[0])]) != ''
            for c, row in enumerate(others)
        )
        gap = (
            'log p(target | support) - log p(target | K images of another class of its '
            + ('group (alphabet)' if same_group else 'split: any other class, no groups')
            + '), nats/image, same noise'
        )
        return {
            'eval_split': config.data.eval_split,
            'num_eval_classes': len(self.eval_class_arrays),
            'num_eval_episodes': self.num_eval_episodes,
            'eval_support_size': config.episodes.eval_support_size,
            'eval_episode_seed': EVAL_EPISODE_SEED,
            'metric': 'negative log-likelihood of each target image given K support images of '
            'its class, in nats/image and bits/dim',
            self.SPECIFICITY_GAP: gap if self.measures_specificity else 'not measured: one class',
        }
