"""Tests of tfglow.sampling's grids that need no trained model."""

import numpy as np
import tensorflow as tf

from tfglow import sampling


def _sample(num, temperature, seed):
    """A stand-in for an export's serving_default that overflows above T=0.8."""
    del seed
    if temperature > 0.8:
        raise tf.errors.InvalidArgumentError(
            None, None, 'temperature: the samples overflow (not finite); use a lower one'
        )
    return {'images': tf.fill([num, 2, 2, 1], tf.cast(255 * temperature, tf.uint8))}


class TemperatureGridsTest(tf.test.TestCase):
    def test_a_temperature_whose_samples_overflow_gets_no_grid(self):
        with self.assertLogs(level='WARNING') as logs:
            grids = sampling.temperature_grids(_sample, (0.5, 1.0), num_samples=4)
        self.assertEqual(list(grids), [0.5])
        self.assertEqual(int(np.max(grids[0.5])), 127)
        self.assertIn('No sample grid at T=1.0', logs.output[0])

    def test_other_errors_are_not_swallowed(self):
        def broken(num, temperature, seed):
            raise tf.errors.InvalidArgumentError(None, None, 'num must be >= 1')

        with self.assertRaisesRegex(tf.errors.InvalidArgumentError, 'num must be'):
            sampling.temperature_grids(broken, (0.5,), num_samples=4)


if __name__ == '__main__':
    tf.test.main()
