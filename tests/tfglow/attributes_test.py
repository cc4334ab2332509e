"""Tests for tfglow.attributes: measurements, directions, files, and edits on a trained Glow."""

import json
import os

import numpy as np
import tensorflow as tf

from tests.tfglow import export_helpers
from tfglow import attributes, trained
from tfglow.serving import glow


def _canvas(count: int = 1, size: int = 20) -> np.ndarray:
    return np.zeros([count, size, size, 1], np.uint8)


class MeasurePropertiesTest(tf.test.TestCase):
    def test_ink_thickness_width_height(self):
        images = _canvas(3)
        images[0, 9:11, 2:18] = 255  # A horizontal bar 2 px thick, 16 px long.
        images[1, 8:12, 2:18] = 255  # 4 px thick.
        images[2, 2:18, 8:12] = 255  # The same bar, vertical.
        values = attributes.measure_properties(images)
        self.assertAllClose(values['ink'], [32 / 400, 64 / 400, 64 / 400])
        # 2 * area / outline = L * w / (L + w) for an L x w bar: near w for long strokes.
        self.assertAllClose(values['thickness'], [32 / 18, 64 / 20, 64 / 20])
        self.assertGreater(values['width'][0], 3 * values['height'][0])
        self.assertAllClose(values['width'][1], values['height'][2])
        self.assertAllClose(values['height'][1], values['width'][2])

    def test_slant_sign(self):
        images = _canvas(3)
        for row in range(2, 18):
            images[0, row, 19 - row] = 255  # '/': the top is further right.
            images[1, row, row] = 255  # '\'.
            images[2, row, 10] = 255  # '|'.
        slant = attributes.measure_properties(images)['slant']
        self.assertAllClose(slant, [1.0, -1.0, 0.0], atol=1e-9)

    def test_colour_and_blank_images(self):
        images = np.zeros([2, 4, 4, 3], np.uint8)
        images[1, 1:3, 1:3] = 255
        values = attributes.measure_properties(images)
        for name in attributes.PROPERTIES:
            self.assertTrue(np.all(np.isfinite(values[name])), name)
            self.assertEqual(values[name][0], 0.0, name)
        self.assertAllClose(values['ink'][1], 0.25)
        with self.assertRaisesRegex(ValueError, r'\[N, H, W, C\]'):
            attributes.measure_properties(np.zeros([4, 4, 1], np.uint8))


class ComputeDirectionsTest(tf.test.TestCase):
    def _batches(self, latents, present, absent, size):
        for start in range(0, len(latents), size):
            part = slice(start, start + size)
            yield latents[part], np.zeros(len(latents[part])), present[part], absent[part]

    def test_mean_difference_streamed(self):
        rng = np.random.default_rng(0)
        latents = rng.normal(size=[10, 3])
        present = np.stack([np.arange(10) < 3, np.arange(10) % 2 == 0], axis=1)
        absent = np.stack([np.arange(10) >= 7, np.arange(10) % 2 == 1], axis=1)
        encode = lambda images, labels: images  # The "images" here are the latents.
        result = attributes.compute_directions(
            encode,
            self._batches(latents, present, absent, size=4),
            ['a', 'b'],
            scale=attributes.OPENAI_SCALE,
            metadata={'source': 'test'},
        )
        expected = [
            latents[:3].mean(0) - latents[7:].mean(0),
            latents[::2].mean(0) - latents[1::2].mean(0),
        ]
        self.assertAllClose(result.directions, 1.6 * np.array(expected), rtol=1e-6)
        self.assertEqual(result.directions.dtype, np.float32)
        self.assertAllEqual(result.present_counts, [3, 5])
        self.assertAllEqual(result.absent_counts, [3, 5])
        self.assertEqual((result.scale, result.metadata), (1.6, {'source': 'test'}))
        self.assertEqual(result.index('b'), 1)
        with self.assertRaisesRegex(ValueError, "unknown attribute 'c'; known: a, b"):
            result.index('c')

    def test_errors(self):
        latents = np.ones([4, 2])
        encode = lambda images, labels: images
        present = np.array([[True], [True], [False], [False]])
        with self.assertRaisesRegex(ValueError, r'no examples for attribute\(s\) a \(absent\)'):
            attributes.compute_directions(
                encode, self._batches(latents, present, np.zeros_like(present), 4), ['a']
            )
        with self.assertRaisesRegex(ValueError, 'both present and absent'):
            attributes.compute_directions(
                encode, self._batches(latents, present, present, 4), ['a']
            )
        with self.assertRaisesRegex(ValueError, 'no images'):
            attributes.compute_directions(encode, [], ['a'])


class DirectionsFileTest(tf.test.TestCase):
    def test_round_trip_and_errors(self):
        directions = attributes.AttributeDirections(
            names=('ink', 'class_1'),
            directions=np.arange(6, dtype=np.float32).reshape(2, 3),
            present_counts=np.array([4, 5]),
            absent_counts=np.array([6, 7]),
            scale=1.6,
            metadata={'quantile': 0.2},
        )
        path = os.path.join(self.get_temp_dir(), 'sub', 'directions.npz')
        directions.save(path)
        loaded = attributes.load_directions(path)
        self.assertEqual(loaded.names, directions.names)
        self.assertAllEqual(loaded.directions, directions.directions)
        self.assertAllEqual(loaded.present_counts, [4, 5])
        self.assertAllEqual(loaded.absent_counts, [6, 7])
        self.assertEqual((loaded.scale, loaded.metadata), (1.6, {'quantile': 0.2}))
        self.assertEqual(loaded.latent_size, 3)

        with self.assertRaisesRegex(FileNotFoundError, 'no attribute directions file'):
            attributes.load_directions(path + '.missing')
        other = os.path.join(self.get_temp_dir(), 'other.npz')
        np.savez(other, something=np.zeros(2))
        with self.assertRaisesRegex(ValueError, 'not an attribute directions file.*lacks'):
            attributes.load_directions(other)
        text = os.path.join(self.get_temp_dir(), 'text.npz')
        with open(text, 'w') as f:
            f.write('hello')
        with self.assertRaisesRegex(ValueError, 'not an attribute directions file'):
            attributes.load_directions(text)
        with self.assertRaisesRegex(ValueError, 'names must be unique'):
            attributes.AttributeDirections(('a', 'a'), np.zeros([2, 3]), np.ones(2), np.ones(2))
        with self.assertRaisesRegex(ValueError, r'\[num_attributes=1, D\]'):
            attributes.AttributeDirections(('a',), np.zeros([2, 3]), np.ones(1), np.ones(1))


class DirectionsForModelTest(tf.test.TestCase):
    """Directions of the shared briefly trained model, and what editing along them does."""

    @classmethod
    def setUpClass(cls):
        super().setUpClass()
        cls.workdir = export_helpers.trained_workdir()
        cls.trained = trained.load_trained_glow(cls.workdir)

    def test_labels(self):
        with self.assertLogs('absl', 'INFO') as logs:
            result = attributes.directions_for_model(
                self.trained, 'labels', num_examples=300, batch_size=128
            )
        self.assertRegex(logs.output[-1], 'attribute directions: 300/300 images encoded')
        self.assertEqual(result.names[:2], ('T-shirt/top', 'Trouser'))
        self.assertEqual(result.directions.shape, (10, 784))
        self.assertAllEqual(result.present_counts + result.absent_counts, [300] * 10)
        self.assertEqual(result.metadata['split'], 'train')
        self.assertEqual(result.metadata['step'], export_helpers.TRAIN_STEPS)

    def test_bad_arguments(self):
        for kwargs, message in [
            (dict(source='smiles'), 'source must be one of properties, labels, tfds_attributes'),
            (dict(quantile=0.6), r'quantile must be in \(0, 0.5\]'),
            (dict(num_examples=-1), 'num_examples must be >= 0'),
            (dict(source='tfds_attributes'), "data source is 'idx'"),
        ]:
            with self.subTest(kwargs=kwargs), self.assertRaisesRegex(ValueError, message):
                attributes.directions_for_model(self.trained, **kwargs)

    def test_editing_changes_the_measured_property_monotonically(self):
        # The model learned something: the evaluator's test bits/dim fell well below the ~7.8 of
        # the initialised model.
        with open(os.path.join(self.workdir, 'eval_results.json')) as f:
            self.assertLess(json.load(f)['eval_bits_per_dim'], 7.0)
        directions = attributes.directions_for_model(
            self.trained, 'properties', num_examples=2000, quantile=0.2
        )
        self.assertAllEqual(directions.present_counts, [400] * 5)
        module = glow.GlowServingModule(self.trained, directions)
        images, _ = export_helpers.eval_images(self.workdir, 64)
        alphas = [-1.0, -0.5, 0.0, 0.5, 1.0]
        # Measured on the decoded images: the mean over 64 test images, for each alpha. Left out:
        # thickness (this model's edit thickens strokes up to alpha 0.5, then thins them again)
        # and slant (monotonic here, but only by 0.02 between alpha -1 and -0.5).
        for name in ('ink', 'width', 'height'):
            means = []
            for alpha in alphas:
                edited = module.manipulate(
                    images, tf.fill([64], directions.index(name)), tf.fill([64], alpha)
                )['images']
                means.append(attributes.measure_properties(edited.numpy())[name].mean())
            with self.subTest(attribute=name):
                self.assertTrue(np.all(np.diff(means) > 0), f'{name}: {np.round(means, 4)}')


if __name__ == '__main__':
    tf.test.main()
