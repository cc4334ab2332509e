"""Seconds per training step of episodic configs, side by side (e.g. the Meta PixelCNN's orders).

  python bench/fewshot_step_time.py \
      --configs=configs/omniglot_meta_pixelcnn.py,configs/omniglot_meta_pixelcnn.py:first_order

Each config's model, built by its task, takes Adam steps (`-mean(log_prob)`, its gradient, the
update, in one `tf.function`) on one batch of its real training data: `--batch_size` episodes
with a support of `--k` images each (an image model's config, a baseline: `--batch_size`
images). The steps of every config are timed in alternating rounds
(`measure.interleaved_rates`), so load from other processes falls on all of them; the table shows
the median and the best of `--rounds` rounds, in seconds per step.
"""

import statistics

import measure
import tensorflow as tf
from absl import app, flags

from tfglow import config_lib, tasks

_CONFIGS = flags.DEFINE_list('configs', None, 'config files with optional :variant', required=True)
_K = flags.DEFINE_integer('k', 5, 'support images per episode')
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 16, 'episodes per step')
_ROUNDS = flags.DEFINE_integer('rounds', 3, 'timing rounds')
_SECONDS = flags.DEFINE_float('seconds_per_round', 10.0, 'seconds each timing lasts')


def _train_step(spec: str):
    """A warm training step of `spec`'s model on fixed episodes; a zero-argument callable."""
    config = config_lib.load_config(spec)
    config.batch_size = _BATCH_SIZE.value
    if 'episodes' in config:  # An image model (a baseline) trains on batch_size images.
        config.episodes.k_min = config.episodes.k_max = _K.value
    task = tasks.get_task(config)
    model = task.build_model()
    batch = next(iter(task.train_dataset(tf.distribute.InputContext(), 0)))
    optimizer = tf.keras.optimizers.Adam(1e-4)

    @tf.function
    def step(batch):
        with tf.GradientTape() as tape:
            loss = tf.reduce_mean(task.loss(model, batch)[0])
        variables = model.trainable_variables
        gradients = tape.gradient(loss, variables, unconnected_gradients='zero')
        optimizer.apply_gradients(zip(gradients, variables))
        return loss

    measure.run(lambda: step(batch))
    return lambda: step(batch)


def main(argv):
    del argv
    calls = {spec: _train_step(spec) for spec in _CONFIGS.value}
    rates = measure.interleaved_rates(calls, 1, _ROUNDS.value, _SECONDS.value)
    print(f'| config | s/step median | s/step best |  ({_BATCH_SIZE.value} episodes, K={_K.value})')
    print('|---|---|---|')
    for spec, steps_per_second in rates.items():
        seconds = [1.0 / rate for rate in steps_per_second]
        print(f'| {spec} | {statistics.median(seconds):.2f} | {min(seconds):.2f} |')


if __name__ == '__main__':
    app.run(main)
