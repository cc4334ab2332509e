"""Tests for tfglow.evaluate."""

import math

import numpy as np
import tensorflow as tf

from tfglow import evaluate


class _BinIndexModel(tf.Module):
    """log p(x) = -scale * (sum of pixel bin indices): exact to compute, blind to dequantisation."""

    def __init__(self, scale: float = 0.01):
        super().__init__()
        self.scale = tf.Variable(scale)
        self.labels_seen = tf.Variable(0, dtype=tf.int32)

    def log_prob(self, x, label=None):
        if label is not None:
            self.labels_seen.assign_add(tf.reduce_sum(label))
        bins = tf.floor((x + 0.5) * 256.0)
        return -self.scale * tf.reduce_sum(bins, axis=[1, 2, 3])


class _NoisyModel(tf.Module):
    """A log-density that depends on the dequantisation noise."""

    def log_prob(self, x):
        return -tf.reduce_sum(tf.square(x) * 10.0, axis=[1, 2, 3])


def _images(n: int) -> np.ndarray:
    return np.random.default_rng(0).integers(0, 256, (n, 4, 4, 1), dtype=np.uint8)


def _dataset(images: np.ndarray, batch_size: int) -> tf.data.Dataset:
    labels = np.arange(len(images), dtype=np.int32) % 3
    return tf.data.Dataset.from_tensor_slices({'image': images, 'label': labels}).batch(batch_size)


class EvaluateBitsPerDimTest(tf.test.TestCase):
    def test_exact_mean_over_images_with_partial_batch(self):
        images = _images(10)
        got = evaluate.evaluate_bits_per_dim(_BinIndexModel(), _dataset(images, 4), n_bits=8)
        num_dims = 16
        log_prob = -0.01 * images.reshape(10, -1).astype(np.float64).sum(axis=1)
        expected = np.mean(-(log_prob - num_dims * math.log(256)) / (num_dims * math.log(2)))
        self.assertAllClose(got, expected, rtol=1e-6)

    def test_independent_of_batch_size(self):
        images = _images(10)
        results = [
            evaluate.evaluate_bits_per_dim(_NoisyModel(), _dataset(images, b), n_bits=5)
            for b in (1, 3, 10)
        ]
        self.assertAllClose(results, [results[0]] * 3, rtol=1e-6)
        # The noise does matter: another seed gives another value.
        other = evaluate.evaluate_bits_per_dim(_NoisyModel(), _dataset(images, 3), n_bits=5, seed=1)
        self.assertNotAllClose(other, results[0])

    def test_evaluator_is_reusable_and_passes_labels(self):
        model = _BinIndexModel()
        evaluator = evaluate.BitsPerDimEvaluator(model, 8, use_labels=True)
        first = evaluator(_dataset(_images(6), 4))
        model.scale.assign(0.02)
        second = evaluator(_dataset(_images(6), 4))
        self.assertGreater(second, first)
        self.assertEqual(int(model.labels_seen.numpy()), 2 * (0 + 1 + 2 + 0 + 1 + 2))

    def test_logs_batches_done(self):
        with self.assertLogs('absl', 'INFO') as logs:
            evaluate.evaluate_bits_per_dim(_BinIndexModel(), _dataset(_images(10), 4), n_bits=8)
        self.assertRegex(logs.output[-1], r'bits/dim evaluation: 3/3 batches \(100%\)')

    def test_empty_dataset(self):
        with self.assertRaisesRegex(ValueError, 'empty'):
            evaluate.evaluate_bits_per_dim(_BinIndexModel(), _dataset(_images(0), 4), n_bits=8)


class MeanEvaluatorTest(tf.test.TestCase):
    def test_means_of_every_named_value_with_partial_batch(self):
        values = np.arange(7, dtype=np.float32)
        dataset = tf.data.Dataset.from_tensor_slices({'value': values}).batch(3)
        evaluator = evaluate.MeanEvaluator(
            lambda batch: {'value': batch['value'], 'square': tf.square(batch['value'])},
            ['value', 'square'],
        )
        self.assertAllClose(evaluator(dataset), {'value': 3.0, 'square': np.mean(values**2)})

    def test_empty_dataset(self):
        dataset = tf.data.Dataset.from_tensor_slices({'value': np.zeros(0, np.float32)}).batch(2)
        evaluator = evaluate.MeanEvaluator(lambda batch: batch, ['value'])
        with self.assertRaisesRegex(ValueError, 'empty'):
            evaluator(dataset)


if __name__ == '__main__':
    tf.test.main()
