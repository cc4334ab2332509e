"""Attention over a support set of images, for the few-shot Attention PixelCNN (Reed et al., 2018).

A support set `[B, K, H, W, C]` plus positional channels is encoded once into features at every
support position (`SupportEncoder`, then `support_memory`); at chosen PixelCNN layers, queries
from the layer's features at each target pixel attend over all `K * H * W` support positions with
multi-head scaled dot-product attention.
"""

import numpy as np
import tensorflow as tf

from tfp_flows import _seeds
from tfp_flows.networks.masked_conv import MaskedConv1x1, channel_groups, gated_groups

__all__ = ['SupportAttention', 'masked_attention', 'positional_channels', 'support_memory']


def positional_channels(
    height: int, width: int, num_frequencies: int, dtype: tf.DType = tf.float32
) -> tf.Tensor:
    """Sinusoidal coordinate channels `[H, W, 4 * F]`: sin and cos of each axis at F frequencies.

    ```none
    p(r, c) = [sin(2 pi 2^f r / H), cos(2 pi 2^f r / H), sin(2 pi 2^f c / W), cos(2 pi 2^f c / W)]
              for f = 0 .. F - 1
    p(r, c) . p(r', c') = sum_f cos(2 pi 2^f (r - r') / H) + cos(2 pi 2^f (c - c') / W)
    ```

    The inner product peaks exactly where two positions coincide, so a query and a key that both
    carry these channels can learn to look at the same place in another image.
    """
    if num_frequencies < 1:
        raise ValueError(f'num_frequencies must be >= 1; got {num_frequencies}.')
    frequencies = 2.0 * np.pi * 2.0 ** np.arange(num_frequencies)
    rows = np.arange(height)[:, None] / height * frequencies  # [H, F]
    cols = np.arange(width)[:, None] / width * frequencies  # [W, F]
    row_features = np.concatenate([np.sin(rows), np.cos(rows)], axis=-1)
    col_features = np.concatenate([np.sin(cols), np.cos(cols)], axis=-1)
    grid = np.concatenate(
        [
            np.broadcast_to(row_features[:, None], (height, width, 2 * num_frequencies)),
            np.broadcast_to(col_features[None, :], (height, width, 2 * num_frequencies)),
        ],
        axis=-1,
    )
    return tf.constant(grid, dtype)


def masked_attention(query, keys, values, mask=None) -> tf.Tensor:
    """Multi-head scaled dot-product attention with a key mask, heads leading.

    ```none
    w[n, h, q, m] = softmax_m(query[n, h, q] . keys[n, h, m] / sqrt(d))   over m with mask[n, m]
    out[n, h, q]  = sum_m w[n, h, q, m] values[n, h, m]                   (0 if no m is valid)
    ```

    Masked keys get exactly zero weight, so their content cannot reach the output; a query with
    no valid key reads zeros rather than NaN. Heads lead so that both products are batched matrix
    products with no transpose of the (large) keys and values.

    Args:
      query: `[N, heads, Q, d]`.
      keys: `[N, heads, M, d]`.
      values: `[N, heads, M, d_v]`.
      mask: bool `[N, M]`, True where a key is valid; None for all valid.

    Returns:
      `[N, heads, Q, d_v]`.
    """
    scale = tf.math.rsqrt(tf.cast(tf.shape(keys)[-1], keys.dtype))
    logits = tf.matmul(query * scale, keys, transpose_b=True)
    if mask is not None:
        valid = mask[:, None, None, :]
        # A finite floor (not -inf) keeps the softmax of an all-masked row finite; that row is
        # then zeroed below.
        logits = tf.where(valid, logits, tf.cast(logits.dtype.min, logits.dtype))
    weights = tf.nn.softmax(logits, axis=-1)
    if mask is not None:
        any_valid = tf.reduce_any(mask, axis=-1)
        weights *= tf.cast(any_valid, weights.dtype)[:, None, None, None]
    return tf.matmul(weights, values)


def support_memory(features: tf.Tensor, positional: tf.Tensor, pool: int = 1) -> tf.Tensor:
    """What the support attention reads: every support position's features and its place.

    ```none
    memory = AvgPool_s([features, p])      # [B, K * (H/s) * (W/s), F + P] per set
    ```

    The positional channels `p`, which went into the encoder (so its convolutions can localise
    content), are appended again here (so keys can match positions). Pooling by `s` cuts the
    support positions, and so the attention's time and memory, by `s^2`: each key then summarises
    an `s x s` patch, and its positional channels are the patch's mean, which still peaks against
    a query at the patch.

    Args:
      features: `[B, K, H, W, F]` per-image support features with a static `[H, W, F]`
        (`SupportEncoder`'s full-resolution scale).
      positional: `[H, W, P]`, the `positional_channels` of the support images.
      pool: `s`, the side of the average-pooling window (and stride); must divide H and W.
        Default value: 1 (a key at every support pixel).

    Returns:
      `[B, K * M, F + P]`, `M = (H / s) * (W / s)` positions per support image, image after
      image.
    """
    images = tf.reshape(features, [-1, *features.shape[2:]])
    positional = tf.broadcast_to(
        positional, tf.concat([tf.shape(images)[:1], tf.shape(positional)], 0)
    )
    memory = tf.concat([images, positional], axis=-1)
    if pool > 1:
        memory = tf.nn.avg_pool2d(memory, pool, pool, 'VALID')
    return tf.reshape(memory, [tf.shape(features)[0], -1, memory.shape[-1]])


class SupportAttention(tf.Module):
    """Multi-head attention from one PixelCNN layer's features over the encoded support set.

    ```none
    q = Q(h[r, c]) + Q_pos(p(r, c))       # Q masked by sub-pixel group: head j -> group j*C//heads
    k = K_(features),  v = V_(features)   # [B, K*H*W, heads, d]
    out = O(masked_attention(q, k, v))    # O masked 'B': head group -> gate channel groups
    ```

    The output `[N, h, w, 2 * width]` is added to the layer's horizontal gate pre-activation. The
    masks keep the PixelCNN order for `C > 1`: head `j` reads feature groups `<= g(j)` and writes
    gate groups `>= g(j)`. With `heads < C` some sub-pixels get no attention (still causal).

    Args:
      feature_width: channels of the PixelCNN features (the gated layers' `width`).
      support_width: `E`, channels of the encoded support features.
      positional_width: channels of the positional channels.
      num_sub_pixels: `C`.
      num_heads: attention heads. Default value: 4.
      key_width: channels per head of queries and keys. Default value: 16.
      value_width: channels per head of values. Default value: 16.
      seed: int, `np.random.SeedSequence` or None, for the initial weights.
      dtype: variable dtype. Default value: `tf.float32`.
      name: module name.
    """

    def __init__(
        self,
        feature_width: int,
        support_width: int,
        positional_width: int,
        num_sub_pixels: int,
        num_heads: int = 4,
        key_width: int = 16,
        value_width: int = 16,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'support_attention',
    ):
        super().__init__(name=name)
        if num_heads < 1 or key_width < 1 or value_width < 1:
            raise ValueError(
                'num_heads, key_width and value_width must be >= 1; got '
                f'{num_heads}, {key_width}, {value_width}.'
            )
        self.num_heads, self.key_width, self.value_width = num_heads, key_width, value_width
        head_groups = np.arange(num_heads) * num_sub_pixels // num_heads
        seeds = _seeds.spawn(seed, 5)
        with self.name_scope:
            self.query = MaskedConv1x1(
                feature_width,
                num_heads * key_width,
                channel_groups(feature_width, num_sub_pixels),
                np.repeat(head_groups, key_width),
                'B',
                use_bias=False,
                seed=seeds[0],
                dtype=dtype,
                name='query',
            )
            self.query_position = MaskedConv1x1(
                positional_width,
                num_heads * key_width,
                use_bias=False,
                seed=seeds[1],
                dtype=dtype,
                name='query_position',
            )
            self.key = MaskedConv1x1(
                support_width,
                num_heads * key_width,
                use_bias=False,
                seed=seeds[2],
                dtype=dtype,
                name='key',
            )
            self.value = MaskedConv1x1(
                support_width, num_heads * value_width, seed=seeds[3], dtype=dtype, name='value'
            )
            self.output = MaskedConv1x1(
                num_heads * value_width,
                2 * feature_width,
                np.repeat(head_groups, value_width),
                gated_groups(feature_width, num_sub_pixels),
                'B',
                seed=seeds[4],
                dtype=dtype,
                name='output',
            )

    def _split_heads(self, x: tf.Tensor, head_width: int) -> tf.Tensor:
        """`[B, M, heads * d]` -> `[B, heads, M, d]`."""
        shape = tf.shape(x)[:2]
        x = tf.reshape(x, tf.concat([shape, [self.num_heads, head_width]], axis=0))
        return tf.transpose(x, [0, 2, 1, 3])

    def keys_and_values(self, support_features: tf.Tensor):
        """`[B, M, E]` -> keys `[B, heads, M, key_width]`, values `[B, heads, M, value_width]`."""
        keys = self._split_heads(self.key(support_features), self.key_width)
        values = self._split_heads(self.value(support_features), self.value_width)
        return keys, values

    def __call__(self, features, positional, keys, values, mask=None) -> tf.Tensor:
        """Attention read for `features [N, h, w, width]` at positions with channels `[h, w, P]`.

        `keys`, `values` come from `keys_and_values` for `B` support sets, `mask` is bool `[B, M]`
        or None; `N` is a multiple `S * B` of `B`, and `features[s * B + b]` attends to set `b`.
        The `S` queries on one set are batched together, so keys and values are never copied
        `S` times (sampling `n` images per set reads each set once per pixel, not `n` times).
        Returns `[N, h, w, 2 * width]`.
        """
        query = self.query(features) + self.query_position(positional)
        shape = tf.shape(query)
        sets = tf.shape(keys)[0]
        # [S * B, h, w, heads * d] -> [B, heads, S * h * w, d]
        query = tf.reshape(query, [-1, sets, shape[1] * shape[2], self.num_heads, self.key_width])
        query = tf.transpose(query, [1, 3, 0, 2, 4])
        query = tf.reshape(query, [sets, self.num_heads, -1, self.key_width])
        read = masked_attention(query, keys, values, mask)
        # [B, heads, S * h * w, d_v] -> [S * B, h, w, heads * d_v]
        read = tf.reshape(read, [sets, self.num_heads, -1, shape[1] * shape[2], self.value_width])
        read = tf.transpose(read, [2, 0, 3, 1, 4])
        read = tf.reshape(read, tf.concat([shape[:3], [self.num_heads * self.value_width]], 0))
        return self.output(read)
