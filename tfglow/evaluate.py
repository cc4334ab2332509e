"""Bits per dimension of a model over a whole dataset, on one device or under tf.distribute."""

import tensorflow as tf

import tfp_flows.dequantization as dq

__all__ = ['BitsPerDimEvaluator', 'evaluate_bits_per_dim']

# Separates the evaluation noise stream from the training and init streams drawn from the same seed.
_EVAL_NOISE_STREAM = 2


def _add_per_example_noise(dataset: tf.data.Dataset, seed: int) -> tf.data.Dataset:
    """Adds `'noise'`: U(0, 1) of the image's shape, seeded by the example's position in `dataset`.

    Seeding per example (not per batch or per replica) makes the result independent of the batch
    size and of how batches are split across replicas and workers.
    """
    base = tf.constant([seed, _EVAL_NOISE_STREAM], tf.int64)

    def add(offset, batch):
        size = tf.shape(batch['image'], out_type=tf.int64)[0]
        shape = tf.shape(batch['image'])[1:]
        noise = tf.map_fn(
            lambda i: tf.random.stateless_uniform(
                shape, seed=tf.random.experimental.stateless_fold_in(base, i)
            ),
            offset + tf.range(size),
            fn_output_signature=tf.float32,
        )
        return offset + size, dict(batch, noise=noise)

    return dataset.scan(tf.constant(0, tf.int64), add)


class BitsPerDimEvaluator:
    """Mean bits/dim of a model over every image of a dataset; reusable across calls.

    Keeps one traced evaluation step, so evaluating every few thousand training steps does not
    retrace. Each image gets its own uniform dequantisation noise, seeded by its position in the
    dataset, so the number depends on the model and the data only, not on batch size or
    distribution. The mean is over images (a partial last batch counts each of its images once),
    accumulated in float64.

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
        self._strategy = strategy or tf.distribute.get_strategy()
        self._use_labels = use_labels
        self._seed = seed
        self._step = tf.function(self._distributed_step, reduce_retracing=True)

    def _replica_step(self, batch):
        images = batch['image']
        num_dims = images.shape[1:].num_elements()
        if num_dims is None:
            raise ValueError(
                f'Evaluation images need a static [H, W, C] shape; got {images.shape}.'
            )

        def total_bits():
            x = dq.preprocess(images, self._n_bits)
            x = dq.dequantize(x, self._n_bits, noise=batch['noise'])
            if self._use_labels:
                log_prob = self._model.log_prob(x, label=batch['label'])
            else:
                log_prob = self._model.log_prob(x)
            bits = dq.bits_per_dim(log_prob, num_dims, self._n_bits)
            return tf.reduce_sum(tf.cast(bits, tf.float64))

        # A partial last batch can leave some replicas with no images; not every model accepts an
        # empty batch, so those replicas contribute zero without calling it.
        count = tf.shape(images)[0]
        total = tf.cond(count > 0, total_bits, lambda: tf.constant(0.0, tf.float64))
        return total, tf.cast(count, tf.float64)

    def _distributed_step(self, batch):
        total, count = self._strategy.run(self._replica_step, args=(batch,))
        reduce = lambda value: self._strategy.reduce(tf.distribute.ReduceOp.SUM, value, axis=None)
        return reduce(total), reduce(count)

    def __call__(self, dataset: tf.data.Dataset) -> float:
        """Returns the mean bits/dim over `dataset`, batches of `{'image': uint8 [B, H, W, C]}`.

        Raises:
          ValueError: if the dataset yields no images.
        """
        options = tf.data.Options()
        # Sharding by example (not by file) gives every worker its share of every batch, so each
        # image is evaluated exactly once whatever the number of files.
        options.experimental_distribute.auto_shard_policy = (
            tf.data.experimental.AutoShardPolicy.DATA
        )
        dataset = _add_per_example_noise(dataset, self._seed).with_options(options)
        total, count = 0.0, 0.0
        for batch in self._strategy.experimental_distribute_dataset(dataset):
            batch_total, batch_count = self._step(batch)
            total += float(batch_total)
            count += float(batch_count)
        if count == 0:
            raise ValueError('The evaluation dataset is empty: no images to compute bits/dim on.')
        return total / count


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
