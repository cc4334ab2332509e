"""Per-example means (bits/dim and others) of a model over a dataset, on one device or many."""

from collections.abc import Callable, Sequence

import tensorflow as tf

import tfp_flows.dequantization as dq
from tfglow import pixels
from tfglow.progress import Progress

__all__ = ['BitsPerDimEvaluator', 'MeanEvaluator', 'evaluate_bits_per_dim']


def _add_per_example_noise(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Adds `'noise'`: U(0, 1) of the image's shape, seeded by the example's position in `dataset`.

    Seeding per example (not per batch or per replica) makes the result independent of the batch
    size and of how batches are split across replicas and workers (`tfglow.pixels.uniform_noise`).
    """

    def add(offset, batch):
        size = tf.shape(batch['image'], out_type=tf.int64)[0]
        shape = tf.shape(batch['image'])[1:]
        noise = pixels.uniform_noise(seed, offset + tf.range(size), shape)
        return offset + size, dict(batch, noise=noise)

    return dataset.scan(tf.constant(0, tf.int64), add)


class MeanEvaluator:
    """Means of per-example values over every example of a dataset, on one device or distributed.

    Keeps one traced step, so evaluating every few thousand training steps does not retrace. The
    means are over examples (a partial last batch counts each of its examples once), accumulated
    in float64; every example is evaluated exactly once whatever the strategy.

    Args:
      per_example_fn: `batch -> {name: float [B]}`, run on each replica's share of a batch.
      names: the names `per_example_fn` returns.
      strategy: the strategy the model's variables were created under. Default value: the current
        one.
      label: what the progress lines (batches done of the dataset's cardinality, when known)
        call the pass. Default value: 'evaluation'.
    """

    def __init__(
        self,
        per_example_fn: Callable[[dict], dict[str, tf.Tensor]],
        names: Sequence[str],
        *,
        strategy: tf.distribute.Strategy | None = None,
        label: str = 'evaluation',
    ):
        self._per_example_fn = per_example_fn
        self._names = tuple(names)
        self._label = label
        self._strategy = strategy or tf.distribute.get_strategy()
        self._step = tf.function(self._distributed_step, reduce_retracing=True)

    def _replica_step(self, batch):
        def totals():
            values = self._per_example_fn(batch)
            return {name: tf.reduce_sum(tf.cast(values[name], tf.float64)) for name in self._names}

        # A partial last batch can leave some replicas with no examples; not every model accepts
        # an empty batch, so those replicas contribute zero without calling it.
        count = tf.shape(tf.nest.flatten(batch)[0])[0]
        zeros = lambda: {name: tf.constant(0.0, tf.float64) for name in self._names}
        return tf.cond(count > 0, totals, zeros), tf.cast(count, tf.float64)

    def _distributed_step(self, batch):
        totals, count = self._strategy.run(self._replica_step, args=(batch,))
        reduce = lambda value: self._strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
        return tf.nest.map_structure(reduce, totals), reduce(count)

    def __call__(self, dataset: tf.data.Dataset) -> dict[str, float]:
        """Returns `{name: mean over every example of dataset}`.

        Raises:
          ValueError: if the dataset yields no examples.
        """
        options = tf.data.Options()
        # Sharding by example (not by file) gives every worker its share of every batch, so each
        # example is evaluated exactly once whatever the number of files.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        # Negative (unknown) e.g. after a filter: the pass then runs without progress lines.
        num_batches = int(dataset.cardinality())
        progress = Progress(self._label, num_batches, 'batches') if num_batches > 0 else None
        sums, count = dict.fromkeys(self._names, 0.0), 0.0
        for batch in self._strategy.experimental_distribute_dataset(dataset.with_options(options)):
            batch_totals, batch_count = self._step(batch)
            for name in self._names:
                sums[name] += float(batch_totals[name])
            count += float(batch_count)
            if progress:
                progress.advance(1)
        if count == 0:
            raise ValueError('The evaluation dataset is empty: nothing to evaluate.')
        return {name: total / count for name, total in sums.items()}


class BitsPerDimEvaluator:
    """Mean bits/dim of a model over every image of a dataset; reusable across calls.

    Each image gets its own uniform dequantisation noise, seeded by its position in the dataset,
    so the number depends on the model and the data only, not on batch size or distribution (see
    `MeanEvaluator` for the mean itself).

    Args:
      model: a distribution with `log_prob(x)` (and `log_prob(x, label=...)` when `use_labels`)
        taking `[B, H, W, C]` float images in [-0.5, 0.5).
      n_bits: bits per sub-pixel the model was trained on.
      strategy: the strategy the model's variables were created under. Default value: the current
        one.
      use_labels: pass the dataset's labels to `log_prob` (class-conditional models). Default value:
        False.
      seed: seed of the dequantisation noise. Default value: 0.
    """

    def __init__(
        self,
        model,
        n_bits: int,
        *,
        strategy: tf.distribute.Strategy | None = None,
        use_labels: bool = False,
        seed: int = 0,
    ):
        self._model = model
        self._n_bits = n_bits
        self._use_labels = use_labels
        self._seed = seed
        self._mean = MeanEvaluator(
            self._bits_per_dim, ['bits_per_dim'], strategy=strategy, label='bits/dim evaluation'
        )

    def _bits_per_dim(self, batch):
        images = batch['image']
        num_dims = images.shape[1:].num_elements()
        if num_dims is None:
            raise ValueError(
                f'Evaluation images need a static [H, W, C] shape; got {images.shape}.'
            )
        x = pixels.dequantized(images, self._n_bits, batch['noise'])
        if self._use_labels:
            log_prob = self._model.log_prob(x, label=batch['label'])
        else:
            log_prob = self._model.log_prob(x)
        return {'bits_per_dim': dq.bits_per_dim(log_prob, num_dims, self._n_bits)}

    def __call__(self, dataset: tf.data.Dataset) -> float:
        """Returns the mean bits/dim over `dataset`, batches of `{'image': uint8 [B, H, W, C]}`.

        Raises:
          ValueError: if the dataset yields no images.
        """
        dataset = _add_per_example_noise(dataset, self._seed)
        return self._mean(dataset)['bits_per_dim']


def evaluate_bits_per_dim(
    model,
    dataset: tf.data.Dataset,
    n_bits: int,
    *,
    strategy: tf.distribute.Strategy | None = None,
    use_labels: bool = False,
    seed: int = 0,
) -> float:
    """Mean bits/dim of `model` over every image in `dataset`; see `BitsPerDimEvaluator`."""
    evaluator = BitsPerDimEvaluator(
        model, n_bits, strategy=strategy, use_labels=use_labels, seed=seed
    )
    return evaluator(dataset)
