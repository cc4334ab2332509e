"""A permutation-invariant encoder of support sets into one Glow context per level."""

import numpy as np
import tensorflow as tf

from tfp_flows import _validation
from tfp_flows.networks.support_encoder import SupportEncoder, slot_mask

__all__ = ['CONTEXTS', 'POOLINGS', 'SetEncoder']

POOLINGS = ('attention', 'mean')
CONTEXTS = ('spatial', 'vector')


def _normal(rng: np.random.Generator, shape, std: float, dtype: tf.DType) -> np.ndarray:
    return rng.normal(0.0, std, size=shape).astype(dtype.as_numpy_dtype)


class _Dense(tf.Module):
    """`x @ kernel (+ bias)` over the last axis of a tensor of any rank."""

    def __init__(self, in_features, out_features, rng, bias=True, dtype=tf.float32, name='dense'):
        super().__init__(name=name)
        with self.name_scope:
            # Variance 1/fan_in keeps unit-scale inputs at unit scale through a linear map.
            std = in_features**-0.5
            self.kernel = tf.Variable(
                _normal(rng, (in_features, out_features), std, dtype), name='kernel'
            )
            self.bias = tf.Variable(tf.zeros([out_features], dtype), name='bias') if bias else None

    def __call__(self, x: tf.Tensor) -> tf.Tensor:
        # One matrix product over the flattened leading axes: the gradient of
        # einsum('...i,io->...o') materialises an [..., in, out] tensor.
        y = tf.tensordot(x, self.kernel, axes=1)
        return y if self.bias is None else y + self.bias


class _MeanPool(tf.Module):
    """Masked mean over the set axis: `[B, K, h, w, F]` -> `[B, h, w, F]`; empty set -> 0."""

    def __call__(self, features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        slots = slot_mask(mask, 5)
        total = tf.reduce_sum(tf.where(slots, features, tf.zeros_like(features)), axis=1)
        count = tf.reduce_sum(tf.cast(slots, features.dtype), axis=1)
        return total / tf.maximum(count, 1.0)


class _AttentionPool(tf.Module):
    """Set Transformer's pooling by multi-head attention (PMA) with one learned seed, per position.

    ```none
    a_k   = softmax_k(<query_head, W_key f_k> / sqrt(d))      # over the real slots k only
    h     = seed + W_out concat_heads(sum_k a_k W_value f_k)
    out   = h + W_2 relu(W_1 h)
    ```

    Applied independently at every spatial position of `[B, K, h, w, F]` feature maps, so the
    output `[B, h, w, F]` is invariant to the order of the K slots. Masked slots get weight exactly
    0. For an all-masked set every weight is 0 and the output is the learned empty-set embedding
    `seed + b_out` (passed through the MLP), never NaN: masked logits are set to the most negative
    finite value rather than -inf, so the softmax of an all-masked column is uniform (then zeroed),
    not 0/0. (No LayerNorm as in the Set Transformer: the Glow layers reading the context
    standardise their inputs with data-initialised ActNorms.)
    """

    def __init__(self, channels, num_heads, rng, dtype=tf.float32, name='attention_pool'):
        super().__init__(name=name)
        self._num_heads = num_heads
        self._head_width = channels // num_heads
        with self.name_scope:
            self.seed = tf.Variable(_normal(rng, (channels,), 1.0, dtype), name='seed')
            self.query = tf.Variable(
                _normal(rng, (num_heads, self._head_width), 1.0, dtype), name='query'
            )
            self.key = _Dense(channels, channels, rng, bias=False, dtype=dtype, name='key')
            self.value = _Dense(channels, channels, rng, bias=False, dtype=dtype, name='value')
            self.output = _Dense(channels, channels, rng, dtype=dtype, name='output')
            self.hidden = _Dense(channels, channels, rng, dtype=dtype, name='mlp_hidden')
            self.mlp_out = _Dense(channels, channels, rng, dtype=dtype, name='mlp_out')

    def _split_heads(self, x: tf.Tensor) -> tf.Tensor:
        shape = tf.concat([tf.shape(x)[:-1], [self._num_heads, self._head_width]], axis=0)
        return tf.reshape(x, shape)

    def __call__(self, features: tf.Tensor, mask: tf.Tensor) -> tf.Tensor:
        keys = self._split_heads(self.key(features))  # [B, K, h, w, heads, d]
        values = self._split_heads(self.value(features))
        logits = tf.reduce_sum(keys * self.query, axis=-1) * self._head_width**-0.5
        slots = slot_mask(mask, 5)  # [B, K, 1, 1, 1] against logits [B, K, h, w, heads]
        logits = tf.where(slots, logits, logits.dtype.min)
        weights = tf.where(slots, tf.nn.softmax(logits, axis=1), tf.zeros_like(logits))
        attended = tf.reduce_sum(weights[..., None] * values, axis=1)  # [B, h, w, heads, d]
        width = self._num_heads * self._head_width
        attended = tf.reshape(attended, tf.concat([tf.shape(attended)[:-2], [width]], axis=0))
        pooled = self.seed + self.output(attended)
        return pooled + self.mlp_out(tf.nn.relu(self.hidden(pooled)))


class SetEncoder(tf.Module):
    """Encodes a support set `[B, K, H, W, C]` into one conditioning context per Glow level.

    ```none
    per image (SupportEncoder, K folded into the batch):
      f = relu(conv3x3(image))                                   # [H, W, F]
      for level l:  f_l = relu(conv3x3(space_to_depth(f_{l-1})))  # [H/2^(l+1), W/2^(l+1), F]
    per level, over the set (position-wise, permutation invariant):
      P_l = pool_l({f_l^k : k real})                             # [B, h_l, w_l, F]
    context='spatial':
      g   = pool_g({mean_hw f_{L-1}^k})                          # [B, F], set summary
      c_l = P_l W_l + b_l + g G_l                                # [B, h_l, w_l, D]
    context='vector':
      c_l = pool_l({mean_hw f_l^k}) W_l + b_l                    # [B, D]
    map_width > 0 (spatial only), the finest level also reads a full-resolution support map:
      m   = mean_{k real} SupportEncoder_map([s_k, positions])   # [B, H, W, M]
      c_0 += space_to_depth(m, 2) V                              # [B, H/2, W/2, D]
    ```

    Level `l`'s feature maps have the resolution at which Glow's level-`l` couplings and split
    prior run (`H / 2^(l+1)`; the top prior runs at the last level's), so a spatial context is
    read pixel-aligned with the latent it conditions. Fine levels get fine, local evidence (where
    strokes lie at that scale); the global term `g` adds what the whole set shares irrespective
    of position (the class's style), which position-wise pooling alone cannot see when support
    images are not aligned. This is SCHA-VAE's argument for a context at every level of the
    hierarchy, in a deterministic (exact-likelihood) form.

    The support map is `tfp_flows.networks.SupportMap`'s idea for a flow: the pooled level
    features are at most half the resolution and pooled position by position after two
    convolutions, while a character is a few pixels wide; the map keeps every support pixel's
    neighbourhood (with positional channels, so that the convolutions know where they are) and
    hands the couplings of the finest level, which model the strokes, the set's mean ink at the
    pixels each latent position covers. A masked mean, so order-invariant and blind to padding; no
    bias in `V`, so the empty set's context is unchanged.

    Pooling is `'attention'` (Set Transformer PMA, one learned seed, multi-head) or `'mean'`.
    Both are symmetric functions of the real slots, so the contexts are invariant to the order of
    the support images, and accept any set size `K >= 1`, also when K is only known at run time.

    Masking: `support_mask` `[B, K]` (bool, True = real image) marks padded slots. Padded images
    are replaced by zeros before the convolutions (by the `SupportEncoder`) and get weight exactly
    0 in the pooling, so their content (even NaN) has no effect on the contexts or on any
    gradient. An all-masked set is the empty set: its context is a learned constant (attention) or
    that of all-zero features (mean), i.e. the "no support" condition. Padded slots still cost a
    pass through the convolutions.

    Args:
      image_shape: `(H, W, C)` of support images; H, W divisible by `2**num_levels`.
      num_levels: Glow levels `L`, one context each.
      context_channels: `D`, channels of every context (the Glow's `context_channels`).
      hidden_width: `F`, channels of the convolutional features and the pooling. Default: 32.
      pooling: `'attention'` or `'mean'`. Default value: `'attention'`.
      context: `'spatial'` (`[B, h_l, w_l, D]` maps plus a global set vector) or `'vector'`
        (`[B, D]` per level). Default value: `'spatial'`.
      num_heads: attention heads; must divide `hidden_width`. Default value: 4.
      map_width: `M`, channels of the full-resolution support map; 0 for none. Default value: 0.
      map_layers: 3x3 convolutions of the map's encoder. Default value: 3.
      seed: int, `np.random.SeedSequence` or None, for the initial weights. Default value: None.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'set_encoder'`.

    #### Examples

    ```python
    encoder = SetEncoder((28, 28, 1), num_levels=2, context_channels=16)
    contexts = encoder(support, support_mask)   # [[B, 14, 14, 16], [B, 7, 7, 16]]
    glow.log_prob(x, context=contexts)          # a tfp_flows.Glow(..., context_channels=16)
    ```

    #### References

    [1]: Juho Lee et al. Set Transformer: A Framework for Attention-based Permutation-Invariant
         Neural Networks. In ICML, 2019. https://arxiv.org/abs/1810.00825
    [2]: Giorgio Giannone, Ole Winther. SCHA-VAE: Hierarchical Context Aggregation for Few-Shot
         Generation. In ICML, 2022. https://arxiv.org/abs/2110.12279
    """

    def __init__(
        self,
        image_shape,
        num_levels: int,
        context_channels: int,
        hidden_width: int = 32,
        pooling: str = 'attention',
        context: str = 'spatial',
        num_heads: int = 4,
        map_width: int = 0,
        map_layers: int = 3,
        seed=None,
        dtype: tf.DType = tf.float32,
        name: str = 'set_encoder',
    ):
        super().__init__(name=name)
        image_shape = _check_arguments(
            image_shape, num_levels, context_channels, hidden_width, pooling, context, num_heads
        )
        _validation.integer(map_width, 'map_width', 0)
        _validation.integer(map_layers, 'map_layers', 1)
        if map_width and context != 'spatial':
            raise ValueError(
                f"a support map (map_width={map_width}) needs context='spatial'; got {context!r}."
            )
        self._image_shape = image_shape
        self._num_levels = num_levels
        self._context_channels = context_channels
        self._context = context
        self._dtype = tf.as_dtype(dtype)
        rng = np.random.default_rng(seed)

        def make_pool(pool_name):
            if pooling == 'mean':
                return _MeanPool(name=pool_name)
            return _AttentionPool(hidden_width, num_heads, rng, dtype=dtype, name=pool_name)

        with self.name_scope:
            # Drawn first from the one stream `rng`, then the pools' and projections' weights.
            self.support_encoder = SupportEncoder(
                image_shape,
                hidden_width,
                num_layers=1,
                num_downsamples=num_levels,
                seed=rng,
                dtype=dtype,
            )
            self.pools = [make_pool(f'level{lvl}_pool') for lvl in range(num_levels)]
            self.projections = [
                _Dense(hidden_width, context_channels, rng, dtype=dtype, name=f'level{lvl}_proj')
                for lvl in range(num_levels)
            ]
            if context == 'spatial':
                self.global_pool = make_pool('global_pool')
                self.global_projections = [
                    _Dense(
                        hidden_width,
                        context_channels,
                        rng,
                        bias=False,
                        dtype=dtype,
                        name=f'level{lvl}_global_proj',
                    )
                    for lvl in range(num_levels)
                ]
            # Drawn last from `rng`, so that models without a map keep their weights.
            self.support_map = None
            if map_width:
                self.support_map = SupportEncoder(
                    image_shape,
                    map_width,
                    num_layers=map_layers,
                    num_frequencies=4,
                    seed=rng,
                    dtype=dtype,
                    name='support_map',
                )
                self.map_pool = _MeanPool(name='map_pool')
                self.map_projection = _Dense(
                    4 * map_width, context_channels, rng, bias=False, dtype=dtype, name='map_proj'
                )
        # Level l's features have the resolution of the encoder's scale l + 1.
        self._resolutions = self.support_encoder.resolutions[1:]

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    @property
    def context_shapes(self) -> tuple[tuple[int, ...], ...]:
        """Per-level context shape without the batch: `(h_l, w_l, D)` or `(D,)`."""
        if self._context == 'vector':
            return tuple((self._context_channels,) for _ in range(self._num_levels))
        return tuple((h, w, self._context_channels) for h, w in self._resolutions)

    def __call__(self, support, support_mask=None) -> list[tf.Tensor]:
        """Contexts of a batch of support sets.

        Args:
          support: float `[B, K, H, W, C]`, pixels preprocessed like the images the Glow models
            (e.g. `tfp_flows.dequantization.preprocess`, values in [-0.5, 0.5]).
          support_mask: optional bool `[B, K]`, True for real images, False for padding.

        Returns:
          A list of `L` contexts, finest level first, each `[B, *context_shapes[l]]`.
        """
        with self.name_scope:
            support, mask = self.support_encoder.check_inputs(support, support_mask)
            # The full-resolution scale is the stem's; the levels' are the coarser ones.
            levels = self.support_encoder(support, mask)[1:]
            contexts = []
            for level, per_image in enumerate(levels):
                if self._context == 'vector':
                    per_image = tf.reduce_mean(per_image, axis=[2, 3], keepdims=True)
                contexts.append(self.projections[level](self.pools[level](per_image, mask)))
            if self._context == 'vector':
                return [c[:, 0, 0, :] for c in contexts]
            summary = tf.reduce_mean(per_image, axis=[2, 3], keepdims=True)  # coarsest level
            pooled = self.global_pool(summary, mask)  # [B, 1, 1, F], broadcast over space below
            contexts = [c + proj(pooled) for c, proj in zip(contexts, self.global_projections)]
            if self.support_map is not None:
                support_map = self.map_pool(self.support_map(support, mask)[0], mask)
                contexts[0] += self.map_projection(tf.nn.space_to_depth(support_map, 2))
            return contexts

    def empty_context(self, batch_size) -> list[tf.Tensor]:
        """The contexts of the empty set (an all-masked support), for `batch_size` examples."""
        with self.name_scope:
            placeholder = tf.zeros([1, 1, *self._image_shape], self._dtype)
            contexts = self(placeholder, tf.zeros([1, 1], tf.bool))
            return [
                tf.broadcast_to(c, tf.concat([[batch_size], c.shape[1:].as_list()], axis=0))
                for c in contexts
            ]


def _check_arguments(
    image_shape, num_levels, context_channels, hidden_width, pooling, context, num_heads
) -> tuple[int, int, int]:
    image_shape = _validation.image_shape(image_shape)
    _validation.integer(num_levels, 'num_levels', 1)
    _validation.integer(context_channels, 'context_channels', 1)
    _validation.integer(hidden_width, 'hidden_width', 1)
    _validation.integer(num_heads, 'num_heads', 1)
    if pooling not in POOLINGS:
        raise ValueError(f'pooling must be one of {POOLINGS}; got {pooling!r}.')
    if context not in CONTEXTS:
        raise ValueError(f'context must be one of {CONTEXTS}; got {context!r}.')
    if pooling == 'attention' and hidden_width % num_heads:
        raise ValueError(
            f'hidden_width ({hidden_width}) must be divisible by num_heads ({num_heads}).'
        )
    factor = 2**num_levels
    if image_shape[0] % factor or image_shape[1] % factor:
        raise ValueError(
            f'image height and width must be divisible by 2**num_levels = {factor}; got '
            f'image_shape {image_shape}.'
        )
    return image_shape
