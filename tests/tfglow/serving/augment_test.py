"""tfglow.serving.augment: the augmentation SavedModel, reloaded in a fresh process."""

import functools
import json
import os
import subprocess
import sys

import numpy as np
import tensorflow as tf

from tests.tfglow.augment import helpers
from tfglow.augment import latent, methods
from tfglow.serving import augment as serving

NUM_RELATED = 3


@functools.cache
def _base():
    codec = helpers.smoke_codec()
    return methods.BaseStatistics(latent.encode_classes(codec, helpers.omniglot('train', 30)))


@functools.cache
def _export() -> str:
    export_dir = helpers.temporary_dir('tfglow_augment_export_')
    return serving.export_augment_saved_model(
        helpers.smoke_codec(), _base(), export_dir, num_related=NUM_RELATED
    )


class AugmentExportTest(tf.test.TestCase):
    def test_bad_or_taken_version(self):
        export_dir = os.path.dirname(_export())  # holds version 1
        codec, base = helpers.smoke_codec(), _base()
        with self.assertRaisesRegex(FileExistsError, 'already exists'):
            serving.export_augment_saved_model(codec, base, export_dir, version=1)
        for version in (0, 1.5, True):
            with self.assertRaisesRegex(ValueError, 'version must be an integer >= 1'):
                serving.export_augment_saved_model(codec, base, export_dir, version=version)
        self.assertEqual(sorted(os.listdir(export_dir)), ['1'])  # no staging directory left

    def test_signatures_in_a_fresh_process(self):
        path = _export()
        self.assertEqual(os.path.basename(path), '1')
        with open(os.path.join(path, 'assets.extra', 'tfglow_metadata.json')) as f:
            metadata = json.load(f)
        self.assertEqual(metadata['format'], 'tfglow.augment')
        self.assertEqual(metadata['num_related'], NUM_RELATED)
        self.assertEqual(
            metadata['signatures']['augment']['inputs']['images'],
            {'dtype': 'uint8', 'shape': [-1, 28, 28, 1]},
        )
        out = os.path.join(self.get_temp_dir(), 'outputs.npz')
        result = subprocess.run(
            [sys.executable, '-m', 'tests.tfglow.augment.helpers', 'call_signatures', path, out],
            cwd=helpers.REPO_ROOT,
            env=dict(os.environ, TF_CPP_MIN_LOG_LEVEL='2'),
            capture_output=True,
            text=True,
            timeout=300,
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        outputs = dict(np.load(out))
        codec = helpers.smoke_codec()
        images = outputs['inputs/images']
        self.assertEqual(outputs['augment/images'].shape, (4, 28, 28, 1))
        self.assertEqual(outputs['augment/images'].dtype, np.uint8)
        self.assertAllEqual(np.unique(outputs['augment/images']), [0, 255])
        self.assertAllClose(outputs['encode/latents'], codec.encode(images), atol=1e-4)
        self.assertAllEqual(outputs['decode/images'], images)
        # The augmented latents are the support mean plus a deviation in the span of the pooled
        # covariance of the nearest base classes: the library's 'pooled' method.
        mean = codec.encode(images).mean(axis=0)
        factor = _base().pooled_factor(_base().nearest(mean, NUM_RELATED))
        deviations = outputs['augment/latents'] - mean
        coefficients, *_ = np.linalg.lstsq(factor.T, deviations.T, rcond=None)
        residual = deviations.T - factor.T @ coefficients
        self.assertLess(np.abs(residual).max(), 1e-3 * np.abs(deviations).max())
        self.assertAllEqual(codec.decode(outputs['augment/latents']), outputs['augment/images'])

    def test_seeded_and_validated(self):
        module = tf.saved_model.load(_export())
        images = next(iter(helpers.omniglot('test', 1).values()))[:2]
        call = lambda num=3, strength=1.0, seed=0, x=images: module.augment(
            tf.constant(x), tf.constant(num), tf.constant(strength), tf.constant(seed, tf.int64)
        )
        first = call(seed=5)
        self.assertAllEqual(first['latents'], call(seed=5)['latents'])
        self.assertNotAllClose(first['latents'], call(seed=6)['latents'])
        still = call(strength=0.0)['latents'].numpy()
        self.assertAllClose(still, np.tile(still[:1], [3, 1]))
        for kwargs, message in (
            ({'num': 0}, 'num'),
            ({'strength': -1.0}, 'strength must be a finite number >= 0'),
            ({'strength': float('inf')}, 'strength must be a finite number >= 0'),
            # Finite but absurd: the flow would overflow to NaN, which uint8 shows as black.
            ({'strength': 1e30}, r'strength moves the latents out of \[-100, 100\]'),
            ({'num': 1025}, r'num \(images to make\) must be <= 1024'),
            ({'x': images[:0]}, 'images must hold at least one'),
        ):
            with self.assertRaisesRegex(tf.errors.InvalidArgumentError, message):
                call(**kwargs)
        # A wrong image shape is refused before the graph runs (by the signature's shape).
        with self.assertRaises((tf.errors.InvalidArgumentError, TypeError, ValueError)):
            module.augment(tf.zeros([2, 27, 28, 1], tf.uint8), 3, 1.0, tf.constant(0, tf.int64))
        for value in (np.nan, 1e6, -1e30):
            with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'latents must be finite'):
                module.decode(tf.fill([1, 784], np.float32(value)))
        self.assertAllEqual(module.encode(tf.constant(images))['exact'], [True, True])

    def test_savedmodel_codec_reads_it(self):
        codec = latent.SavedModelCodec(_export())
        self.assertEqual(codec.latent_size, 784)
        images = next(iter(helpers.omniglot('test', 1).values()))[:3]
        self.assertAllEqual(codec.decode(codec.encode(images)), images)
        # What TensorFlow would cast silently is refused with one line.
        with self.assertRaisesRegex(ValueError, 'decodes float latents; got bool'):
            codec.decode(np.zeros([1, 784], bool))
        with self.assertRaisesRegex(ValueError, r'uint8 images .*got float64'):
            codec.encode(images.astype(np.float64))
        with self.assertRaisesRegex(FileNotFoundError, 'no SavedModel'):
            latent.SavedModelCodec(self.get_temp_dir())


if __name__ == '__main__':
    tf.test.main()
