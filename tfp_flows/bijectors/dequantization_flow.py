"""The noise flow of variational dequantisation: uniform noise -> noise shaped by the pixels."""

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images
from tfp_flows.networks.conv import HeConv2D, ZeroConv2D

__all__ = ['DequantizationFlow']


def _log_sigmoid_derivative(z: tf.Tensor) -> tf.Tensor:
    """`log sigmoid'(z) = log sigmoid(z) + log sigmoid(-z)`, summed over the event `[H, W, C]`."""
    return tf.reduce_sum(tf.math.log_sigmoid(z) + tf.math.log_sigmoid(-z), axis=[1, 2, 3])


def _checkerboard(image_shape, parity: int, dtype: tf.DType) -> np.ndarray:
    """`[H, W, C]`: 1 where `(row + column) % 2 == parity` (the positions a coupling reads)."""
    height, width, channels = image_shape
    rows, columns = np.indices((height, width))
    board = ((rows + columns) % 2 == parity).astype(dtype.as_numpy_dtype)
    return np.repeat(board[..., None], channels, axis=-1)


class _MaskedAffineCoupling(tf.Module):
    """`Z' = m Z + (1 - m) (Z exp(s) + t)`, `(t, s) = NN(m Z, m, features)`, `s = tanh(.)`.

    `m` is a fixed binary mask `[H, W, C]`: the positions it keeps parameterise the map of the
    others, so the layer is invertible whatever `NN` is. An all-zero mask makes it an elementwise
    affine map whose parameters depend on the pixels' features only. `tanh` bounds each layer's
    log-scale to (-1, 1), and the zero-initialised last convolution starts it as the identity.
    """

    def __init__(self, mask, feature_channels, hidden_width, seed, dtype, name):
        super().__init__(name=name)
        channels = mask.shape[-1]
        seeds = _seeds.spawn(seed, 2)
        with self.name_scope:
            self.mask = tf.constant(mask)
            # The mask is an input too: convolutions cannot tell a checkerboard's parity alone.
            in_channels = 2 * channels + feature_channels
            self.hidden = [
                HeConv2D(in_channels, hidden_width, 3, seed=seeds[0], dtype=dtype, name='conv_3x3'),
                HeConv2D(
                    hidden_width, hidden_width, 1, seed=seeds[1], dtype=dtype, name='conv_1x1'
                ),
            ]
            self.output_layer = ZeroConv2D(hidden_width, 2 * channels, 3, dtype=dtype, name='out')

    def shift_and_log_scale(self, z: tf.Tensor, features: tf.Tensor):
        """`(t, s)` of the positions the mask does not keep (zero at the kept ones)."""
        mask = tf.broadcast_to(self.mask, tf.shape(z))
        h = tf.concat([z * mask, mask, features], axis=-1)
        for layer in self.hidden:
            h = tf.nn.relu(layer(h))
        shift, raw_log_scale = tf.split(self.output_layer(h), 2, axis=-1)
        free = 1.0 - self.mask
        return shift * free, tf.tanh(raw_log_scale) * free

    def __call__(self, z: tf.Tensor, features: tf.Tensor, inverse: bool = False):
        """`(Z', log|det dZ'/dZ|)` forward, or `(Z, log|det dZ/dZ'|)` with `inverse=True`."""
        # The kept positions pass unchanged, so the network sees the same input both ways.
        shift, log_scale = self.shift_and_log_scale(z, features)
        log_det = tf.reduce_sum(log_scale, axis=[1, 2, 3])
        if inverse:
            return (z - shift) * tf.exp(-log_scale), -log_det
        return z * tf.exp(log_scale) + shift, log_det


class DequantizationFlow(FlowBijector):
    """A bijection of `(0, 1)^D` conditioned on the pixels `x`: Flow++'s dequantisation noise flow.

    ```none
    features = relu(conv3x3(relu(conv3x3(x))))                 [B, H, W, F], once per call
    z_0 = logit(V)                                             V in (0, 1)^D
    z_k = coupling_k(z_{k-1}; features)                        k = 1..num_couplings
    U   = sigmoid(z_K)                                         U in (0, 1)^D (*)
    log|det dU/dV| = -sum log sigmoid'(z_0) + sum_k log|det coupling_k| + sum log sigmoid'(z_K)
    ```

    (*) In exact arithmetic; in floating point a sigmoid of `|z| > ~17` (float32) rounds to 0 or
    1. The log-determinant stays exact (it is computed from `z`), and training keeps `z` away
    from there: a saturated `U` has a tiny `|dU/dV|`, i.e. a large `log q`, which the bound
    penalises.

    Coupling 1 is an elementwise affine map whose shift and log-scale read only the features of
    `x`; couplings 2, 3, ... alternate the two checkerboards of the image (each channel follows
    its pixel), so every position's noise also depends on its neighbours' noise. Mapping from and
    to `(0, 1)^D` through `logit` and `sigmoid` (rather than from a Gaussian, as in Flow++) means
    that uniform noise `V` gives `U` with density `q(U | x) = 1 / |det dU/dV|`, and that the
    couplings' zero-initialised last convolutions make the whole map the identity at
    initialisation: `U = V` up to rounding and `log|det| = 0` exactly, i.e. a new flow *is*
    uniform dequantisation, from which training departs.

    The conditioning input `condition` `[B, H, W, C]` is the discrete image in the model's scale
    (`tfp_flows.dequantization.preprocess`); it is passed by keyword to every method
    (`flow.forward(v, condition=x)`).

    Args:
      image_shape: `(H, W, C)`.
      num_couplings: couplings after the elementwise one, at least 0. Default value: 3.
      hidden_width: channels of the feature and coupling networks. Default value: 32.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      validate_args: Python `bool`. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'dequantization_flow'`.

    #### References

    [1]: Jonathan Ho, Xi Chen, Aravind Srinivas, Yan Duan, Pieter Abbeel. Flow++: Improving
         Flow-Based Generative Models with Variational Dequantization and Architecture Design. In
         ICML, 2019. https://arxiv.org/abs/1902.00275
    """

    def __init__(
        self,
        image_shape,
        num_couplings: int = 3,
        hidden_width: int = 32,
        seed=None,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'dequantization_flow',
    ):
        parameters = dict(locals())
        image_shape = _validation.image_shape(image_shape)
        _validation.integer(num_couplings, 'num_couplings', 0)
        _validation.integer(hidden_width, 'hidden_width', 1)
        dtype = tf.as_dtype(dtype)
        channels = image_shape[-1]
        seeds = _seeds.spawn(seed, num_couplings + 3)
        with tf.name_scope(name) as name:
            self._image_shape = image_shape
            self.feature_layers = [
                HeConv2D(channels, hidden_width, 3, seed=seeds[0], dtype=dtype, name='features_0'),
                HeConv2D(
                    hidden_width, hidden_width, 3, seed=seeds[1], dtype=dtype, name='features_1'
                ),
            ]
            masks = [np.zeros(image_shape, dtype.as_numpy_dtype)] + [
                _checkerboard(image_shape, k % 2, dtype) for k in range(num_couplings)
            ]
            self.couplings = [
                _MaskedAffineCoupling(
                    mask, hidden_width, hidden_width, seeds[2 + k], dtype, name=f'coupling_{k}'
                )
                for k, mask in enumerate(masks)
            ]
            super().__init__(
                parameters=parameters,
                name=name,
                forward_min_event_ndims=3,
                validate_args=validate_args,
                dtype=dtype,
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    def _features(self, condition: tf.Tensor) -> tf.Tensor:
        condition = tf.convert_to_tensor(condition, self.dtype)
        check_images(condition, self._image_shape[-1], f'{self.name} (condition)')
        h = condition
        for layer in self.feature_layers:
            h = tf.nn.relu(layer(h))
        return h

    def _through(self, values, condition, inverse: bool):
        """logit -> the couplings (in reverse order, inverted, for `inverse`) -> sigmoid."""
        features = self._features(condition)
        z = tf.math.log(values) - tf.math.log1p(-values)
        log_det = -_log_sigmoid_derivative(z)
        for coupling in reversed(self.couplings) if inverse else self.couplings:
            z, coupling_log_det = coupling(z, features, inverse=inverse)
            log_det += coupling_log_det
        return tf.sigmoid(z), log_det + _log_sigmoid_derivative(z)

    def _forward_and_log_det(self, v, condition):
        return self._through(v, condition, inverse=False)

    def _inverse_and_log_det(self, u, condition):
        return self._through(u, condition, inverse=True)
