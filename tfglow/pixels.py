"""uint8 pixels <-> a model's discrete levels and flow inputs, and the dequantisation noise.

The one convention that the evaluators, the exporters, the latent codec and the tools share. A
model trained with `n_bits` (`config.model.n_bits_x`) sees `n_bins = 2**n_bits` levels per
sub-pixel:

```none
uint8 -> level    v = p // 2**(8 - n_bits)                   the top n_bits bits (openai/glow's)
level -> uint8    p = v * 255 // (n_bins - 1)                 0 and 255 at the ends
flow  -> level    v = clip(floor((x + 0.5) * n_bins), 0, n_bins - 1)   the bin x falls in
uint8 -> flow     x = v / n_bins - 0.5 + u / n_bins           u ~ U(0, 1): dequantised
                  x = v / n_bins - 0.5 + 1 / (2 * n_bins)     the bin centre: deterministic
```

Levels to uint8: openai/glow's `postprocess` shows level `v` as `v * 256 / n_bins` (the bottom
of its bin; `tfp_flows.dequantization.postprocess`). Here it is `v * 255 // (n_bins - 1)`, also
inside `v`'s bin (so `to_levels(to_uint8(v)) == v`), and the same number for 8 bits, but the top
level is 255 as in the data: binary Omniglot ink is 255, not 128, so generated images can go back
into a support set and through a feature extractor trained on the data. Only images shown or
returned differ (for `n_bits < 8`); likelihoods never see this map.

Noise: uniform dequantisation noise is a pure function of a seed and an index (an image's position
in its dataset, or a noise draw), drawn with TF's stateless generator, so the same image gets the
same noise on any device, batch size or replica count:

```none
noise(seed, index) = tf.random.stateless_uniform([H, W, C], seed=fold_in((seed, 2), index))
```
"""

import numpy as np
import tensorflow as tf

import tfp_flows.dequantization as dq

__all__ = [
    'DEQUANTIZATION_STREAM',
    'bin_centres',
    'dequantized',
    'flow_to_levels',
    'flow_to_uint8',
    'to_levels',
    'to_uint8',
    'uniform_noise',
]

# Separates the dequantisation noise from the training and init streams drawn from one seed.
DEQUANTIZATION_STREAM = 2


def to_levels(images: tf.Tensor, n_bits: int) -> tf.Tensor:
    """uint8 pixels -> int32 levels `p // 2**(8 - n_bits)` in `[0, 2**n_bits)`."""
    dq.num_bins(n_bits)  # Checks the range.
    return tf.cast(images, tf.int32) // 2 ** (8 - n_bits)


def to_uint8(levels: tf.Tensor, n_bits: int) -> tf.Tensor:
    """Levels (clipped to `[0, n_bins)`) -> uint8 `v * 255 // (n_bins - 1)`."""
    top = dq.num_bins(n_bits) - 1
    levels = tf.clip_by_value(tf.cast(levels, tf.int32), 0, top)
    return tf.cast(levels * 255 // top, tf.uint8)


def flow_to_levels(x: tf.Tensor, n_bits: int) -> tf.Tensor:
    """Flow outputs in [-0.5, 0.5) -> int32 levels: the bin each value falls in, clipped."""
    bins = dq.num_bins(n_bits)
    x = tf.convert_to_tensor(x)
    levels = tf.clip_by_value(tf.floor((x + 0.5) * bins), 0.0, bins - 1.0)
    return tf.cast(levels, tf.int32)


def flow_to_uint8(x: tf.Tensor, n_bits: int) -> tf.Tensor:
    """Flow outputs -> uint8 images: `to_uint8(flow_to_levels(x))`."""
    return to_uint8(flow_to_levels(x, n_bits), n_bits)


def sample_images(x: tf.Tensor, n_bits: int) -> tuple[np.ndarray, int]:
    """Sampled flow outputs `[N, H, W, C]` -> uint8 images for a grid, and how many overflowed.

    A sample whose flow output is not finite has no image: the inverse of an affine coupling
    divides by its scale, and a short-trained Glow overflows on some latents at T=1 (the default
    Fashion-MNIST model on about 4 samples in 10). Such a sample is drawn as a black-and-white
    checkerboard, never as the dark image that NaN -> 0 would give, so a grid cannot pass an
    overflow off as a sample.
    """
    shown = flow_to_uint8(x, n_bits).numpy()
    overflowed = ~np.isfinite(np.asarray(x)).reshape(len(shown), -1).all(axis=1)
    rows, cols = np.indices(shown.shape[1:3])
    checkerboard = np.where((rows // 2 + cols // 2) % 2, 255, 0).astype(np.uint8)[..., None]
    shown[overflowed] = checkerboard
    return shown, int(overflowed.sum())


def bin_centres(images: tf.Tensor, n_bits: int, dtype: tf.DType = tf.float32) -> tf.Tensor:
    """uint8 images -> the centre of each pixel's bin in [-0.5, 0.5), the flow input to encode.

    The centre, not a random point of the bin, makes encoding deterministic and keeps decoding an
    encoding exact to the level: the flow's round trip is exact only up to float error, which
    would flip values sitting on a bin edge.
    """
    return dq.preprocess(images, n_bits, dtype) + 0.5 / dq.num_bins(n_bits)


def dequantized(images: tf.Tensor, n_bits: int, noise: tf.Tensor) -> tf.Tensor:
    """uint8 images + U(0, 1) `noise` of their shape -> flow inputs, `noise` scaled to the bin."""
    return dq.dequantize(dq.preprocess(images, n_bits), n_bits, noise=noise)


def uniform_noise(seed, index, shape) -> tf.Tensor:
    """U(0, 1) float32 `[N, *shape]`; row `n` is a function of `(seed[n], index[n])` only.

    Args:
      seed: int64 scalar or `[N]`: the run's seed, or a per-image seed.
      index: int64 scalar or `[N]`: the image's position in its dataset, or the noise draw.
      shape: the image shape `[H, W, C]` (a list or an int32 tensor).

    Returns:
      Row `n`: `tf.random.stateless_uniform(shape, seed=fold_in((seed[n], 2), index[n]))`.
    """
    seed, index = tf.cast(seed, tf.int64), tf.cast(index, tf.int64)
    rows = tf.broadcast_dynamic_shape(tf.shape(seed), tf.shape(index))
    pairs = tf.stack([tf.broadcast_to(seed, rows), tf.broadcast_to(index, rows)], axis=-1)
    pairs = tf.reshape(pairs, [-1, 2])
    stream = tf.constant(DEQUANTIZATION_STREAM, tf.int64)

    def draw(pair):
        key = tf.random.experimental.stateless_fold_in(tf.stack([pair[0], stream]), pair[1])
        return tf.random.stateless_uniform(shape, seed=key)

    return tf.map_fn(draw, pairs, fn_output_signature=tf.float32)
