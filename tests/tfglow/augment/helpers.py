"""Shared pieces of the augmentation tests (not a test module): a briefly trained unconditional
few-shot Glow on the real Omniglot npz files, Omniglot and Fashion-MNIST classes, a small feature
extractor, and a
subprocess entry point that calls an augmentation SavedModel's signatures in a fresh process:

  python -m tests.tfglow.augment.helpers call_signatures EXPORT_DIR OUT.npz
"""

import functools
import os
import sys

import numpy as np

from tests.tfglow.export_helpers import temporary_dir

REPO_ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
UNCONDITIONAL_SMOKE = (
    os.path.join(REPO_ROOT, 'configs', 'omniglot_fewshot_glow.py') + ':unconditional,smoke'
)
# A few steps move the flow off its near-linear initial state; tracing dominates the time.
TRAIN_STEPS = 20
# The trained model of the slow tests (TFGLOW_SLOW=1).
REAL_WORKDIR = os.environ.get(
    'TFGLOW_AUGMENT_WORKDIR', '/work/runs/omniglot_fewshot_glow_unconditional'
)


def slow_enabled() -> bool:
    return os.environ.get('TFGLOW_SLOW') == '1'


@functools.cache
def smoke_workdir() -> str:
    """The unconditional smoke FewShotGlow, trained `TRAIN_STEPS` steps; returns its workdir."""
    from tfglow import config_lib, train

    config = config_lib.load_config(UNCONDITIONAL_SMOKE)
    config.num_train_steps = TRAIN_STEPS
    config.log_every_steps = TRAIN_STEPS
    config.checkpoint_every_steps = TRAIN_STEPS
    config.eval_every_steps = 10 * TRAIN_STEPS
    config.num_eval_examples = 16
    config.num_samples = 4
    workdir = temporary_dir('tfglow_augment_test_')
    train.train_and_evaluate(config, workdir)
    return workdir


@functools.cache
def smoke_codec():
    from tfglow.augment import latent

    return latent.load_codec(smoke_workdir())


@functools.cache
def omniglot(split: str, num_classes: int, seed: int = 0) -> dict[str, np.ndarray]:
    """`num_classes` Omniglot classes of `split` ('train' or 'test'), drawn with `seed`."""
    from tests.tfglow.data import testdata
    from tfglow import data

    config = testdata.data_config(source='omniglot_npz', name='omniglot')
    arrays = data.load_class_arrays(config, split)
    names = sorted(arrays)
    picked = np.random.default_rng(seed).choice(len(names), num_classes, replace=False)
    return {names[i]: arrays[names[i]] for i in np.sort(picked)}


@functools.cache
def fashion_mnist(per_class: int) -> dict[str, np.ndarray]:
    """The first `per_class` Fashion-MNIST test images of each of the 10 classes."""
    from tests.tfglow.data import testdata
    from tfglow import data

    arrays = data.load_class_arrays(testdata.data_config(), 'test')
    return {name: images[:per_class] for name, images in arrays.items()}


@functools.cache
def small_extractor():
    """A feature extractor trained briefly on 40 background classes."""
    from tfglow.augment import features

    options = features.FeatureOptions(width=8, feature_dim=32, epochs=3, batch_size=32)
    extractor, _ = features.train_feature_extractor(omniglot('train', 40), options)
    return extractor


def call_signatures(export_dir: str, out_path: str) -> None:
    """Loads an augmentation export and calls every signature; saves the outputs."""
    import tensorflow as tf

    signatures = tf.saved_model.load(export_dir).signatures
    images = next(iter(omniglot('test', 1).values()))[:3]
    outputs = {}
    augmented = signatures['augment'](
        images=tf.constant(images),
        num=tf.constant(4),
        strength=tf.constant(0.5),
        seed=tf.constant(7, tf.int64),
    )
    outputs.update({f'augment/{k}': v.numpy() for k, v in augmented.items()})
    encoded = signatures['encode'](images=tf.constant(images))
    outputs['encode/latents'] = encoded['latents'].numpy()
    decoded = signatures['decode'](latents=encoded['latents'])
    outputs['decode/images'] = decoded['images'].numpy()
    outputs['inputs/images'] = images
    np.savez(out_path, **outputs)


if __name__ == '__main__':
    {'call_signatures': call_signatures}[sys.argv[1]](*sys.argv[2:])
