"""VariationalDequantizer: log q normalised, the uniform special case, the bound, gradients."""

import numpy as np
import tensorflow as tf

import tfp_flows.dequantization as dq
from tfp_flows import VariationalDequantizer, testing
from tfp_flows.distributions.variational_dequantizer import dequantized_log_weight


def _trained(image_shape, dtype=tf.float64, seed=3, scale=0.1):
    dequantizer = VariationalDequantizer(image_shape, 2, hidden_width=6, seed=seed, dtype=dtype)
    testing.perturb_variables(dequantizer, scale=scale, seed=seed)
    return dequantizer


def _integral_over_unit_box(dequantizer, x, points):
    """The integral of q(u | x) over (0, 1)^D (D = 1 or 2) on a midpoint grid in logit space,
    where the density is smooth: u = sigmoid(t), du = sigmoid'(t) dt, t in [-30, 30]^D (float64
    rounds sigmoid(t) to 1 from t ~ 37 on)."""
    step = 60.0 / points
    t = -30.0 + step * (np.arange(points) + 0.5)
    grid = np.stack(np.meshgrid(*[t] * dequantizer.image_shape[1], indexing='ij'), -1)
    t = grid.reshape(-1, *dequantizer.image_shape)
    u = 1.0 / (1.0 + np.exp(-t))
    log_jacobian = np.sum(np.log(u) + np.log1p(-u), axis=(1, 2, 3))
    x = np.broadcast_to(x, u.shape)
    log_q = dequantizer.log_prob(u, x).numpy()
    return np.sum(np.exp(log_q + log_jacobian)) * step ** t.shape[2]


class VariationalDequantizerTest(tf.test.TestCase):
    def test_log_q_is_normalised_in_one_and_two_dimensions(self):
        for image_shape, points in (((1, 1, 1), 4000), ((1, 2, 1), 500)):
            dequantizer = _trained(image_shape)
            for level in (-0.5, 0.0):
                x = np.full([1, *image_shape], level)
                total = _integral_over_unit_box(dequantizer, x, points)
                self.assertAllClose(total, 1.0, atol=1e-4, msg=f'{image_shape}, x = {level}')
            # Not uniform any more (else the check above would hold trivially).
            u, log_q = dequantizer.sample_and_log_prob(np.zeros([4, *image_shape]), seed=[0, 1])
            self.assertGreater(float(tf.reduce_max(tf.abs(log_q))), 0.05)

    def test_sample_and_log_prob_agree_with_log_prob(self):
        dequantizer = _trained((4, 4, 1))
        x = dq.preprocess(np.random.default_rng(0).integers(0, 256, (3, 4, 4, 1)), 1, tf.float64)
        u, log_q = dequantizer.sample_and_log_prob(x, seed=[1, 2])
        self.assertAllInRange(u, 0.0, 1.0)
        self.assertAllClose(dequantizer.log_prob(u, x), log_q, atol=1e-8)
        again, _ = dequantizer.sample_and_log_prob(x, seed=[1, 2])
        self.assertAllEqual(u, again)

    def test_new_dequantizer_is_uniform_dequantisation(self):
        dequantizer = VariationalDequantizer((4, 4, 1), hidden_width=4, seed=0)
        x = dq.preprocess(np.random.default_rng(1).integers(0, 256, (2, 4, 4, 1)), 1)
        # Exact zeros from the uniform generator are clipped, not turned into -inf.
        noise = tf.concat(
            [tf.zeros([1, 4, 4, 1]), tf.random.stateless_uniform([1, 4, 4, 1], [0, 3])], 0
        )
        u, log_q = dequantizer.sample_and_log_prob(x, noise=noise)
        self.assertAllEqual(log_q, [0.0, 0.0])
        self.assertAllClose(u, noise, atol=1e-6)
        self.assertTrue(bool(tf.reduce_all((u > 0.0) & (u < 1.0))))

        def log_prob(x_cont):
            return -tf.reduce_sum(tf.square(x_cont - 0.1), axis=[1, 2, 3])

        uniform = dequantized_log_weight(log_prob, x, noise, 1)
        # The uniform case is the current estimator, bit for bit.
        self.assertAllEqual(uniform, log_prob(dq.dequantize(x, 1, noise=noise)))
        self.assertAllClose(dequantized_log_weight(log_prob, x, noise, 1, dequantizer), uniform)

    def test_gradients_reach_the_dequantizer_through_the_bound(self):
        dequantizer = _trained((4, 4, 1), dtype=tf.float32)
        x = dq.preprocess(np.random.default_rng(2).integers(0, 256, (2, 4, 4, 1)), 1)
        noise = tf.random.stateless_uniform([2, 4, 4, 1], [0, 4])
        with tf.GradientTape() as tape:
            weight = dequantized_log_weight(
                lambda x_cont: -tf.reduce_sum(tf.square(x_cont), axis=[1, 2, 3]),
                x,
                noise,
                1,
                dequantizer,
            )
        variables = dequantizer.trainable_variables
        self.assertNotEmpty(variables)
        for variable, gradient in zip(variables, tape.gradient(weight, variables)):
            self.assertIsNotNone(gradient, variable.name)
            self.assertTrue(bool(tf.reduce_all(tf.math.is_finite(gradient))), variable.name)

    def test_importance_weighted_bound_is_tighter_and_below_the_truth(self):
        # A density p on [-0.5, 0.5) with a known discrete probability: p(t) = 2 (1 - |t| * 2)
        # per dimension on one 1-bit pixel, so P(x = 0) = P(x = 1) = 1/2, log P = -log 2.
        dequantizer = _trained((1, 1, 1), scale=0.3)

        def log_prob(x_cont):
            return tf.reduce_sum(tf.math.log(2.0 * (1.0 - 2.0 * tf.abs(x_cont))), axis=[1, 2, 3])

        x = tf.fill([1, 1, 1, 1], tf.constant(-0.5, tf.float64))
        noise = tf.random.stateless_uniform([4096, 1, 1, 1], [5, 6], dtype=tf.float64)
        weights = dequantized_log_weight(
            log_prob, tf.tile(x, [4096, 1, 1, 1]), noise, 1, dequantizer
        )
        box = np.log(2.0)
        standard = float(tf.reduce_mean(weights)) - box
        weighted = float(tf.reduce_logsumexp(weights) - np.log(4096.0)) - box
        self.assertLess(standard, weighted)
        self.assertLess(standard, -np.log(2.0))
        self.assertAllClose(weighted, -np.log(2.0), atol=0.02)

    def test_bad_arguments(self):
        with self.assertRaisesRegex(ValueError, 'num_couplings must be an integer >= 0'):
            VariationalDequantizer((4, 4, 1), num_couplings=1.5)
        with self.assertRaisesRegex(ValueError, 'image_shape'):
            VariationalDequantizer((4, 4))


if __name__ == '__main__':
    tf.test.main()
