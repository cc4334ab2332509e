"""tfglow.serving.glow and export_saved_model on Glows trained briefly on real Fashion-MNIST."""

import json
import os
import re
import shutil
import sys
import tempfile

import numpy as np
import pytest
import tensorflow as tf

from tests.tfglow import export_helpers
from tfglow import attributes, evaluate, trained
from tfglow.serving import export, glow, versions


def _eval_bits_per_dim(workdir: str) -> float:
    """The number the trainer's evaluator reported at the end of training."""
    with open(os.path.join(workdir, 'eval_results.json')) as f:
        return json.load(f)['eval_bits_per_dim']


class ExportTest(tf.test.TestCase):
    """One export of the shared model, with property directions, used by every test here."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = export_helpers.trained_workdir()
        cls.trained = trained.load_trained_glow(cls.workdir)
        cls.directions = attributes.directions_for_model(
            cls.trained, 'properties', num_examples=500
        )
        cls.export_base = tempfile.mkdtemp()
        cls.export_path = export.export_saved_model(
            cls.workdir, cls.export_base, attributes=cls.directions
        )
        cls.loaded = tf.saved_model.load(cls.export_path)
        cls.signatures = cls.loaded.signatures
        cls.images, _ = export_helpers.eval_images(cls.workdir, 64)

    @classmethod
    def tearDownClass(cls):
        shutil.rmtree(cls.export_base, ignore_errors=True)
        super().tearDownClass()

    def test_layout_versions_and_metadata(self):
        self.assertEqual(self.export_path, os.path.join(self.export_base, '1'))
        self.assertTrue(os.path.isfile(os.path.join(self.export_path, 'saved_model.pb')))
        self.assertEqual(versions.next_version(self.export_base), 2)
        self.assertEqual(versions.next_version(os.path.join(self.export_base, 'none')), 1)
        with self.assertRaisesRegex(FileExistsError, 'already exists'):
            export.export_saved_model(self.workdir, self.export_base, version=1)
        with self.assertRaisesRegex(ValueError, 'version must be an integer >= 1'):
            export.export_saved_model(self.workdir, self.export_base, version=0)
        self.assertEqual(sorted(os.listdir(self.export_base)), ['1'])  # Nothing half-written.

        with open(os.path.join(self.export_path, versions.METADATA_PATH)) as f:
            metadata = json.load(f)
        self.assertEqual(metadata['attributes'], list(attributes.PROPERTIES))
        self.assertEqual(metadata['image_shape'], [28, 28, 1])
        self.assertEqual(metadata['latent_size'], 784)
        self.assertEqual(metadata['step'], export_helpers.TRAIN_STEPS)
        self.assertEqual(metadata['bits_per_dim_noise_seed'], 0)
        self.assertEqual(set(metadata['signatures']), set(glow.SIGNATURES))
        self.assertEqual(
            metadata['signatures']['manipulate']['inputs']['images'],
            {'dtype': 'uint8', 'shape': [-1, 28, 28, 1]},
        )
        self.assertEqual(
            metadata['signatures']['encode']['outputs']['latents'],
            {'dtype': 'float32', 'shape': [-1, 784]},
        )
        self.assertEqual(
            metadata['signatures']['encode']['outputs']['exact'], {'dtype': 'bool', 'shape': [-1]}
        )
        self.assertEqual(metadata['max_batch'], 1024)
        self.assertEqual((metadata['max_temperature'], metadata['max_latent']), (2.0, 100.0))
        self.assertEqual(set(self.signatures.keys()), set(glow.SIGNATURES))
        names = [name.decode() for name in self.loaded.attribute_names.numpy()]
        self.assertEqual(names, list(attributes.PROPERTIES))
        self.assertAllEqual(self.loaded.attribute_directions, self.directions.directions)

    def test_bits_per_dim_equals_the_evaluator(self):
        bits = self.signatures['bits_per_dim'](images=tf.constant(self.images))['bits_per_dim']
        self.assertEqual(bits.shape, (64,))
        # The trainer evaluated the same checkpoint on these 64 test images (smoke config).
        self.assertAllClose(np.mean(bits.numpy()), _eval_bits_per_dim(self.workdir), rtol=1e-6)
        # Any prefix of a split: the evaluator on a dataset of exactly those images.
        dataset = tf.data.Dataset.from_tensor_slices(
            {'image': self.images[:10], 'label': np.zeros(10, np.int32)}
        ).batch(4)
        expected = evaluate.evaluate_bits_per_dim(self.trained.model, dataset, 8, seed=0)
        self.assertAllClose(np.mean(bits.numpy()[:10]), expected, rtol=1e-6)

    def test_encode_decode_exact(self):
        latents = self.signatures['encode'](images=tf.constant(self.images))
        self.assertEqual(latents['latents'].shape, (64, 784))
        self.assertEqual(latents['latents_0'].shape, (64, 14, 14, 2))
        self.assertEqual(latents['latents_1'].shape, (64, 7, 7, 8))
        flat = np.concatenate(
            [
                latents['latents_0'].numpy().reshape(64, -1),
                latents['latents_1'].numpy().reshape(64, -1),
            ],
            axis=1,
        )
        self.assertAllEqual(latents['latents'], flat)
        decoded = self.signatures['decode'](latents=latents['latents'])['images']
        self.assertEqual(decoded.dtype, tf.uint8)
        self.assertAllEqual(decoded, self.images)
        self.assertAllEqual(latents['exact'], [True] * 64)
        # Uniform noise, far off the data, still round trips on this model, and says so.
        noise = np.random.default_rng(0).integers(0, 256, [8, 28, 28, 1], dtype=np.uint8)
        latents = self.signatures['encode'](images=tf.constant(noise))
        decoded = self.signatures['decode'](latents=latents['latents'])['images'].numpy()
        self.assertAllEqual(latents['exact'], (decoded == noise).all(axis=(1, 2, 3)))

    def test_sample(self):
        sample = lambda num, temperature, seed: self.signatures['serving_default'](
            num=tf.constant(num),
            temperature=tf.constant(temperature),
            seed=tf.constant(seed, tf.int64),
        )['images']
        images = sample(5, 0.7, 1)
        self.assertEqual(images.dtype, tf.uint8)
        self.assertEqual(images.shape, (5, 28, 28, 1))
        self.assertAllEqual(images, sample(5, 0.7, 1))
        self.assertNotAllEqual(images, sample(5, 0.7, 2))
        # At temperature 0 every latent is 0: one image, repeated.
        zero = sample(3, 0.0, 1).numpy()
        self.assertAllEqual(zero, np.repeat(zero[:1], 3, axis=0))

    def test_interpolate_ends_are_the_inputs(self):
        path = self.signatures['interpolate'](
            images_a=tf.constant(self.images[:3]),
            images_b=tf.constant(self.images[3:6]),
            num_steps=tf.constant(5),
        )['images'].numpy()
        self.assertEqual(path.shape, (3, 5, 28, 28, 1))
        self.assertAllEqual(path[:, 0], self.images[:3])
        self.assertAllEqual(path[:, -1], self.images[3:6])
        self.assertNotAllEqual(path[:, 2], self.images[:3])
        exact = self.signatures['interpolate'](
            images_a=tf.constant(self.images[:3]),
            images_b=tf.constant(self.images[3:6]),
            num_steps=tf.constant(2),
        )['exact']
        self.assertAllEqual(exact, [True] * 3)

    def test_manipulate_is_the_latent_edit(self):
        images = tf.constant(self.images[:6])
        attribute = tf.constant([0, 0, 1, 2, 3, 4])
        alpha = tf.constant([0.0, 0.5, -0.5, 0.3, 1.0, -1.0])
        edited = self.signatures['manipulate'](images=images, attribute=attribute, alpha=alpha)
        latents = self.signatures['encode'](images=images)['latents']
        shifted = latents + alpha[:, None] * tf.gather(self.directions.directions, attribute)
        expected = self.signatures['decode'](latents=shifted)['images']
        self.assertAllEqual(edited['images'], expected)
        self.assertAllEqual(edited['images'][0], self.images[0])  # alpha 0: unchanged.
        self.assertAllEqual(edited['exact'], [True] * 6)

    def test_bad_requests_name_the_problem(self):
        images = tf.constant(self.images[:2])
        cases = [
            (
                'bits_per_dim',
                dict(images=tf.zeros([2, 28, 27, 1], tf.uint8)),
                r'images.*\[\?,28,28,1\]',
            ),
            ('encode', dict(images=tf.zeros([28, 28, 1], tf.uint8)), r'images.*\[28,28,1\]'),
            ('encode', dict(images=tf.zeros([0, 28, 28, 1], tf.uint8)), 'at least one'),
            ('bits_per_dim', dict(images=tf.zeros([2, 28, 28, 1])), 'uint8'),
            ('decode', dict(latents=tf.zeros([1, 100])), r'latents.*\[1,100\].*\[\?,784\]'),
            ('decode', dict(latents=tf.fill([1, 784], np.nan)), 'latents must be finite'),
            ('serving_default', dict(num=0, temperature=0.7, seed=0), 'num .*must be >= 1'),
            (
                'serving_default',
                dict(num=2, temperature=-1.0, seed=0),
                'temperature must be a finite',
            ),
            (
                'serving_default',
                dict(num=2, temperature=np.inf, seed=0),
                'temperature must be a finite',
            ),
            (
                'interpolate',
                dict(images_a=images, images_b=images[:1], num_steps=3),
                'images_a and images_b must hold the same number',
            ),
            (
                'interpolate',
                dict(images_a=images, images_b=images, num_steps=1),
                'num_steps must be >= 2',
            ),
            (
                'manipulate',
                dict(images=images, attribute=[0, 5], alpha=[1.0, 1.0]),
                re.escape(
                    'attribute must index one of the attributes of this export (0 ink, 1 thickness'
                ),
            ),
            (
                'manipulate',
                dict(images=images, attribute=[-1, 0], alpha=[1.0, 1.0]),
                'attribute must index one of',
            ),
            (
                'manipulate',
                dict(images=images, attribute=[0, 0], alpha=[1.0]),
                'alpha must hold one strength per image',
            ),
            (
                'manipulate',
                dict(images=images, attribute=[0, 0], alpha=[1.0, np.nan]),
                'alpha must be finite',
            ),
            # Finite but absurd: the flow overflows to NaN, which uint8 would show as black.
            ('decode', dict(latents=tf.fill([1, 784], 1e6)), 'latents must be finite, every'),
            ('decode', dict(latents=tf.fill([1, 784], -1e30)), 'latents must be finite, every'),
            *[
                (
                    'serving_default',
                    dict(num=2, temperature=temperature, seed=0),
                    re.escape('temperature must be a finite number in [0, 2]'),
                )
                for temperature in (2.5, 30.0, 100.0)
            ],
            (
                'manipulate',
                dict(images=images, attribute=[0, 0], alpha=[1.0, 1e4]),
                re.escape('alpha moves the latents out of [-100, 100]'),
            ),
            # One request cannot take the server down.
            *[
                (
                    'serving_default',
                    dict(num=num, temperature=0.7, seed=0),
                    re.escape('num (images to sample) must be <= 1024'),
                )
                for num in (1025, 2**31 - 1)
            ],
            (
                'interpolate',
                dict(images_a=images, images_b=images, num_steps=2**31 - 1),
                re.escape('B * num_steps must be <= 1024'),
            ),
        ]
        for name, kwargs, message in cases:
            with self.subTest(signature=name, message=message):
                specs = self.signatures[name].structured_input_signature[1]
                kwargs = {
                    key: value if tf.is_tensor(value) else tf.constant(value, specs[key].dtype)
                    for key, value in kwargs.items()
                }
                with self.assertRaisesRegex(tf.errors.InvalidArgumentError, message):
                    self.signatures[name](**kwargs)

    def test_attribute_checks_outside_the_graph(self):
        module = glow.GlowServingModule(self.trained)
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'no attribute directions'):
            module.manipulate(self.images[:1], tf.constant([0]), tf.constant([1.0]))
        wrong_size = attributes.AttributeDirections(
            names=('a',),
            directions=np.zeros([1, 10], np.float32),
            present_counts=np.ones(1),
            absent_counts=np.ones(1),
        )
        with self.assertRaisesRegex(ValueError, '10-dimensional but this model has 784'):
            glow.GlowServingModule(self.trained, wrong_size)

    @pytest.mark.slow
    def test_fresh_process_calls_every_signature(self):
        directory = self.get_temp_dir()
        images = self.images[:4]
        latents = self.signatures['encode'](images=tf.constant(images))['latents'].numpy()
        inputs = dict(
            images=images,
            num=np.int32(3),
            temperature=np.float32(0.7),
            latents=latents,
            attribute=np.array([0, 1, 2, 3], np.int32),
            alpha=np.array([0.5, -0.5, 0.2, 0.0], np.float32),
        )
        np.savez(os.path.join(directory, 'inputs.npz'), **inputs)
        outputs_path = os.path.join(directory, 'outputs.npz')
        result = export_helpers.run(
            [
                sys.executable,
                '-m',
                'tests.tfglow.export_helpers',
                'call_signatures',
                self.export_path,
                os.path.join(directory, 'inputs.npz'),
                outputs_path,
            ]
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        outputs = dict(np.load(outputs_path))
        self.assertEqual(
            {key.split('/')[0] for key in outputs}, set(glow.SIGNATURES), sorted(outputs)
        )
        expected_sample = self.signatures['serving_default'](
            num=tf.constant(3), temperature=tf.constant(0.7), seed=tf.constant(0, tf.int64)
        )['images']
        self.assertAllEqual(outputs['serving_default/images'], expected_sample)
        expected_bits = self.signatures['bits_per_dim'](images=tf.constant(images))
        self.assertAllClose(outputs['bits_per_dim/bits_per_dim'], expected_bits['bits_per_dim'])
        self.assertAllClose(outputs['encode/latents'], latents)
        self.assertEqual(outputs['encode/latents_1'].shape, (4, 7, 7, 8))
        self.assertAllEqual(outputs['decode/images'], images)
        self.assertAllEqual(outputs['interpolate/images'][:, 0], images[:2])
        self.assertAllEqual(outputs['interpolate/images'][:, -1], images[2:4])
        expected_edit = self.signatures['manipulate'](
            images=tf.constant(images),
            attribute=tf.constant(inputs['attribute']),
            alpha=tf.constant(inputs['alpha']),
        )['images']
        self.assertAllEqual(outputs['manipulate/images'], expected_edit)

    @pytest.mark.slow
    def test_saved_model_cli(self):
        cli = export_helpers.console_script('saved_model_cli')
        shown = export_helpers.run([cli, 'show', '--dir', self.export_path, '--all'])
        self.assertEqual(shown.returncode, 0, shown.stderr[-3000:])
        for name in glow.SIGNATURES:
            self.assertIn(f"signature_def['{name}']", shown.stdout)
        self.assertRegex(
            shown.stdout,
            r"inputs\['images'\] tensor_info:\s+dtype: DT_UINT8\s+shape: \(-1, 28, 28, 1\)",
        )

        directory = self.get_temp_dir()
        run = [cli, 'run', '--dir', self.export_path, '--tag_set', 'serve', '--outdir', directory]
        sampled = export_helpers.run(
            [
                *run,
                '--signature_def',
                'serving_default',
                '--input_exprs',
                'num=4;temperature=0.7;seed=1',
            ]
        )
        self.assertEqual(sampled.returncode, 0, sampled.stderr[-3000:])
        images = np.load(os.path.join(directory, 'images.npy'))
        self.assertEqual((images.shape, images.dtype), ((4, 28, 28, 1), np.uint8))
        expected = self.signatures['serving_default'](
            num=tf.constant(4), temperature=tf.constant(0.7), seed=tf.constant(1, tf.int64)
        )['images']
        self.assertAllEqual(images, expected)

        images_path = os.path.join(directory, 'test_images.npy')
        np.save(images_path, self.images)
        scored = export_helpers.run(
            [*run, '--signature_def', 'bits_per_dim', '--inputs', f'images={images_path}']
        )
        self.assertEqual(scored.returncode, 0, scored.stderr[-3000:])
        bits = np.load(os.path.join(directory, 'bits_per_dim.npy'))
        self.assertEqual(bits.shape, (64,))
        self.assertAllClose(bits.mean(), _eval_bits_per_dim(self.workdir), rtol=1e-6)

        # The in-graph checks also hold in the session-based loader that TF Serving uses.
        refused = export_helpers.run(
            [
                *run,
                '--signature_def',
                'manipulate',
                '--inputs',
                f'images={images_path}',
                '--input_exprs',
                f'attribute={[7] * 64};alpha={[0.5] * 64}',
            ]
        )
        self.assertNotEqual(refused.returncode, 0)
        self.assertIn('InvalidArgument', refused.stderr)
        self.assertIn('attribute must index one of the attributes of this export', refused.stderr)
        # Issue 17's repro: this exited 0 with black images.
        hot = export_helpers.run(
            [
                *run,
                '--signature_def',
                'serving_default',
                '--input_exprs',
                'num=2;temperature=100.0;seed=0',
            ]
        )
        self.assertNotEqual(hot.returncode, 0)
        self.assertIn('temperature must be a finite number in [0, 2]', hot.stderr)


class ConditionalExportTest(tf.test.TestCase):
    """A class-conditional model: every signature takes `label`."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = export_helpers.conditional_workdir()
        cls.trained = trained.load_trained_glow(cls.workdir)
        cls.module = glow.GlowServingModule(cls.trained)
        cls.images, cls.labels = export_helpers.eval_images(cls.workdir, 16)

    def test_every_signature_takes_label(self):
        self.assertEqual(self.trained.num_classes, 10)
        for name, function in self.module.signatures().items():
            with self.subTest(signature=name):
                specs = tf.nest.flatten(function.structured_input_signature)
                self.assertIn(tf.TensorSpec([None], tf.int32, name='label'), specs)

    def test_bits_per_dim_equals_the_evaluator(self):
        bits = self.module.bits_per_dim(self.images, self.labels)['bits_per_dim']
        # The trainer's evaluator scored these 16 images with their labels.
        self.assertAllClose(np.mean(bits.numpy()), _eval_bits_per_dim(self.workdir), rtol=1e-6)
        # The label matters.
        other = self.module.bits_per_dim(self.images, (self.labels + 1) % 10)['bits_per_dim']
        self.assertNotAllClose(bits, other)

    def test_encode_decode_and_sample_with_labels(self):
        latents = self.module.encode(self.images, self.labels)['latents']
        self.assertAllEqual(self.module.decode(latents, self.labels)['images'], self.images)
        samples = self.module.sample(
            tf.constant(3), tf.constant(0.0), tf.constant(0, tf.int64), tf.constant([0, 1, 1])
        )['images'].numpy()
        # At temperature 0 the sample is the class's prior mean: equal labels, equal images.
        self.assertAllEqual(samples[1], samples[2])
        self.assertNotAllEqual(samples[0], samples[1])

    def test_bad_labels(self):
        sample = lambda label: self.module.sample(
            tf.constant(2), tf.constant(0.5), tf.constant(0, tf.int64), tf.constant(label)
        )
        message = re.escape('label must hold one class index in [0, 10) per sampled image')
        for label in ([0], [0, 10], [-1, 0]):
            with (
                self.subTest(label=label),
                self.assertRaisesRegex(tf.errors.InvalidArgumentError, message),
            ):
                sample(label)
        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, r'per image'):
            self.module.encode(self.images, self.labels[:3])


if __name__ == '__main__':
    tf.test.main()
