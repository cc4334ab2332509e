"""DequantizationFlow: bijector laws on (0, 1)^D, the identity at initialisation, conditioning."""

import numpy as np
import tensorflow as tf

import tfp_flows.dequantization as dq
from tfp_flows import testing
from tfp_flows.bijectors import DequantizationFlow

_SHAPE = (4, 4, 2)


def _inputs(dtype=tf.float64, batch=3, seed=0):
    """Noise well inside (0, 1) and binary images in the model's scale, `[batch, 4, 4, 2]`."""
    rng = np.random.default_rng(seed)
    noise = rng.uniform(0.02, 0.98, size=(batch, *_SHAPE))
    levels = rng.integers(0, 2, size=(batch, *_SHAPE)) * 255
    return tf.constant(noise, dtype), dq.preprocess(levels.astype(np.uint8), 1, dtype=dtype)


def _trained_flow(dtype=tf.float64, seed=1):
    """A flow whose zero-initialised layers were moved, so that it is no longer the identity."""
    flow = DequantizationFlow(_SHAPE, num_couplings=2, hidden_width=8, seed=seed, dtype=dtype)
    testing.perturb_variables(flow, scale=0.1, seed=seed)
    return flow


class DequantizationFlowTest(tf.test.TestCase):
    def test_bijective_with_exact_log_det(self):
        flow = _trained_flow()
        v, x = _inputs()
        u, _ = testing.assert_bijective_and_finite(self, flow, v, atol=1e-8, condition=x)
        self.assertNotAllClose(u, v)
        testing.assert_log_det_matches_jacobian(self, flow, v, atol=1e-8, condition=x)

    def test_dynamic_batch_and_gradients(self):
        flow = _trained_flow(tf.float32)
        v, x = _inputs(tf.float32)
        # testing.assert_dynamic_batch slices the input only, not the condition: both here.
        spec = tf.TensorSpec([None, *_SHAPE], tf.float32)
        forward = tf.function(
            lambda v, x: flow.forward_and_log_det(v, condition=x), input_signature=[spec, spec]
        )
        for batch in (3, 1):
            u_graph, log_det_graph = forward(v[:batch], x[:batch])
            u, log_det = flow.forward_and_log_det(v[:batch], condition=x[:batch])
            self.assertAllClose(u_graph, u, atol=1e-6)
            self.assertAllClose(log_det_graph, log_det, atol=1e-4)
        self.assertEqual(u_graph.shape[1:], _SHAPE)
        testing.assert_gradients_reach_variables(self, flow, v, condition=x)

    def test_starts_as_the_identity(self):
        flow = DequantizationFlow(_SHAPE, num_couplings=3, hidden_width=8, seed=0)
        v, x = _inputs(tf.float32)
        u, log_det = flow.forward_and_log_det(v, condition=x)
        self.assertAllClose(u, v, atol=1e-6)
        # Exactly 0, not nearly: the logit's and the sigmoid's terms are the same numbers.
        self.assertAllEqual(log_det, tf.zeros([3]))

    def test_output_stays_inside_the_unit_box(self):
        flow = _trained_flow(tf.float32)
        v, x = _inputs(tf.float32)
        # Nearer the edges, where |logit| grows past ~17, float32's sigmoid rounds (documented).
        u = flow.forward(tf.where(v > 0.5, 0.98, 0.02), condition=x)
        self.assertAllInRange(u, 0.0, 1.0)
        self.assertTrue(bool(tf.reduce_all((u > 0.0) & (u < 1.0))))

    def test_the_noise_depends_on_the_pixels(self):
        flow = _trained_flow()
        v, x = _inputs()
        self.assertNotAllClose(flow.forward(v, condition=x), flow.forward(v, condition=-0.5 - x))

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'num_couplings must be an integer >= 0'):
            DequantizationFlow(_SHAPE, num_couplings=-1)
        with self.assertRaisesRegex(ValueError, 'hidden_width must be an integer >= 1'):
            DequantizationFlow(_SHAPE, hidden_width=0)
        flow = DequantizationFlow(_SHAPE, hidden_width=4)
        v, _ = _inputs(tf.float32)
        with self.assertRaisesRegex(ValueError, 'built for 2 channels'):
            flow.forward(v, condition=tf.zeros([3, 4, 4, 1]))


if __name__ == '__main__':
    tf.test.main()
