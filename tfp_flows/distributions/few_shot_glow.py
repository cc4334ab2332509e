"""The few-shot generator: a Glow conditioned on a support set, with exact log p(x | support)."""

import numpy as np
import tensorflow as tf

from tfp_flows.distributions.glow import Glow
from tfp_flows.distributions.variational_dequantizer import (
    DEQUANTIZATIONS,
    VariationalDequantizer,
)
from tfp_flows.networks.set_encoder import CONTEXTS, SetEncoder

__all__ = ['FEWSHOT_CONTEXTS', 'FewShotGlow']

FEWSHOT_CONTEXTS = (*CONTEXTS, 'none')

# Mixed into the seed of the set encoder, so that its weights are drawn from a stream
# independent of the Glow's (which uses `seed` itself, exactly as a plain tfp_flows.Glow would).
_ENCODER_STREAM = 0x5E7
# The same for the variational dequantizer's weights.
_DEQUANTIZER_STREAM = 0xDE0


class FewShotGlow(tf.Module):
    """A Glow whose every coupling, split prior and top prior reads a context of a support set.

    ```none
    contexts = SetEncoder(support, support_mask)      # one per level, finest first
    log p(x | support) = Glow(context=contexts).log_prob(x)      # exact, in nats
    u, log q(u | x_discrete) = dequantizer.sample_and_log_prob(x_discrete)   # 'variational' only
    ```

    The support set is a batch of sets of images of one class each, `[B, K, H, W, C]`, with
    pixels preprocessed like `x` (`tfp_flows.dequantization.preprocess`: values in [-0.5, 0.5]).
    Since the set encoder is permutation invariant, so is `log_prob` (see `SetEncoder` for the
    per-level contexts and the masking of padded slots). For every fixed support the model is
    a Glow, an exact bijection with exact log-densities.

    Batch semantics (the same for `log_prob`, `encode`, `decode`, `initialize`): example `b` of
    `x` `[B, H, W, C]` is conditioned on support set `b` `[B, K, ...]`; a support batch of 1 is
    broadcast to all of `x`. `sample(n, support=[B, K, ...])` draws `n` images per set and
    returns `[n, B, H, W, C]` (TFP's convention: sample shape, then batch shape).

    `support=None` means the empty set: the model conditions on the encoder's empty-set context
    (identical to an all-False `support_mask`), the "no support" baseline of a trained
    conditional model; `sample(n)` then returns `[n, H, W, C]`. With `context='none'` there is no
    encoder at all and the model *is* `tfp_flows.Glow(context_channels=0)` with the same seed:
    every method then requires `support=None`.

    Why a `tf.Module` and not a `tfd.Distribution`: the conditioning input is a set with its own
    batch structure (and an optional mask), which would travel through TFP's kwargs caching
    untouched anyway; the Glow inside, `self.glow`, is the `tfd.Distribution` for a fixed
    context (`glow.log_prob(x, context=model.contexts(support))`).

    Args:
      image_shape: `(H, W, C)`; H and W divisible by `2**num_levels`.
      num_levels: Glow levels `L`.
      steps_per_level: flow steps per level.
      hidden_width: channels of the coupling networks' hidden layers.
      permutation: see `tfp_flows.Glow`. Default value: `'invconv'`.
      coupling: see `tfp_flows.Glow`. Default value: `'affine'`.
      learn_top: see `tfp_flows.Glow`. Default value: `False`.
      context: `'spatial'` (per-level maps at each level's resolution plus a global set vector),
        `'vector'` (a `[B, D]` vector per level) or `'none'` (unconditional). Default: `'spatial'`.
      context_channels: `D`, channels of each level's context. Default value: 16.
      encoder_width: hidden width of the set encoder. Default value: 32.
      pooling: `'attention'` or `'mean'` set pooling. Default value: `'attention'`.
      num_heads: attention heads of the pooling. Default value: 4.
      support_map_width: channels of a full-resolution support map added to the finest level's
        context (`SetEncoder`'s `map_width`; spatial context only), 0 for none. Default value: 0.
      dequantization: `'uniform'` or `'variational'`: whether the model carries a learned
        dequantisation noise `q(u | x)`, `self.dequantizer` (a `tfp_flows.VariationalDequantizer`
        reading the target's pixels; None for uniform). The model's `log_prob` is the flow's
        density either way; q only changes how a discrete image is scored and trained (see
        `tfp_flows.distributions.variational_dequantizer`). Default value: `'uniform'`.
      dequantizer_couplings: checkerboard couplings of q. Default value: 3.
      dequantizer_width: hidden width of q's networks. Default value: 32.
      seed: int or None, for all initial weights. Default value: None.
      dtype: Default value: `tf.float32`.
      name: Default value: `'few_shot_glow'`.

    #### Examples

    ```python
    model = FewShotGlow((28, 28, 1), num_levels=2, steps_per_level=8, hidden_width=128)
    support = dq.preprocess(episode['support'], n_bits)        # [B, K, 28, 28, 1]
    x = dq.dequantize(dq.preprocess(episode['target'], n_bits), n_bits)
    model.initialize(x, support=support, support_mask=episode['support_mask'])  # once
    nats = model.log_prob(x, support=support, support_mask=episode['support_mask'])  # [B]
    images = model.sample(4, support=support, temperature=0.7)  # [4, B, 28, 28, 1]
    ```
    """

    def __init__(
        self,
        image_shape,
        num_levels: int,
        steps_per_level: int,
        hidden_width: int,
        permutation: str = 'invconv',
        coupling: str = 'affine',
        learn_top: bool = False,
        context: str = 'spatial',
        context_channels: int = 16,
        encoder_width: int = 32,
        pooling: str = 'attention',
        num_heads: int = 4,
        support_map_width: int = 0,
        dequantization: str = 'uniform',
        dequantizer_couplings: int = 3,
        dequantizer_width: int = 32,
        seed: int | None = None,
        dtype: tf.DType = tf.float32,
        name: str = 'few_shot_glow',
    ):
        super().__init__(name=name)
        if context not in FEWSHOT_CONTEXTS:
            raise ValueError(f'context must be one of {FEWSHOT_CONTEXTS}; got {context!r}.')
        if support_map_width and context != 'spatial':
            raise ValueError(
                f"support_map_width={support_map_width} needs context='spatial'; got {context!r}."
            )
        if dequantization not in DEQUANTIZATIONS:
            raise ValueError(
                f'dequantization must be one of {DEQUANTIZATIONS}; got {dequantization!r}.'
            )
        conditional = context != 'none'
        with self.name_scope:
            self.glow = Glow(
                image_shape,
                num_levels,
                steps_per_level,
                hidden_width,
                permutation=permutation,
                coupling=coupling,
                learn_top=learn_top,
                context_channels=context_channels if conditional else 0,
                seed=seed,
                dtype=dtype,
            )
            self.encoder = (
                SetEncoder(
                    image_shape,
                    num_levels,
                    context_channels,
                    hidden_width=encoder_width,
                    pooling=pooling,
                    context=context,
                    num_heads=num_heads,
                    map_width=support_map_width,
                    seed=_part_seed(seed, _ENCODER_STREAM),
                    dtype=dtype,
                )
                if conditional
                else None
            )
            self.dequantizer = (
                VariationalDequantizer(
                    image_shape,
                    dequantizer_couplings,
                    dequantizer_width,
                    seed=_part_seed(seed, _DEQUANTIZER_STREAM),
                    dtype=dtype,
                )
                if dequantization == 'variational'
                else None
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.glow.image_shape

    @property
    def latent_shapes(self) -> tuple[tuple[int, int, int], ...]:
        return self.glow.latent_shapes

    @property
    def dtype(self) -> tf.DType:
        return self.glow.dtype

    @property
    def is_conditional(self) -> bool:
        """False for `context='none'`: the model is then a plain unconditional Glow."""
        return self.encoder is not None

    @property
    def is_initialized(self) -> tf.Tensor:
        """True once `initialize` ran (or an initialised checkpoint was restored)."""
        return self.glow.is_initialized

    def contexts(self, support=None, support_mask=None, batch_size=None) -> list[tf.Tensor] | None:
        """The per-level Glow contexts of a support batch (None for `context='none'`).

        Args:
          support: float `[B, K, H, W, C]` or None (the empty set).
          support_mask: optional bool `[B, K]`.
          batch_size: if given, the contexts are broadcast to this batch size (the support batch
            must be 1 or equal to it); needed when `support` is None.
        """
        if self.encoder is None:
            if support is not None or support_mask is not None:
                raise ValueError(
                    "this FewShotGlow was built with context='none' (unconditional); "
                    'pass support=None and support_mask=None.'
                )
            return None
        if support is None:
            if support_mask is not None:
                raise ValueError('support_mask was given without a support set.')
            return self.encoder.empty_context(1 if batch_size is None else batch_size)
        contexts = self.encoder(support, support_mask)
        if batch_size is None:
            return contexts
        return [_broadcast_batch(c, batch_size) for c in contexts]

    def _x_contexts(self, x, support, support_mask):
        """`x` as a tensor and the contexts for its batch."""
        x = tf.convert_to_tensor(x, self.dtype)
        if x.shape.rank is not None and x.shape.rank != 4:
            raise ValueError(f'x must be a batch of images [B, H, W, C]; got shape {x.shape}.')
        return x, self.contexts(support, support_mask, batch_size=_batch_size(x))

    def log_prob(self, x, support=None, support_mask=None) -> tf.Tensor:
        """`log p(x_b | support_b)` in nats, `[B]`, for float images in [-0.5, 0.5]."""
        with self.name_scope:
            x, contexts = self._x_contexts(x, support, support_mask)
            return self.glow.log_prob(x, context=contexts)

    def encode(self, x, support=None, support_mask=None) -> list[tf.Tensor]:
        """Images -> per-level standard-normal latents given the support (finest first)."""
        with self.name_scope:
            x, contexts = self._x_contexts(x, support, support_mask)
            return self.glow.encode(x, context=contexts)

    def decode(self, latents, support=None, support_mask=None) -> tf.Tensor:
        """Per-level latents -> images given the support; the exact inverse of `encode`."""
        with self.name_scope:
            latents = [tf.convert_to_tensor(z, self.dtype) for z in latents]
            if not latents:
                raise ValueError('decode needs one latent per level; got none.')
            contexts = self.contexts(support, support_mask, batch_size=_batch_size(latents[0]))
            return self.glow.decode(latents, context=contexts)

    def initialize(self, x, support=None, support_mask=None) -> list[tf.Tensor]:
        """Data-dependent init of the Glow's ActNorms on `x` given its support sets; run once.

        The set encoder has no data-dependent parameters; the Glow layers reading its contexts
        (the couplings' first convolution) are initialised on the contexts it gives now.
        """
        with self.name_scope:
            x, contexts = self._x_contexts(x, support, support_mask)
            return self.glow.initialize(x, context=contexts)

    def sample(self, n, support=None, support_mask=None, temperature=1.0, seed=None) -> tf.Tensor:
        """`n` images per support set at `temperature`: `[n, B, H, W, C]`, or `[n, H, W, C]` for
        `support=None`.

        Args:
          n: int or scalar int tensor, samples per set.
          support: float `[B, K, H, W, C]` or None (empty set / unconditional).
          support_mask: optional bool `[B, K]`.
          temperature: scale of every level's noise (openai/glow's T). Default value: 1.0.
          seed: int or stateless seed pair for the noise. Default value: None.
        """
        with self.name_scope:
            n = tf.convert_to_tensor(n, tf.int32)
            if n.shape.rank not in (None, 0):
                raise ValueError(f'n must be a scalar number of samples; got shape {n.shape}.')
            contexts = self.contexts(support, support_mask)
            if support is None:
                if contexts is not None:
                    contexts = [_broadcast_batch(c, n) for c in contexts]
                return self.glow.sample(n, temperature=temperature, seed=seed, context=contexts)
            sets = tf.shape(contexts[0])[0]
            # Sample s of set b sits at row s * B + b, so the reshape below gives [n, B, ...].
            tiled = [tf.tile(c, [n] + [1] * (c.shape.rank - 1)) for c in contexts]
            images = self.glow.sample(n * sets, temperature=temperature, seed=seed, context=tiled)
            return tf.reshape(images, [n, sets, *self.image_shape])


def _part_seed(seed: int | None, stream: int) -> np.random.SeedSequence:
    """The seed of a part's weights: a stream of `seed` independent of the Glow's."""
    if seed is None:
        return np.random.SeedSequence()
    return np.random.SeedSequence([int(seed), stream])


def _batch_size(x: tf.Tensor):
    """The static batch size of `x` if known, else its run-time size."""
    return x.shape[0] if x.shape[0] is not None else tf.shape(x)[0]


def _broadcast_batch(context: tf.Tensor, batch_size) -> tf.Tensor:
    """Broadcasts a context of batch 1 or `batch_size` to `batch_size`; clear error otherwise."""
    sets = context.shape[0]
    if sets is not None and isinstance(batch_size, int):
        if sets not in (1, batch_size):
            raise ValueError(
                f'the support batch ({sets} sets) must be 1 (one set for all) or equal the '
                f'batch of images ({batch_size}).'
            )
        if sets == batch_size:
            return context
    else:
        check = tf.debugging.Assert(
            tf.logical_or(
                tf.equal(tf.shape(context)[0], 1), tf.equal(tf.shape(context)[0], batch_size)
            ),
            [
                'the support batch must be 1 or equal the batch of images; got',
                tf.shape(context)[0],
                'sets for',
                batch_size,
                'images',
            ],
        )
        with tf.control_dependencies([check]):
            context = tf.identity(context)
    return tf.broadcast_to(context, [batch_size, *context.shape[1:].as_list()])
