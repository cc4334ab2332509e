"""Invertible 1x1 convolution: the bijector laws, plain and LU forms, float64 log-determinant."""

import numpy as np
import tensorflow as tf

from tests.tfp_flows.bijectors import laws
from tfp_flows.bijectors import InvertibleConv1x1
from tfp_flows.bijectors.invertible_conv1x1 import random_rotation


def _invconv(channels, dtype):
    return InvertibleConv1x1(channels, seed=1, dtype=dtype)


def _lu_invconv(channels, dtype):
    return InvertibleConv1x1(channels, lu_decomposed=True, seed=1, dtype=dtype)


class InvertibleConv1x1LawsTest(
    laws.laws_test_case((('invconv', _invconv, {}), ('lu_invconv', _lu_invconv, {})))
):
    pass


class InvertibleConv1x1Test(tf.test.TestCase):
    def test_initial_weight_is_a_rotation(self):
        weight = random_rotation(6, seed=0)
        self.assertAllClose(weight @ weight.T, np.eye(6), atol=1e-10)

    def test_plain_and_lu_agree_for_the_same_weight(self):
        weight = np.random.default_rng(1).normal(size=(5, 5))
        plain = InvertibleConv1x1(5, initial_weight=weight)
        lu = InvertibleConv1x1(5, lu_decomposed=True, initial_weight=weight)
        self.assertAllClose(plain.weight(), lu.weight(), atol=1e-6)
        x = tf.random.stateless_normal([2, 3, 3, 5], seed=[0, 1])
        y_plain, ldj_plain = plain.forward_and_log_det(x)
        y_lu, ldj_lu = lu.forward_and_log_det(x)
        self.assertAllClose(y_plain, y_lu, atol=1e-5)
        self.assertAllClose(ldj_plain, ldj_lu, atol=1e-4)
        expected = 9 * np.log(abs(np.linalg.det(weight)))
        self.assertAllClose(ldj_plain, [expected] * 2, atol=1e-4)

    def test_lu_factors_have_the_documented_structure(self):
        lu = InvertibleConv1x1(6, lu_decomposed=True, seed=3)
        permutation = lu.permutation.numpy()
        self.assertAllEqual(permutation.sum(0), np.ones(6))
        self.assertAllEqual(permutation.sum(1), np.ones(6))
        self.assertAllEqual(lu.sign_s.numpy() ** 2, np.ones(6))
        self.assertNotIn(lu.permutation.ref(), [v.ref() for v in lu.trainable_variables])
        self.assertNotIn(lu.sign_s.ref(), [v.ref() for v in lu.trainable_variables])
        self.assertAllClose(lu.weight() @ tf.transpose(lu.weight()), np.eye(6), atol=1e-6)
        # P @ L @ U is the initial rotation, to the precision of the float32 variables.
        self.assertAllClose(lu.weight(), random_rotation(6, seed=3), atol=1e-6)

    def test_matches_a_1x1_convolution(self):
        conv = InvertibleConv1x1(4, seed=2)
        x = tf.random.stateless_normal([2, 3, 3, 4], seed=[2, 3])
        kernel = tf.cast(conv.weight(), tf.float32)[None, None]
        self.assertAllClose(conv.forward(x), tf.nn.conv2d(x, kernel, 1, 'SAME'), atol=1e-5)

    def test_bad_initial_weight_shape(self):
        with self.assertRaisesRegex(ValueError, 'initial_weight must have shape'):
            InvertibleConv1x1(3, initial_weight=np.eye(4))


if __name__ == '__main__':
    tf.test.main()
