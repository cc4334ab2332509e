"""The laws every bijector obeys (`tfp_flows.testing`), as one parameterised TestCase per module.

Each `<module>_test.py` lists its layers, `(name, make(channels, dtype), conditioning)`, where
`conditioning` maps a keyword argument to the kind of value it takes: `'vector'` (`[B, 3]`),
`'map'` (`[B, H, W, 3]`) or `'label'` (int `[B]` in `[0, 5)`).
"""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows import testing

CHANNELS = 4


def inputs(dtype, batch=3, height=4, width=4, channels=CHANNELS, seed=0):
    """An image batch `x` and one conditioning value of each kind, for that batch."""
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


def laws_test_case(layers) -> type:
    """A `tf.test.TestCase` checking every law on each of `layers`, in float32 and float64."""

    class LawsTest(tf.test.TestCase, parameterized.TestCase):
        @parameterized.named_parameters(*layers)
        def test_bijective_and_finite(self, make, spec):
            x, values = inputs(tf.float32)
            layer = make(CHANNELS, tf.float32)
            testing.perturb_variables(layer, 0.1)
            testing.assert_bijective_and_finite(self, layer, x, **_kwargs(spec, values))

        @parameterized.named_parameters(*layers)
        def test_log_det_matches_autodiff_jacobian(self, make, spec):
            x, values = inputs(tf.float64, batch=2)
            layer = make(CHANNELS, tf.float64)
            testing.perturb_variables(layer, 0.3)
            testing.assert_log_det_matches_jacobian(self, layer, x, **_kwargs(spec, values))

        @parameterized.named_parameters(*layers)
        def test_dynamic_batch_in_tf_function(self, make, spec):
            x, values = inputs(tf.float32)
            layer = make(CHANNELS, tf.float32)
            testing.perturb_variables(layer, 0.1)
            # Conditioning tensors have a fixed batch here; the batch of x is unknown to the trace.
            kwargs = _kwargs(spec, values)
            if kwargs:
                x = x[:1]
                kwargs = {key: value[:1] for key, value in kwargs.items()}
            testing.assert_dynamic_batch(self, layer, x, **kwargs)

        @parameterized.named_parameters(*layers)
        def test_gradients_reach_every_variable(self, make, spec):
            x, values = inputs(tf.float32)
            layer = make(CHANNELS, tf.float32)
            testing.perturb_variables(layer, 0.1)
            testing.assert_gradients_reach_variables(self, layer, x, **_kwargs(spec, values))

        @parameterized.named_parameters(*layers)
        def test_rejects_wrong_rank(self, make, spec):
            x, values = inputs(tf.float32)
            layer = make(CHANNELS, tf.float32)
            with self.assertRaisesRegex(ValueError, r'\[B, H, W, C\]'):
                layer.forward(x[0], **_kwargs(spec, {k: v[0] for k, v in values.items()}))

    return LawsTest
