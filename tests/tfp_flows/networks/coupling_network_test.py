"""CouplingNetwork: openai/glow's conditioner, in its variables' dtype or in mixed precision."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows import testing
from tfp_flows.networks import CouplingNetwork


def _network(compute_dtype=None):
    network = CouplingNetwork(3, 16, 6, seed=0, compute_dtype=compute_dtype)
    # Nonzero last layer, so that the output depends on every layer.
    testing.perturb_variables(network, 0.1, seed=1)
    return network


def _inputs(seed=0):
    return tf.constant(np.random.default_rng(seed).normal(size=(2, 8, 8, 3)), tf.float32)


class CouplingNetworkTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters('bfloat16', 'float16')
    def test_mixed_precision_keeps_float32_variables_and_output(self, compute_dtype):
        network = _network(compute_dtype)
        self.assertEqual(network.compute_dtype, tf.as_dtype(compute_dtype))
        self.assertEqual({v.dtype for v in network.trainable_variables}, {tf.float32})
        self.assertEqual(network(_inputs()).dtype, tf.float32)

    def test_bfloat16_output_is_the_float32_output_to_bfloat16_precision(self):
        x = _inputs()
        full, mixed = _network(), _network('bfloat16')  # Same seeds: same weights.
        expected = full(x)
        # bfloat16 keeps 8 significant bits (relative error 2**-9 per rounding); three layers of
        # rounded inputs and weights leave about 1% of the output's scale.
        scale = float(tf.reduce_max(tf.abs(expected)))
        self.assertAllClose(mixed(x), expected, atol=0.02 * scale, rtol=0.0)
        self.assertNotAllClose(mixed(x), expected, atol=1e-6 * scale, rtol=0.0)

    def test_same_input_same_output(self):
        network, x = _network('bfloat16'), _inputs()
        self.assertAllEqual(network(x), network(tf.identity(x)))

    def test_gradients_reach_every_variable_in_float32(self):
        network, x = _network('bfloat16'), _inputs()
        with tf.GradientTape() as tape:
            loss = tf.reduce_sum(tf.square(network(x)))
        gradients = tape.gradient(loss, network.trainable_variables)
        for variable, gradient in zip(network.trainable_variables, gradients):
            self.assertIsNotNone(gradient, variable.name)
            self.assertEqual(gradient.dtype, tf.float32, variable.name)
            self.assertTrue(np.all(np.isfinite(gradient.numpy())), variable.name)
            self.assertGreater(float(tf.reduce_max(tf.abs(gradient))), 0.0, variable.name)

    def test_initialize_computes_in_the_variables_dtype(self):
        x = _inputs()
        full, mixed = (
            CouplingNetwork(3, 16, 6, seed=0),
            CouplingNetwork(3, 16, 6, seed=0, compute_dtype='bfloat16'),
        )
        full.initialize(x)
        mixed.initialize(x)
        for a, b in zip(full.variables, mixed.variables):
            self.assertAllEqual(a, b, msg=a.name)

    @parameterized.parameters('int32', 'string', 'fp8')
    def test_rejects_a_non_floating_compute_dtype(self, compute_dtype):
        with self.assertRaisesRegex(ValueError, 'compute_dtype must be a floating dtype'):
            CouplingNetwork(3, 16, 6, compute_dtype=compute_dtype)


if __name__ == '__main__':
    tf.test.main()
