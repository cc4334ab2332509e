"""ActNorm: the bijector laws, data-dependent init, the x3 log-scale factor, the saved flag."""

import numpy as np
import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows.bijectors import ActNorm


def _act_norm(channels, dtype):
    return ActNorm(channels, dtype=dtype)


class ActNormLawsTest(laws.laws_test_case((('act_norm', _act_norm, {}),))):
    pass


class ActNormTest(tf.test.TestCase):
    def test_initialize_gives_zero_mean_unit_std_per_channel(self):
        rng = np.random.default_rng(0)
        x = tf.constant(
            rng.normal([1.0, -2.0, 0.5], [0.2, 3.0, 1.0], size=(16, 4, 4, 3)), tf.float32
        )
        act_norm = ActNorm(3)
        y = act_norm.initialize(x)
        self.assertAllClose(tf.reduce_mean(y, [0, 1, 2]), tf.zeros(3), atol=1e-5)
        self.assertAllClose(tf.math.reduce_std(y, [0, 1, 2]), tf.ones(3), atol=1e-4)
        self.assertAllClose(act_norm.forward(x), y)

    def test_log_scale_is_stored_divided_by_three(self):
        act_norm = ActNorm(2)
        act_norm.log_scale_param.assign([0.1, -0.2])
        self.assertAllClose(act_norm.log_scale, [0.3, -0.6])
        x = tf.ones([1, 2, 5, 2])
        self.assertAllClose(act_norm.forward_log_det_jacobian(x, event_ndims=3), [10 * (0.3 - 0.6)])

    def test_initialized_flag_is_saved_and_restored(self):
        act_norm = ActNorm(2)
        self.assertFalse(bool(act_norm.initialized))
        act_norm.initialize(tf.random.normal([4, 2, 2, 2]))
        path = tf.train.Checkpoint(layer=act_norm).save(self.get_temp_dir() + '/ckpt')
        fresh = ActNorm(2)
        tf.train.Checkpoint(layer=fresh).restore(path).assert_consumed()
        self.assertTrue(bool(fresh.initialized))
        self.assertAllClose(fresh.bias, act_norm.bias)

    def test_initialize_identical_under_mirrored_strategy(self):
        strategy = tf.distribute.MirroredStrategy(['/cpu:0'])
        with strategy.scope():
            act_norm = ActNorm(3)
        x = tf.random.stateless_normal([8, 2, 2, 3], seed=[1, 2])
        act_norm.initialize(x)
        reference = ActNorm(3)
        reference.initialize(x)
        self.assertAllClose(act_norm.bias, reference.bias)
        self.assertAllClose(act_norm.log_scale_param, reference.log_scale_param)


if __name__ == '__main__':
    tf.test.main()
