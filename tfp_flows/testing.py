"""Shared checks for flow bijectors, used by the test suites (and by anyone writing a new layer).

Every check takes a `tf.test.TestCase` to report through, a bijector with `forward_and_log_det` /
`inverse_and_log_det` (a `tfp_flows.bijectors.FlowBijector`), and an input batch.
"""

import numpy as np
import tensorflow as tf

__all__ = [
    'assert_bijective_and_finite',
    'assert_dynamic_batch',
    'assert_gradients_reach_variables',
    'assert_log_det_matches_jacobian',
    'autodiff_log_det',
    'flatten_event',
    'perturb_variables',
]


def perturb_variables(module: tf.Module, scale: float = 0.1, seed: int = 0) -> None:
    """Adds N(0, scale^2) noise to every trainable variable, so that zero-initialised layers stop
    being the identity and the checks below test a non-trivial map."""
    rng = np.random.default_rng(seed)
    for variable in module.trainable_variables:
        noise = rng.normal(0.0, scale, size=variable.shape).astype(variable.dtype.as_numpy_dtype)
        variable.assign_add(noise)


def flatten_event(value) -> tf.Tensor:
    """An image batch `[B, ...]`, or a list of them (multipart), as one `[B, D]` matrix."""
    parts = tf.nest.flatten(value)
    return tf.concat([tf.reshape(part, [tf.shape(part)[0], -1]) for part in parts], axis=1)


def _copy(value):
    # Fresh tensors bypass the bijector cache, so a round trip really recomputes both directions.
    return tf.nest.map_structure(lambda t: tf.identity(t) + 0, value)


def assert_bijective_and_finite(test_case, bijector, x, atol=1e-5, rtol=1e-5, **kwargs):
    """forward then inverse returns x, inverse then forward returns y, log-dets are finite and
    fldj(x) = -ildj(y), both through the one-pass methods and TFP's public API."""
    y, fldj = bijector.forward_and_log_det(x, **kwargs)
    x_again, ildj = bijector.inverse_and_log_det(_copy(y), **kwargs)
    y_again, fldj_again = bijector.forward_and_log_det(_copy(x_again), **kwargs)
    for value in tf.nest.flatten([y, fldj, x_again, ildj]):
        test_case.assertAllEqual(tf.math.is_finite(value), tf.ones_like(value, tf.bool))
    test_case.assertAllClose(flatten_event(x), flatten_event(x_again), atol=atol, rtol=rtol)
    test_case.assertAllClose(flatten_event(y), flatten_event(y_again), atol=atol, rtol=rtol)
    test_case.assertAllClose(fldj, -ildj, atol=atol, rtol=rtol)
    test_case.assertAllClose(fldj, fldj_again, atol=atol, rtol=rtol)
    # TFP's public API (cached path) agrees with the one-pass methods.
    event_ndims = bijector.forward_min_event_ndims
    x_public = _copy(x)
    test_case.assertAllClose(
        flatten_event(bijector.forward(x_public, **kwargs)), flatten_event(y), atol=atol, rtol=rtol
    )
    test_case.assertAllClose(
        bijector.forward_log_det_jacobian(x_public, event_ndims=event_ndims, **kwargs),
        fldj,
        atol=atol,
        rtol=rtol,
    )
    y_public = _copy(y)
    test_case.assertAllClose(
        bijector.inverse_log_det_jacobian(
            y_public, event_ndims=bijector.inverse_min_event_ndims, **kwargs
        ),
        ildj,
        atol=atol,
        rtol=rtol,
    )
    return y, fldj


def autodiff_log_det(fn, x: tf.Tensor) -> tf.Tensor:
    """log|det J| of `fn` at each example of `x` `[B, ...]`, from a full autodiff Jacobian.

    `fn` maps `x` to a tensor or list of tensors with `prod(x.shape[1:])` values per example in
    total. Use float64 and small events: the Jacobian is `[B, D, D]`.
    """
    with tf.GradientTape() as tape:
        tape.watch(x)
        y = flatten_event(fn(x))
    jacobian = tape.batch_jacobian(y, x)
    size = int(np.prod(x.shape[1:]))
    jacobian = tf.reshape(jacobian, [-1, size, size])
    return tf.linalg.slogdet(jacobian)[1]


def assert_log_det_matches_jacobian(test_case, bijector, x, atol=1e-6, rtol=1e-6, **kwargs):
    """The analytic forward log-det equals log|det| of the autodiff Jacobian (use float64)."""
    analytic = bijector.forward_and_log_det(x, **kwargs)[1]
    numeric = autodiff_log_det(lambda t: bijector.forward_and_log_det(t, **kwargs)[0], x)
    test_case.assertAllClose(analytic, numeric, atol=atol, rtol=rtol)


def assert_dynamic_batch(test_case, bijector, x, atol=1e-5, **kwargs):
    """Inside tf.function with an unknown batch dimension, forward/inverse give the eager results
    and the output keeps its static event shape."""
    spec = tf.TensorSpec([None, *x.shape[1:]], x.dtype)

    @tf.function(input_signature=[spec])
    def forward(inputs):
        return bijector.forward_and_log_det(inputs, **kwargs)

    y, fldj = bijector.forward_and_log_det(x, **kwargs)
    y_graph, fldj_graph = forward(x)
    test_case.assertAllClose(flatten_event(y), flatten_event(y_graph), atol=atol)
    test_case.assertAllClose(fldj, fldj_graph, atol=atol)
    for eager, graph in zip(tf.nest.flatten(y), tf.nest.flatten(y_graph)):
        test_case.assertEqual(eager.shape[1:], graph.shape[1:])
    # And again with a different batch size through the same trace.
    smaller = x[:1]
    test_case.assertAllClose(
        flatten_event(forward(smaller)[0]),
        flatten_event(bijector.forward_and_log_det(smaller, **kwargs)[0]),
        atol=atol,
    )


def assert_gradients_reach_variables(test_case, bijector, x, **kwargs):
    """Every trainable variable gets a non-None, finite gradient through forward (from `x`) and
    through inverse (from `forward(x)`)."""
    y = _copy(bijector.forward_and_log_det(x, **kwargs)[0])
    passes = (
        ('forward', bijector.forward_and_log_det, x),
        ('inverse', bijector.inverse_and_log_det, y),
    )
    for direction, transform, inputs in passes:
        with tf.GradientTape() as tape:
            outputs, log_det = transform(inputs, **kwargs)
            loss = tf.reduce_sum(tf.square(flatten_event(outputs))) + tf.reduce_sum(log_det)
        variables = bijector.trainable_variables
        gradients = tape.gradient(loss, variables)
        for variable, gradient in zip(variables, gradients):
            test_case.assertIsNotNone(gradient, f'{direction}: no gradient for {variable.name}')
            test_case.assertTrue(
                bool(tf.reduce_all(tf.math.is_finite(tf.convert_to_tensor(gradient)))),
                f'{direction}: non-finite gradient for {variable.name}',
            )
