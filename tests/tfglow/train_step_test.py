"""Tests for tfglow.train_step's optimizer (the step itself: train_test and distribute_test)."""

import keras
import tensorflow as tf

from tests.tfglow import train_helpers
from tfglow import config_lib, train_step


class LinearWarmupTest(tf.test.TestCase):
    def test_schedule(self):
        schedule = train_step.LinearWarmup(1e-3, warmup_steps=4)
        self.assertAllClose(
            [schedule(s) for s in range(6)], [2.5e-4, 5e-4, 7.5e-4, 1e-3, 1e-3, 1e-3]
        )
        self.assertAllClose(train_step.LinearWarmup(1e-3, warmup_steps=0)(0), 1e-3)
        self.assertEqual(schedule.get_config(), {'learning_rate': 1e-3, 'warmup_steps': 4})


class MakeOptimizerTest(tf.test.TestCase):
    def test_optimizers(self):
        config = config_lib.load_config(train_helpers.SMOKE_CONFIG)
        config.update(beta1=0.8, beta2=0.95)
        adamax = train_step.make_optimizer(config)
        self.assertIsInstance(adamax, keras.optimizers.Adamax)
        self.assertAllClose([adamax.beta_1, adamax.beta_2], [0.8, 0.95])
        config.optimizer = 'adam'
        self.assertIsInstance(train_step.make_optimizer(config), keras.optimizers.Adam)
        config.optimizer = 'sgd'
        with self.assertRaisesRegex(ValueError, "Unknown optimizer 'sgd'"):
            train_step.make_optimizer(config)


if __name__ == '__main__':
    tf.test.main()
