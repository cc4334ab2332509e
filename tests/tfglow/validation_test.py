"""validation.integer and is_integer: integers (NumPy's too) in a range, nothing else."""

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

    def test_ranges_and_their_messages(self):
        self.assertEqual(validation.integer(-5, 'seed'), -5)
        self.assertEqual(validation.integer(8, 'n_bits', 1, 8), 8)
        self.assertEqual(validation.integer(-3, 'offset', maximum=0), -3)
        cases = (
            (9, dict(minimum=1, maximum=8), r'n must be an integer in 1\.\.8; got 9\.'),
            (0, dict(minimum=1, maximum=8), r'n must be an integer in 1\.\.8; got 0\.'),
            (1, dict(maximum=0), r'n must be an integer <= 0; got 1\.'),
            ('0', {}, r"n must be an integer; got '0'\."),
            (False, {}, r'n must be an integer; got False\.'),
        )
        for value, bounds, message in cases:
            with self.assertRaisesRegex(ValueError, message):
                validation.integer(value, 'n', **bounds)

    def test_numpy_integers_can_be_refused(self):
        self.assertTrue(validation.is_integer(np.int32(3), 1))
        self.assertFalse(validation.is_integer(np.int32(3), 1, allow_numpy=False))
        with self.assertRaisesRegex(ValueError, r'n must be an integer >= 1; got '):
            validation.integer(np.int32(3), 'n', 1, allow_numpy=False)
        self.assertEqual(validation.integer(3, 'n', 1, allow_numpy=False), 3)

    def test_is_integer(self):
        self.assertTrue(validation.is_integer(0))
        self.assertTrue(validation.is_integer(5, 0, 5))
        for value, bounds in ((6, (0, 5)), (-1, (0, None)), (True, ()), (1.0, ()), ('1', ())):
            self.assertFalse(validation.is_integer(value, *bounds))


if __name__ == '__main__':
    tf.test.main()
