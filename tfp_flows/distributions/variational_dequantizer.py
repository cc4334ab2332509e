"""Variational dequantisation (Flow++): a learned density q(u | x) over the dequantisation noise.

```none
x_cont = x + u / n_bins,        u ~ q(u | x) on (0, 1)^D         (uniform dequantisation: q = 1)
log P(x) >= E_q[ log p(x_cont) - log q(u | x) ] - D log(n_bins)
         >= ... and log mean_{i<S} exp(log p(x_cont_i) - log q(u_i | x)) - D log(n_bins)
            (importance-weighted, S draws; tightens towards log P(x) as S grows)
```

`x` is the discrete image in the model's scale (`tfp_flows.dequantization.preprocess`) and
`x_cont` is what `tfp_flows.dequantization.dequantize(x, n_bits, noise=u)` makes of it, so the
flow `p` sees inputs of the same scale whichever q is used, and `-D log(n_bins)` is the
bin-width constant of `tfp_flows.dequantization.bits_per_dim`. Since P(x) is the integral of p
over the bin box of x, i.e. `n_bins^-D E_q[p(x_cont) / q(u | x)]`, both lines are lower bounds
(Jensen) for any q; the better q matches p's shape inside the box, the tighter they are. With
q uniform the log-weight is `log p(x_cont)` exactly: the standard dequantisation bound.

#### References

[1]: Jonathan Ho, Xi Chen, Aravind Srinivas, Yan Duan, Pieter Abbeel. Flow++: Improving
     Flow-Based Generative Models with Variational Dequantization and Architecture Design. In
     ICML, 2019. https://arxiv.org/abs/1902.00275
"""

from collections.abc import Callable

import tensorflow as tf

from tfp_flows import dequantization as dq
from tfp_flows.bijectors.dequantization_flow import DequantizationFlow

__all__ = ['DEQUANTIZATIONS', 'VariationalDequantizer', 'dequantized_log_weight']

DEQUANTIZATIONS = ('uniform', 'variational')

# Uniform noise is clipped this far inside (0, 1), where the flow's logit is finite: float32
# uniform draws can be exactly 0. Moving a draw by at most 2**-24 changes nothing measurable,
# and log q is still exact for the noise that is returned.
_NOISE_MARGIN = 2.0**-24


class VariationalDequantizer(tf.Module):
    """`q(u | x)`: uniform noise pushed through a `DequantizationFlow` conditioned on `x`.

    ```none
    v ~ U(0, 1)^D,    u = flow(v; x) in (0, 1)^D,    log q(u | x) = -log|det du/dv|
    ```

    A new dequantizer is the identity map (see `tfp_flows.bijectors.DequantizationFlow`): it
    starts as uniform dequantisation, `u = v` and `log q = 0`. It is trained jointly with the
    density model by maximising `dequantized_log_weight`, through the reparameterised `u`.

    Args:
      image_shape: `(H, W, C)`.
      num_couplings: checkerboard couplings after the elementwise one. Default value: 3.
      hidden_width: channels of its networks. Default value: 32.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      dtype: Default value: `tf.float32`.
      name: Default value: `'variational_dequantizer'`.

    #### Examples

    ```python
    dequantizer = VariationalDequantizer((28, 28, 1))
    x = dq.preprocess(images, n_bits)                                 # [B, 28, 28, 1]
    u, log_q = dequantizer.sample_and_log_prob(x, seed=[0, 1])        # u in (0, 1), log_q [B]
    bound = flow.log_prob(dq.dequantize(x, n_bits, noise=u)) - log_q - D * log(2**n_bits)
    ```
    """

    def __init__(
        self,
        image_shape,
        num_couplings: int = 3,
        hidden_width: int = 32,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'variational_dequantizer',
    ):
        super().__init__(name=name)
        with self.name_scope:
            self.flow = DequantizationFlow(
                image_shape, num_couplings, hidden_width, seed=seed, dtype=dtype
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.flow.image_shape

    @property
    def dtype(self) -> tf.DType:
        return self.flow.dtype

    def sample_and_log_prob(self, x, seed=None, noise=None) -> tuple[tf.Tensor, tf.Tensor]:
        """Dequantisation noise for `x` and its exact log-density.

        Args:
          x: float `[B, H, W, C]`, the discrete images as `dequantization.preprocess` gives them.
          seed: stateless seed `[2]` for the uniform noise; None uses the global generator.
          noise: optional pre-drawn U(0, 1) noise of `x`'s shape (then `seed` is ignored), so that
            callers reuse their reproducible noise streams.

        Returns:
          `(u, log_q)`: `u` `[B, H, W, C]` in (0, 1), `log q(u | x)` `[B]` in nats.
        """
        with self.name_scope:
            x = tf.convert_to_tensor(x, self.dtype)
            if noise is None:
                if seed is None:
                    noise = tf.random.uniform(tf.shape(x), dtype=self.dtype)
                else:
                    noise = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=self.dtype)
            noise = tf.clip_by_value(tf.cast(noise, self.dtype), _NOISE_MARGIN, 1.0 - _NOISE_MARGIN)
            u, log_det = self.flow.forward_and_log_det(noise, condition=x)
            return u, -log_det

    def log_prob(self, u, x) -> tf.Tensor:
        """`log q(u | x)` `[B]` for noise `u` in (0, 1)^D: the inverse flow's log-determinant."""
        with self.name_scope:
            x = tf.convert_to_tensor(x, self.dtype)
            u = tf.convert_to_tensor(u, self.dtype)
            return self.flow.inverse_and_log_det(u, condition=x)[1]


def dequantized_log_weight(
    log_prob: Callable[[tf.Tensor], tf.Tensor],
    x: tf.Tensor,
    noise: tf.Tensor,
    n_bits: int,
    dequantizer: VariationalDequantizer | None = None,
) -> tf.Tensor:
    """One draw's `log p(x + u / n_bins) - log q(u | x)`, `[B]` (see the module docstring).

    Averaged over draws and minus `D log(n_bins)`, it is the dequantisation bound on
    `log P(x)`; its log-mean-exp over draws, the importance-weighted bound.

    Args:
      log_prob: the continuous density's `log p` of a `[B, H, W, C]` batch, `[B]`.
      x: the discrete images as `dequantization.preprocess` gives them, `[B, H, W, C]`.
      noise: U(0, 1) noise of `x`'s shape.
      n_bits: as given to `preprocess`.
      dequantizer: q; None for uniform dequantisation, where `u = noise` and `log q = 0` and the
        result is `log_prob(dequantization.dequantize(x, n_bits, noise=noise))` exactly.
    """
    if dequantizer is None:
        return log_prob(dq.dequantize(x, n_bits, noise=noise))
    u, log_q = dequantizer.sample_and_log_prob(x, noise=noise)
    return log_prob(dq.dequantize(x, n_bits, noise=u)) - log_q
