"""Invertible 1x1 convolution (Kingma & Dhariwal, 2018), plain and LU-decomposed."""

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds
from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images

__all__ = ['InvertibleConv1x1', 'log_abs_det', 'random_rotation']


def random_rotation(num_channels: int, seed=None) -> np.ndarray:
    """A random orthogonal `[C, C]` matrix (QR of a Gaussian), openai/glow's initial 1x1 conv."""
    gaussian = _seeds.rng(seed).standard_normal((num_channels, num_channels))
    return np.linalg.qr(gaussian)[0]


def _lu_factors(weight: np.ndarray):
    """`W = P @ L @ U` with partial pivoting; L unit lower-triangular. Returns (P, L, U).

    Computed by `tf.linalg.lu` (the factorisation TFP's `ScaleMatvecLU` is built on), in float64
    so that the float32 variables hold the factors of `W` to their last bit.
    """
    with tf.init_scope():  # Concrete values, also when a layer is built inside a tf.function.
        factors, order = (t.numpy() for t in tf.linalg.lu(tf.constant(weight, tf.float64)))
    n = weight.shape[0]
    # W[order] = L @ U  <=>  W = P @ L @ U with P[order[i], i] = 1.
    return np.eye(n)[:, order], np.tril(factors, -1) + np.eye(n), np.triu(factors)


@tf.custom_gradient
def log_abs_det(matrix: tf.Tensor) -> tf.Tensor:
    """`log|det W|` of a square matrix, compilable by XLA.

    TF's `slogdet` is an LU op with no XLA kernel, which kept the whole training step out of
    `jit_compile`. With `W = QR`, `|det W| = prod |diag(R)|` (Q is orthogonal), and QR compiles.
    The gradient `W^-T` is returned directly rather than differentiated back through the QR.
    """
    upper = tf.linalg.qr(matrix)[1]

    def gradient(upstream):
        return upstream * tf.linalg.matrix_transpose(tf.linalg.inv(matrix))

    return tf.reduce_sum(tf.math.log(tf.abs(tf.linalg.diag_part(upper)))), gradient


class InvertibleConv1x1(FlowBijector):
    """A learned linear map of the channels, shared by every pixel.

    ```none
    Y[b, h, w, :] = X[b, h, w, :] @ W
    log|det dY/dX| = H * W * log|det W|
    ```

    `W` starts as a random rotation. In the plain form `W` is a free `[C, C]` variable and its
    log-determinant is computed in float64 (in float32 it loses precision for wide layers and is
    multiplied by H*W). In the LU form (`lu_decomposed=True`)

    ```none
    W = P @ (L * strictly_lower_mask + I) @ (U * strictly_upper_mask + diag(sign_s * exp(log_s)))
    log|det W| = sum(log_s)
    ```

    with the permutation `P` and `sign_s` frozen, so the determinant is exact and cheap.

    Args:
      num_channels: `C`.
      lu_decomposed: Python `bool`, use the LU parameterisation. Default value: `False`.
      seed: int, `np.random.SeedSequence` or None, for the initial rotation.
      initial_weight: optional `[C, C]` array to start from instead of a random rotation.
      validate_args: Python `bool`. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'invertible_conv1x1'`.
    """

    def __init__(
        self,
        num_channels: int,
        lu_decomposed: bool = False,
        seed=None,
        initial_weight=None,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'invertible_conv1x1',
    ):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            self._num_channels = int(num_channels)
            self._lu_decomposed = bool(lu_decomposed)
            if initial_weight is None:
                weight = random_rotation(num_channels, seed)
            else:
                weight = np.asarray(initial_weight, np.float64)
                if weight.shape != (num_channels, num_channels):
                    raise ValueError(
                        f'initial_weight must have shape {(num_channels, num_channels)}; '
                        f'got {weight.shape}.'
                    )
            as_dtype = dtype.as_numpy_dtype
            if self._lu_decomposed:
                permutation, lower, upper = _lu_factors(weight)
                diagonal = np.diag(upper)
                self.permutation = tf.Variable(
                    permutation.astype(as_dtype), trainable=False, name='P'
                )
                self.lower = tf.Variable(np.tril(lower, -1).astype(as_dtype), name='L')
                self.upper = tf.Variable(np.triu(upper, 1).astype(as_dtype), name='U')
                self.sign_s = tf.Variable(
                    np.sign(diagonal).astype(as_dtype), trainable=False, name='sign_s'
                )
                self.log_s = tf.Variable(np.log(np.abs(diagonal)).astype(as_dtype), name='log_s')
            else:
                self.weight_matrix = tf.Variable(weight.astype(as_dtype), name='W')
            super().__init__(
                parameters=parameters, name=name, validate_args=validate_args, dtype=dtype
            )

    def weight(self) -> tf.Tensor:
        """The current `[C, C]` matrix `W`, in float64."""
        if not self._lu_decomposed:
            return tf.cast(self.weight_matrix, tf.float64)
        strictly_lower = np.tril(np.ones([self._num_channels] * 2), -1)
        lower = tf.cast(self.lower, tf.float64) * strictly_lower + tf.eye(
            self._num_channels, dtype=tf.float64
        )
        diagonal = tf.cast(self.sign_s, tf.float64) * tf.exp(tf.cast(self.log_s, tf.float64))
        upper = tf.cast(self.upper, tf.float64) * strictly_lower.T + tf.linalg.diag(diagonal)
        return tf.cast(self.permutation, tf.float64) @ lower @ upper

    def _log_abs_det_weight(self) -> tf.Tensor:
        if self._lu_decomposed:
            return tf.reduce_sum(tf.cast(self.log_s, tf.float64))
        return log_abs_det(self.weight())

    def _apply(self, x, matrix, sign):
        check_images(x, self._num_channels, self.name)
        # A plain matmul over the flattened pixels: einsum's gradient adds transposes.
        flat = tf.matmul(tf.reshape(x, [-1, self._num_channels]), tf.cast(matrix, x.dtype))
        y = tf.reshape(flat, tf.shape(x))
        pixels = tf.cast(tf.shape(x)[1] * tf.shape(x)[2], x.dtype)
        log_det = sign * pixels * tf.cast(self._log_abs_det_weight(), x.dtype)
        return y, tf.fill(tf.shape(x)[:1], log_det)

    def _forward_and_log_det(self, x):
        return self._apply(x, self.weight(), 1.0)

    def _inverse_and_log_det(self, y):
        # Inverting in float64 keeps decode exact to the pixel after many stacked layers.
        return self._apply(y, tf.linalg.inv(self.weight()), -1.0)
