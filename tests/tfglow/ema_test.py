"""Tests for tfglow.ema."""

import numpy as np
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

    def test_the_documented_rule_bit_for_bit(self):
        weight = tf.Variable([0.3, -1.7, 2.5])
        ema = ExponentialMovingAverage([weight], decay=0.999)
        update = tf.function(ema.update)
        shadow = weight.numpy()
        for t in range(30):
            weight.assign_add([0.01, -0.02, 0.03 * (t % 3)])
            decay = np.minimum(np.float32(0.999), np.float32(1 + t) / np.float32(10 + t))
            shadow = shadow - (np.float32(1) - decay) * (shadow - weight.numpy())
            update()
            self.assertAllEqual(ema.shadows[0], shadow)

    def test_resuming_from_a_checkpoint_continues_bit_identically(self):
        def run(steps, weight, ema):
            for step in steps:
                weight.assign_add([0.1 * step, -0.05])
                ema.update()

        weight = tf.Variable([1.0, 2.0])
        ema = ExponentialMovingAverage([weight], decay=0.99)
        run(range(6), weight, ema)
        resumed_weight = tf.Variable([1.0, 2.0])
        resumed = ExponentialMovingAverage([resumed_weight], decay=0.99)
        run(range(3), resumed_weight, resumed)
        path = tf.train.Checkpoint(weight=resumed_weight, ema=resumed).save(
            self.get_temp_dir() + '/ckpt'
        )
        # The layout tfglow.trained reads: one shadow per variable, and the update count.
        names = {name for name, _ in tf.train.list_variables(path)}
        self.assertContainsSubset(
            {
                'ema/shadows/0/.ATTRIBUTES/VARIABLE_VALUE',
                'ema/num_updates/.ATTRIBUTES/VARIABLE_VALUE',
            },
            names,
        )
        fresh_weight = tf.Variable([0.0, 0.0])
        fresh = ExponentialMovingAverage([fresh_weight], decay=0.99)
        tf.train.Checkpoint(weight=fresh_weight, ema=fresh).restore(path)
        run(range(3, 6), fresh_weight, fresh)
        self.assertAllEqual(fresh.shadows[0], ema.shadows[0])
        self.assertEqual(int(fresh.num_updates.numpy()), 6)

    def test_bad_decay(self):
        with self.assertRaisesRegex(ValueError, 'decay'):
            ExponentialMovingAverage([tf.Variable(0.0)], decay=1.0)


if __name__ == '__main__':
    tf.test.main()
