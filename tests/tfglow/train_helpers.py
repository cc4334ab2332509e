"""Subprocess entry points for the distributed training tests (not a test module itself).

Strategies and logical devices must be set up before TensorFlow starts, so each check runs in a
fresh process:

  python -m tests.tfglow.train_helpers mirrored CONFIG OUT.npz
  TF_CONFIG=... python -m tests.tfglow.train_helpers worker CONFIG WORKDIR OUT.npz [overrides]
  python -m tests.tfglow.train_helpers train CONFIG WORKDIR [overrides]
"""

import ast
import os
import subprocess
import sys
from collections.abc import Callable

import numpy as np
import tensorflow as tf
from absl import logging

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE_CONFIG = os.path.join(REPO_ROOT, 'configs', 'fashion_mnist_glow.py') + ':smoke'


def subprocess_env(**extra: str) -> dict[str, str]:
    """The environment for a training subprocess: this one, quieter, plus `extra`."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2', **extra)
    env.pop('TF_CONFIG', None)
    env.update(extra)
    return env


def watch(
    command: list[str], on_line: Callable[[str, subprocess.Popen], None], timeout: int = 120
) -> tuple[subprocess.Popen, str]:
    """Runs `command` in the repository, calling `on_line(line, process)` on each output line.

    Returns the ended process and its stdout and stderr, merged.
    """
    process = subprocess.Popen(
        command,
        cwd=REPO_ROOT,
        env=subprocess_env(),
        stdout=subprocess.PIPE,
        stderr=subprocess.STDOUT,
        text=True,
    )
    log = []
    try:
        for line in process.stdout:
            log.append(line)
            on_line(line, process)
        process.wait(timeout=timeout)
    finally:
        process.kill()
    return process, ''.join(log)


def _one_update(strategy, config, batch, init_images):
    """Builds, initialises and trains a model for two steps on `batch` under `strategy`.

    Returns the losses, the weights, the EMA shadows, and the bits/dim of the first 5 images of
    `batch` in batches of 4 (so one replica of two gets an empty last batch).
    """
    from tfglow import data, evaluate, tasks, train_step
    from tfglow.ema import ExponentialMovingAverage

    task = tasks.get_task(config, data.get_info(config.data))
    with strategy.scope():
        model = task.build_model()
        optimizer = train_step.make_optimizer(config)
        optimizer.build(model.trainable_variables)
        ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay)
        model.initialize(init_images)
        ema.reset()
    step = tf.function(
        train_step.make_train_step(
            model, task.loss, optimizer, ema, strategy, global_batch_size=config.batch_size
        )
    )
    replicas = strategy.num_replicas_in_sync
    per_replica = config.batch_size // replicas

    def split(ctx):
        start = ctx.replica_id_in_sync_group * per_replica
        return {k: v[start : start + per_replica] for k, v in batch.items()}

    losses = []
    for _ in range(2):
        dist_batch = strategy.experimental_distribute_values_from_function(split)
        metrics = step(dist_batch, tf.constant(0.0))
        losses.append(float(metrics['loss']))
    copies = [strategy.experimental_local_results(v) for v in model.trainable_variables]
    # Every replica's copy must have received the same update.
    for per_device in copies:
        for other in per_device[1:]:
            np.testing.assert_array_equal(per_device[0].numpy(), other.numpy())
    weights = [c[0].numpy() for c in copies]
    shadows = [strategy.experimental_local_results(s)[0].numpy() for s in ema.shadows]
    eval_data = tf.data.Dataset.from_tensor_slices({k: v[:5] for k, v in batch.items()}).batch(4)
    bits = evaluate.evaluate_bits_per_dim(
        model, eval_data, config.model.n_bits_x, strategy=strategy
    )
    return losses, weights, shadows, bits


def mirrored(config_spec: str, out_path: str) -> None:
    """Two steps on one device vs MirroredStrategy over 2 logical CPUs, same global batch."""
    (cpu,) = tf.config.list_physical_devices('CPU')
    tf.config.set_logical_device_configuration(cpu, [tf.config.LogicalDeviceConfiguration()] * 2)
    from tfglow import config_lib, data

    config = config_lib.load_config(config_spec)
    config.batch_size = 8
    dataset = data.make_dataset(config.data, 'train', 16, training=True, seed=1)
    images = next(iter(dataset))
    batch = {
        'image': images['image'][:8],
        'label': images['label'][:8],
        'noise': tf.random.stateless_uniform(images['image'][:8].shape, seed=[1, 2]),
    }
    init_images = tf.cast(images['image'][8:], tf.float32) / 256.0 - 0.5
    single = _one_update(tf.distribute.OneDeviceStrategy('/cpu:0'), config, batch, init_images)
    double = _one_update(
        tf.distribute.MirroredStrategy(['/cpu:0', '/cpu:1']), config, batch, init_images
    )
    arrays = {}
    for name, result in (('single', single), ('mirrored', double)):
        losses, weights, shadows, bits = result
        arrays[f'{name}_losses'] = np.array(losses)
        arrays[f'{name}_eval_bits'] = np.array(bits)
        for i, (w, s) in enumerate(zip(weights, shadows, strict=True)):
            arrays[f'{name}_w{i}'] = w
            arrays[f'{name}_s{i}'] = s
    np.savez(out_path, **arrays)


def _load_config(config_spec: str, overrides: tuple[str, ...]):
    """The config `config_spec` with `key.sub=value` overrides (Python literals, or strings)."""
    from tfglow import config_lib

    config = config_lib.load_config(config_spec)
    for override in overrides:
        key, value = override.split('=')
        section = config
        *parents, leaf = key.split('.')
        for parent in parents:
            section = section[parent]
        section[leaf] = value if isinstance(section[leaf], str) else ast.literal_eval(value)
    return config


def train(config_spec: str, workdir: str, *overrides: str) -> None:
    """One training run, as `tfglow-train` runs it, with `_load_config`'s overrides."""
    from tfglow import train as train_lib

    train_lib.train_and_evaluate(_load_config(config_spec, overrides), workdir)


def worker(config_spec: str, workdir: str, out_path: str, *overrides: str) -> None:
    """One multi-worker training process; saves its weights right after init and at the end."""
    from tfglow import train
    from tfglow.models import glow

    config = _load_config(config_spec, overrides)
    arrays = {}
    build_model = glow.build_model

    def recording_build_model(*args, **kwargs):
        model = build_model(*args, **kwargs)
        initialize = model.initialize

        def recording_initialize(*a, **k):
            result = initialize(*a, **k)
            arrays['init_values'] = [v.numpy() for v in model.variables]
            return result

        model.initialize = recording_initialize
        arrays['model'] = model
        return model

    glow.build_model = recording_build_model
    train.train_and_evaluate(config, workdir)
    model = arrays['model']
    out = {f'final_{i}': v.numpy() for i, v in enumerate(model.variables)}
    out.update({f'init_{i}': v for i, v in enumerate(arrays['init_values'])})
    np.savez(out_path, **out)


if __name__ == '__main__':
    # INFO, as the binaries log: the tests follow the training log (absl logs only warnings
    # without app.run).
    logging.set_verbosity(logging.INFO)
    {'mirrored': mirrored, 'train': train, 'worker': worker}[sys.argv[1]](*sys.argv[2:])
