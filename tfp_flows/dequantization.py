"""Discrete pixels <-> continuous flow inputs, and bits per dimension, as openai/glow defines them.

A flow is a density on R^D, while images are integers in {0, ..., 255}^D. openai/glow bridges
the two
with uniform dequantisation on a grid of `n_bins = 2**n_bits` levels:

```none
x_cont = floor(x / 2**(8 - n_bits)) / n_bins - 0.5 + u,      u ~ U(0, 1 / n_bins)^D
```

so `x_cont` lies in [-0.5, 0.5). Because each discrete value owns a box of volume `(1 / n_bins)^D`,
the discrete log-likelihood is bounded below by (Theis et al., 2016; Ho et al., 2019)

```none
log P(x) >= E_u[ log p(x_cont) ] + D * log(1 / n_bins) = E_u[ log p(x_cont) ] - D * log(n_bins)
```

and bits per dimension is that bound negated, in bits, per dimension:

```none
bits_per_dim = -(log p(x_cont) - D * log(n_bins)) / (D * ln 2)
```

This is openai/glow's `objective = -log(n_bins) * D + logdet + log p(z)`,
`bits_x = -objective / (ln 2 * D)`, so numbers are comparable with the Glow paper.
"""

import math

import tensorflow as tf

from tfp_flows import _validation

__all__ = ['bits_per_dim', 'dequantize', 'num_bins', 'postprocess', 'preprocess']


def _check_n_bits(n_bits: int) -> int:
    return _validation.integer(n_bits, 'n_bits', 1, 8)


def num_bins(n_bits: int) -> int:
    """Number of discrete levels per sub-pixel, `2**n_bits`."""
    return 2 ** _check_n_bits(n_bits)


def preprocess(images: tf.Tensor, n_bits: int = 8, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """uint8 images `[..., H, W, C]` -> `floor(x / 2**(8 - n_bits)) / n_bins - 0.5` in [-0.5, 0.5).

    Args:
      images: uint8 (or integer-valued) pixels in [0, 255].
      n_bits: bits kept per sub-pixel, 1 to 8. Default value: 8.
      dtype: floating dtype of the result. Default value: `tf.float32`.

    Returns:
      The reduced, centred pixels, before dequantisation noise.

    Raises:
      ValueError: if `images` is not an integer or float tensor, or `n_bits` is out of range.
    """
    images = tf.convert_to_tensor(images)
    if not (images.dtype.is_integer or images.dtype.is_floating):
        raise ValueError(
            f'images must be an integer or float tensor; got dtype {images.dtype.name}.'
        )
    bins = num_bins(n_bits)
    x = tf.cast(images, dtype)
    # Dropping low bits is a floor division: 8 bits -> n_bits keeps the top n_bits of each value.
    x = tf.floor(x / 2 ** (8 - n_bits))
    return x / bins - 0.5


def dequantize(
    x: tf.Tensor, n_bits: int = 8, seed: tf.Tensor | None = None, noise: tf.Tensor | None = None
) -> tf.Tensor:
    """Adds uniform noise `U(0, 1 / n_bins)` to preprocessed pixels.

    Args:
      x: output of `preprocess`.
      n_bits: as given to `preprocess`. Default value: 8.
      seed: optional stateless seed, shape `[2]` int; `None` uses the global generator.
      noise: optional pre-drawn `U(0, 1)` noise of `x`'s shape (rescaled here to the bin width), so
        that callers can make the noise reproducible across devices.

    Returns:
      Dequantised pixels in [-0.5, 0.5).
    """
    width = 1.0 / num_bins(n_bits)
    if noise is None:
        if seed is None:
            noise = tf.random.uniform(tf.shape(x), dtype=x.dtype)
        else:
            noise = tf.random.stateless_uniform(tf.shape(x), seed=seed, dtype=x.dtype)
    return x + width * tf.cast(noise, x.dtype)


def postprocess(x: tf.Tensor, n_bits: int = 8) -> tf.Tensor:
    """Continuous pixels -> uint8: `clip(floor((x + 0.5) * n_bins) * 256 / n_bins, 0, 255)`.

    Exactly inverts `preprocess` (for values produced by it, with or without dequantisation noise)
    up to the `n_bits` reduction.
    """
    bins = num_bins(n_bits)
    x = tf.convert_to_tensor(x)
    levels = tf.floor((x + 0.5) * bins) * (256.0 / bins)
    return tf.cast(tf.clip_by_value(levels, 0.0, 255.0), tf.uint8)


def bits_per_dim(log_prob: tf.Tensor, num_dims: int, n_bits: int = 8) -> tf.Tensor:
    """Bits per dimension of the discrete data from the continuous log-density (nats).

    Args:
      log_prob: `log p(x_cont)` in nats, any shape (one value per image).
      num_dims: `H * W * C`, the number of sub-pixels per image.
      n_bits: as given to `preprocess`. Default value: 8.

    Returns:
      `-(log_prob - num_dims * log(n_bins)) / (num_dims * ln 2)`, same shape as `log_prob`.
    """
    if num_dims <= 0:
        raise ValueError(f'num_dims must be positive; got {num_dims}.')
    log_prob = tf.convert_to_tensor(log_prob)
    discretisation = num_dims * math.log(num_bins(n_bits))
    return -(log_prob - discretisation) / (num_dims * math.log(2.0))
