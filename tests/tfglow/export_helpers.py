"""Briefly trained Glows shared by the export, attributes and tools tests (not a test module).

Each model is trained once per process (`functools.cache`) on the real Fashion-MNIST idx files,
into a temporary workdir removed at exit; `untrained_workdir` writes any config's model without
training it. Also a subprocess entry point that loads a SavedModel in
a fresh process and calls every signature:

  python -m tests.tfglow.export_helpers call_signatures EXPORT_DIR INPUTS.npz OUTPUTS.npz
"""

import atexit
import functools
import os
import shutil
import subprocess
import sys
import tempfile

import numpy as np

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
SMOKE_CONFIG = os.path.join(REPO_ROOT, 'configs', 'fashion_mnist_glow.py') + ':smoke'
# Steps of the shared model: enough to move test bits/dim well below the initial ~7.8, while
# training in about 15 s on two CPU cores.
TRAIN_STEPS = 300
# The step of `untrained_workdir`'s checkpoint.
UNTRAINED_STEP = 2


def temporary_dir(prefix: str) -> str:
    path = tempfile.mkdtemp(prefix=prefix)
    atexit.register(shutil.rmtree, path, ignore_errors=True)
    return path


@functools.cache
def trained_workdir() -> str:
    """The smoke Glow with additive coupling, trained `TRAIN_STEPS` steps; returns its workdir.

    Additive coupling, as in openai/glow's attribute-manipulation model (CelebA-HQ): after a few
    hundred steps the affine coupling's inverse (a division by its learned scale) blows up
    decodings a short way off the data, so edits along a direction stop being monotonic there.
    """
    from tfglow import config_lib, train

    config = config_lib.load_config(SMOKE_CONFIG)
    config.model.coupling = 'additive'
    config.num_train_steps = TRAIN_STEPS
    config.warmup_steps = 20
    config.log_every_steps = 100
    config.checkpoint_every_steps = 100  # Several checkpoints, for checkpoint selection tests.
    config.keep_checkpoints = 5
    config.eval_every_steps = 10_000
    workdir = temporary_dir('tfglow_export_test_')
    train.train_and_evaluate(config, workdir)
    return workdir


@functools.cache
def conditional_workdir() -> str:
    """A class-conditional smoke Glow (openai/glow's ycond, weight_y 0.01) after 2 steps."""
    from tfglow import config_lib, train

    config = config_lib.load_config(SMOKE_CONFIG)
    config.model.class_conditional = True
    config.model.weight_y = 0.01
    config.num_train_steps = 2
    config.num_eval_examples = 16
    workdir = temporary_dir('tfglow_export_conditional_test_')
    train.train_and_evaluate(config, workdir)
    return workdir


@functools.cache
def untrained_workdir(spec: str) -> str:
    """A workdir of config `spec`'s model as `tfglow-train` leaves it, without the training.

    The model is initialised as the trainer does (data-dependent init on real data), moved off
    its zero-initialised state (so that a support set matters), and saved with its EMA weights
    in a checkpoint at step `UNTRAINED_STEP`, the raw weights differing from the EMA weights.
    """
    import tensorflow as tf

    from tfglow import config_lib, tasks, trained
    from tfglow.ema import ExponentialMovingAverage
    from tfp_flows import testing

    config = config_lib.load_config(spec)
    workdir = temporary_dir('tfglow_untrained_')
    config_lib.write_config(config, workdir)
    task = tasks.get_task(config)
    model = task.build_model()
    task.initialize(model)
    # More than 0.01 blows the smoke flows' densities up.
    testing.perturb_variables(model, 0.01, seed=1)
    ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay)
    ema.reset()
    # The raw weights differ from their average: only the average may be exported.
    testing.perturb_variables(model, 0.01, seed=2)
    step = tf.Variable(UNTRAINED_STEP, dtype=tf.int64)
    checkpoint = trained.training_checkpoint(model, ema, step)
    manager = tf.train.CheckpointManager(
        checkpoint, os.path.join(workdir, 'checkpoints'), max_to_keep=1, step_counter=step
    )
    manager.save(checkpoint_number=UNTRAINED_STEP)
    return workdir


def eval_images(workdir: str, count: int) -> tuple[np.ndarray, np.ndarray]:
    """The first `count` test-split images and labels of a workdir's data, in order."""
    from tfglow import config_lib, data

    config = config_lib.read_config(workdir)
    dataset = data.make_dataset(config.data, config.data.eval_split, count, training=False)
    batch = next(dataset.as_numpy_iterator())
    return batch['image'], batch['label']


def subprocess_env() -> dict[str, str]:
    """This environment, quieter, without a TF_CONFIG that would make TF multi-worker."""
    env = dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2')
    env.pop('TF_CONFIG', None)
    return env


def run(command: list[str], timeout: int = 300) -> subprocess.CompletedProcess:
    """Runs `command` from the repo root; returns it with text stdout and stderr."""
    return subprocess.run(
        command,
        cwd=REPO_ROOT,
        env=subprocess_env(),
        capture_output=True,
        text=True,
        timeout=timeout,
    )


def console_script(name: str) -> str:
    """The path of console script `name` next to this interpreter (else on PATH)."""
    script = os.path.join(os.path.dirname(sys.executable), name)
    script = script if os.path.exists(script) else shutil.which(name)
    if not script:
        raise AssertionError(f'{name} is not installed: run `pip install -e .` first')
    return script


def call_signatures(export_dir: str, inputs_path: str, outputs_path: str) -> None:
    """Loads `export_dir` and calls every signature on `inputs_path`'s arrays.

    Writes `<signature>/<output>` arrays to `outputs_path`.
    """
    import tensorflow as tf

    inputs = dict(np.load(inputs_path))
    signatures = tf.saved_model.load(export_dir).signatures
    calls = {
        'serving_default': dict(num=inputs['num'], temperature=inputs['temperature'], seed=0),
        'bits_per_dim': dict(images=inputs['images']),
        'encode': dict(images=inputs['images']),
        'decode': dict(latents=inputs['latents']),
        'interpolate': dict(
            images_a=inputs['images'][:2], images_b=inputs['images'][2:4], num_steps=3
        ),
        'manipulate': dict(
            images=inputs['images'], attribute=inputs['attribute'], alpha=inputs['alpha']
        ),
    }
    outputs = {}
    for name, kwargs in calls.items():
        specs = signatures[name].structured_input_signature[1]
        kwargs = {key: tf.constant(value, specs[key].dtype) for key, value in kwargs.items()}
        for key, value in signatures[name](**kwargs).items():
            outputs[f'{name}/{key}'] = value.numpy()
    np.savez(outputs_path, **outputs)


if __name__ == '__main__':
    {'call_signatures': call_signatures}[sys.argv[1]](*sys.argv[2:])
