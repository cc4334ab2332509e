"""Coupling: the bijector laws (also with a bfloat16 network), openai/glow's maths, conditioning."""

import numpy as np
import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows import testing
from tfp_flows.bijectors import Coupling


def _affine(channels, dtype):
    return Coupling(channels, hidden_width=8, coupling='affine', seed=2, dtype=dtype)


def _additive(channels, dtype):
    return Coupling(channels, hidden_width=8, coupling='additive', seed=2, dtype=dtype)


def _bfloat16_network_affine(channels, dtype):
    return Coupling(channels, hidden_width=8, seed=2, network_dtype='bfloat16', dtype=dtype)


def _conditional_affine(channels, dtype):
    return Coupling(channels, hidden_width=8, conditional_channels=3, seed=2, dtype=dtype)


class CouplingLawsTest(
    laws.laws_test_case(
        (
            ('affine_coupling', _affine, {}),
            ('additive_coupling', _additive, {}),
            ('conditional_coupling', _conditional_affine, {'conditional_input': 'vector'}),
        )
    )
):
    pass


class CouplingTest(tf.test.TestCase):
    def test_starts_as_sigmoid_two_scaling(self):
        # The last conv is zero, so h = 0: shift 0, scale sigmoid(2) on the second half.
        coupling = Coupling(4, hidden_width=8)
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[0, 0])
        y, log_det = coupling.forward_and_log_det(x)
        scale = 1 / (1 + np.exp(-2.0))
        self.assertAllClose(y[..., :2], x[..., :2])
        self.assertAllClose(y[..., 2:], x[..., 2:] * scale)
        self.assertAllClose(log_det, [18 * np.log(scale)] * 2)

    def test_additive_starts_as_identity(self):
        coupling = Coupling(4, hidden_width=8, coupling='additive')
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[0, 1])
        y, log_det = coupling.forward_and_log_det(x)
        self.assertAllClose(y, x)
        self.assertAllClose(log_det, [0.0, 0.0])

    def test_affine_uses_interleaved_shift_and_scale(self):
        coupling = Coupling(4, hidden_width=8)
        out = coupling.network.output_layer
        out.bias.assign([0.5, -1.0, 0.25, 3.0])  # h = [shift0, raw0, shift1, raw1]
        x = tf.zeros([1, 2, 2, 4])
        y = coupling.forward(x)
        sigmoid = lambda v: 1 / (1 + np.exp(-v))  # noqa: E731
        self.assertAllClose(y[0, 0, 0, 2:], [0.5 * sigmoid(1.0), 0.25 * sigmoid(5.0)], atol=1e-6)

    def test_conditioning_changes_the_output_and_is_required(self):
        coupling = Coupling(4, hidden_width=8, conditional_channels=2, seed=0)
        coupling.network.output_layer.kernel.assign(
            tf.ones_like(coupling.network.output_layer.kernel)
        )
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[1, 1])
        a = coupling.forward(x, conditional_input=tf.constant([[1.0, 0.0], [1.0, 0.0]]))
        b = coupling.forward(x, conditional_input=tf.constant([[0.0, 1.0], [0.0, 1.0]]))
        self.assertNotAllClose(a, b)
        with self.assertRaisesRegex(ValueError, 'needs a conditional_input'):
            coupling.forward(x)
        with self.assertRaisesRegex(ValueError, r'must have shape \[B, 2\]'):
            coupling.forward(x, conditional_input=tf.zeros([2, 3]))
        with self.assertRaisesRegex(ValueError, 'built without conditioning'):
            Coupling(4, hidden_width=8).forward(x, conditional_input=tf.zeros([2, 2]))

    def test_odd_channels_and_unknown_kind(self):
        with self.assertRaisesRegex(ValueError, 'must be even'):
            Coupling(3, hidden_width=8)
        with self.assertRaisesRegex(
            ValueError, "coupling must be one of \\('affine', 'additive'\\)"
        ):
            Coupling(4, hidden_width=8, coupling='spline')


class MixedPrecisionCouplingTest(tf.test.TestCase):
    """A coupling whose network computes in bfloat16 keeps every property of the float32 one.

    Except one: a graph fuses the network's conv, bias and ReLU (one bfloat16 rounding) where
    eager execution rounds after each op, so a forward in one mode and an inverse in the other
    differ at bfloat16 precision. Both inside one mode, the round trip is exact.
    """

    def _layer(self, dtype=tf.float32, scale=0.1):
        layer = _bfloat16_network_affine(4, dtype)
        testing.perturb_variables(layer, scale)
        return layer

    def test_bijective_and_finite(self):
        testing.assert_bijective_and_finite(self, self._layer(), laws.inputs(tf.float32)[0])

    def test_log_det_matches_autodiff_jacobian(self):
        layer = self._layer(tf.float64, 0.3)
        testing.assert_log_det_matches_jacobian(self, layer, laws.inputs(tf.float64, batch=2)[0])

    def test_gradients_reach_every_variable(self):
        testing.assert_gradients_reach_variables(self, self._layer(), laws.inputs(tf.float32)[0])

    def test_round_trip_inside_tf_function_with_dynamic_batch(self):
        layer, x = self._layer(), laws.inputs(tf.float32)[0]

        @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 4], tf.float32)])
        def round_trip(x):
            y, log_det = layer.forward(x), layer.forward_log_det_jacobian(x, event_ndims=3)
            return layer.inverse(y), log_det

        x_again, log_det = round_trip(x)
        self.assertAllClose(x_again, x, atol=1e-6, rtol=0.0)
        self.assertAllEqual(log_det.shape, [3])


if __name__ == '__main__':
    tf.test.main()
