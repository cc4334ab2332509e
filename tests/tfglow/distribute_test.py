"""Tests for tfglow.distribute (single process; multi-worker runs are in distributed_test.py)."""

import tensorflow as tf

from tfglow import distribute


class DistributeTest(tf.test.TestCase):
    def test_strategies_by_name(self):
        self.assertIs(distribute.get_strategy('default'), tf.distribute.get_strategy())
        self.assertIsInstance(
            distribute.get_strategy('one_device'), tf.distribute.OneDeviceStrategy
        )
        self.assertIsInstance(distribute.get_strategy('mirrored'), tf.distribute.MirroredStrategy)

    def test_unknown_strategy_lists_the_names(self):
        with self.assertRaisesRegex(
            ValueError, "Unknown strategy 'horovod'.*multi_worker_mirrored"
        ):
            distribute.get_strategy('horovod')

    def test_check_divisible(self):
        self.assertEqual(distribute.check_divisible(64, 4), 16)
        with self.assertRaisesRegex(ValueError, r'batch_size=10 .* replicas \(4\)'):
            distribute.check_divisible(10, 4)
        with self.assertRaisesRegex(ValueError, 'eval_batch_size=0'):
            distribute.check_divisible(0, 1, 'eval_batch_size')

    def test_single_process_is_chief(self):
        strategy = tf.distribute.get_strategy()
        self.assertTrue(distribute.is_chief(strategy))
        self.assertEqual(distribute.num_workers(strategy), 1)
        self.assertEqual(distribute.worker_dir('/some/dir', strategy), '/some/dir')


if __name__ == '__main__':
    tf.test.main()
