"""validation.integer: integers (NumPy's too) at or above a minimum, nothing else."""

import numpy as np
import tensorflow as tf

from tfglow import validation


class IntegerTest(tf.test.TestCase):
    def test_accepts_integers_at_or_above_the_minimum(self):
        self.assertEqual(validation.integer(3, 'k', 1), 3)
        self.assertEqual(validation.integer(0, 'k', 0), 0)
        value = validation.integer(np.int64(7), 'k', 1)
        self.assertEqual(value, 7)
        self.assertIsInstance(value, int)

    def test_refuses_with_the_name(self):
        for bad in (0, -2, 2.0, 1.5, True, '3', None):
            with self.assertRaisesRegex(ValueError, r'num_related must be an integer >= 1; got '):
                validation.integer(bad, 'num_related', 1)


if __name__ == '__main__':
    tf.test.main()
