"""Shared bijector properties, checked on every Glow layer in float32 and float64."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows import bijectors as tfpb
from tfp_flows import testing


def _act_norm(channels, dtype):
    return tfpb.ActNorm(channels, dtype=dtype)


def _invconv(channels, dtype):
    return tfpb.InvertibleConv1x1(channels, seed=1, dtype=dtype)


def _lu_invconv(channels, dtype):
    return tfpb.InvertibleConv1x1(channels, lu_decomposed=True, seed=1, dtype=dtype)


def _reverse(channels, dtype):
    del dtype
    return tfpb.ChannelPermutation(channels, kind='reverse')


def _shuffle(channels, dtype):
    del dtype
    return tfpb.ChannelPermutation(channels, kind='shuffle', seed=3)


def _affine(channels, dtype):
    return tfpb.Coupling(channels, hidden_width=8, coupling='affine', seed=2, dtype=dtype)


def _additive(channels, dtype):
    return tfpb.Coupling(channels, hidden_width=8, coupling='additive', seed=2, dtype=dtype)


def _bfloat16_network_affine(channels, dtype):
    return tfpb.Coupling(channels, hidden_width=8, seed=2, network_dtype='bfloat16', dtype=dtype)


def _conditional_affine(channels, dtype):
    return tfpb.Coupling(channels, hidden_width=8, conditional_channels=3, seed=2, dtype=dtype)


def _split(channels, dtype):
    return tfpb.Split(channels, dtype=dtype)


def _conditional_split(channels, dtype):
    return tfpb.Split(channels, conditional_channels=3, dtype=dtype)


def _squeeze(channels, dtype):
    del channels, dtype
    return tfpb.Squeeze()


def _learned_top(channels, dtype):
    return tfpb.TopPrior(channels, learn_top=True, dtype=dtype)


def _class_top(channels, dtype):
    return tfpb.TopPrior(channels, learn_top=True, num_classes=5, dtype=dtype)


def _context_top(channels, dtype):
    return tfpb.TopPrior(channels, conditional_channels=3, dtype=dtype)


LAYERS = (
    ('act_norm', _act_norm, {}),
    ('invconv', _invconv, {}),
    ('lu_invconv', _lu_invconv, {}),
    ('reverse', _reverse, {}),
    ('shuffle', _shuffle, {}),
    ('affine_coupling', _affine, {}),
    ('additive_coupling', _additive, {}),
    ('conditional_coupling', _conditional_affine, {'conditional_input': 'vector'}),
    ('split', _split, {}),
    ('conditional_split', _conditional_split, {'conditional_input': 'map'}),
    ('squeeze', _squeeze, {}),
    ('learned_top', _learned_top, {}),
    ('class_top', _class_top, {'label': 'label'}),
    ('context_top', _context_top, {'conditional_input': 'vector'}),
)


def _inputs(dtype, batch=3, height=4, width=4, channels=4, seed=0):
    rng = np.random.default_rng(seed)
    x = tf.constant(rng.normal(size=(batch, height, width, channels)), dtype)
    values = {
        'vector': tf.constant(rng.normal(size=(batch, 3)), dtype),
        'map': tf.constant(rng.normal(size=(batch, height, width, 3)), dtype),
        'label': tf.constant(rng.integers(0, 5, size=batch), tf.int32),
    }
    return x, values


def _kwargs(spec, values):
    return {key: values[kind] for key, kind in spec.items()}


class LayerPropertiesTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.named_parameters(*LAYERS)
    def test_bijective_and_finite(self, make, spec):
        x, values = _inputs(tf.float32)
        layer = make(4, tf.float32)
        testing.perturb_variables(layer, 0.1)
        testing.assert_bijective_and_finite(self, layer, x, **_kwargs(spec, values))

    @parameterized.named_parameters(*LAYERS)
    def test_log_det_matches_autodiff_jacobian(self, make, spec):
        x, values = _inputs(tf.float64, batch=2)
        layer = make(4, tf.float64)
        testing.perturb_variables(layer, 0.3)
        testing.assert_log_det_matches_jacobian(self, layer, x, **_kwargs(spec, values))

    @parameterized.named_parameters(*LAYERS)
    def test_dynamic_batch_in_tf_function(self, make, spec):
        x, values = _inputs(tf.float32)
        layer = make(4, tf.float32)
        testing.perturb_variables(layer, 0.1)
        # Conditioning tensors have a fixed batch here; the batch of x is unknown to the trace.
        kwargs = _kwargs(spec, values)
        if kwargs:
            x = x[:1]
            kwargs = {key: value[:1] for key, value in kwargs.items()}
        testing.assert_dynamic_batch(self, layer, x, **kwargs)

    @parameterized.named_parameters(*LAYERS)
    def test_gradients_reach_every_variable(self, make, spec):
        x, values = _inputs(tf.float32)
        layer = make(4, tf.float32)
        testing.perturb_variables(layer, 0.1)
        testing.assert_gradients_reach_variables(self, layer, x, **_kwargs(spec, values))

    @parameterized.named_parameters(*LAYERS)
    def test_rejects_wrong_rank(self, make, spec):
        x, values = _inputs(tf.float32)
        layer = make(4, tf.float32)
        with self.assertRaisesRegex(ValueError, r'\[B, H, W, C\]'):
            layer.forward(x[0], **_kwargs(spec, {k: v[0] for k, v in values.items()}))


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
        testing.assert_bijective_and_finite(self, self._layer(), _inputs(tf.float32)[0])

    def test_log_det_matches_autodiff_jacobian(self):
        layer = self._layer(tf.float64, 0.3)
        testing.assert_log_det_matches_jacobian(self, layer, _inputs(tf.float64, batch=2)[0])

    def test_gradients_reach_every_variable(self):
        testing.assert_gradients_reach_variables(self, self._layer(), _inputs(tf.float32)[0])

    def test_round_trip_inside_tf_function_with_dynamic_batch(self):
        layer, x = self._layer(), _inputs(tf.float32)[0]

        @tf.function(input_signature=[tf.TensorSpec([None, 4, 4, 4], tf.float32)])
        def round_trip(x):
            y, log_det = layer.forward(x), layer.forward_log_det_jacobian(x, event_ndims=3)
            return layer.inverse(y), log_det

        x_again, log_det = round_trip(x)
        self.assertAllClose(x_again, x, atol=1e-6, rtol=0.0)
        self.assertAllEqual(log_det.shape, [3])


if __name__ == '__main__':
    tf.test.main()
