"""Tests for tfglow.ema."""

import tensorflow as tf
from absl.testing import parameterized

from tfglow.ema import ExponentialMovingAverage


class ExponentialMovingAverageTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(
        ('default', None),
        ('mirrored', lambda: tf.distribute.MirroredStrategy(['/cpu:0'])),
    )
    def test_update_swap_reset(self, make_strategy):
        strategy = make_strategy() if make_strategy else tf.distribute.get_strategy()
        with strategy.scope():
            weight = tf.Variable([1.0, 2.0])
            ema = ExponentialMovingAverage([weight], decay=0.99)
        weight.assign([3.0, 6.0])
        # First update: the decay is capped at (1 + 0) / (10 + 0) = 0.1.
        ema.update()
        self.assertAllClose(ema.shadows[0], [2.8, 5.6])
        self.assertEqual(int(ema.num_updates.numpy()), 1)
        # Called outside strategy.scope() on purpose: the EMA uses its own strategy.
        with ema.averaged():
            self.assertAllClose(weight, [2.8, 5.6])
            self.assertAllClose(ema.shadows[0], [3.0, 6.0])
        self.assertAllClose(weight, [3.0, 6.0])
        self.assertAllClose(ema.shadows[0], [2.8, 5.6])
        ema.reset()
        self.assertAllClose(ema.shadows[0], [3.0, 6.0])
        self.assertEqual(int(ema.num_updates.numpy()), 0)

    def test_long_run_decay(self):
        weight = tf.Variable(0.0)
        ema = ExponentialMovingAverage([weight], decay=0.5)
        ema.num_updates.assign(1000)
        weight.assign(1.0)
        ema.update()
        self.assertAllClose(ema.shadows[0], 0.5)

    def test_update_in_tf_function(self):
        weight = tf.Variable(1.0)
        ema = ExponentialMovingAverage([weight], decay=0.9)
        weight.assign(2.0)
        tf.function(ema.update)()
        self.assertAllClose(ema.shadows[0], 1.9)

    def test_checkpoint_round_trip(self):
        weight = tf.Variable(1.0)
        ema = ExponentialMovingAverage([weight], decay=0.9)
        weight.assign(3.0)
        ema.update()
        path = tf.train.Checkpoint(ema=ema).save(self.get_temp_dir() + '/ckpt')
        restored = ExponentialMovingAverage([tf.Variable(0.0)], decay=0.9)
        tf.train.Checkpoint(ema=restored).restore(path).assert_existing_objects_matched()
        self.assertAllClose(restored.shadows[0], 2.8)
        self.assertEqual(int(restored.num_updates.numpy()), 1)

    def test_bad_decay(self):
        with self.assertRaisesRegex(ValueError, 'decay'):
            ExponentialMovingAverage([tf.Variable(0.0)], decay=1.0)


if __name__ == '__main__':
    tf.test.main()
