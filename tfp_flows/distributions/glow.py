"""Glow (Kingma & Dhariwal, 2018) as a TransformedDistribution over per-level standard normals."""

import tensorflow as tf
import tensorflow_probability as tfp
from tensorflow_probability.python.distributions import transformed_distribution

from tfp_flows.bijectors.glow_flow import GlowFlow
from tfp_flows.networks.conv import LinearZeros

tfd = tfp.distributions

__all__ = ['Glow']


def _all_kwargs_to_bijector(kwargs):
    """Conditioning kwargs (`label`, `context`) belong to the flow; the base is a fixed N(0, I)."""
    return {}, kwargs


# Why the private base: `tfd.TransformedDistribution` subclasses are made CompositeTensors, and a
# `tf.Module` that holds a CompositeTensor flattens it into its tensor parts instead of walking its
# attributes, so every Glow variable would vanish from `wrapper.trainable_variables`. A Glow owns
# variables and is not a value to pass through `tf.function` boundaries; TFP itself returns this
# same non-composite `_TransformedDistribution` for bijectors that are not CompositeTensors (see
# `TransformedDistribution.__new__`), so Glow has exactly the class and behaviour of
# `tfd.TransformedDistribution(base, GlowFlow(...))`.
class Glow(transformed_distribution._TransformedDistribution):
    """A Glow density over images `[B, H, W, C]` with values in [-0.5, 0.5].

    ```none
    latents_l ~ N(0, I) for each level l      # base: a JointDistributionSequential
    x = GlowFlow(latents)                      # see tfp_flows.bijectors.GlowFlow
    log p(x) = sum_l log N(encode(x)_l; 0, I) + log|det d encode(x) / dx|
    ```

    Batches must hold at least one image: TF 2.21's oneDNN convolutions mishandle an empty batch
    (skip the call instead, as `tfglow.evaluate` does for a replica's empty last batch).

    Feed it dequantised pixels (`tfp_flows.dequantization`) and report bits/dim with
    `tfp_flows.dequantization.bits_per_dim`. Conditioning travels as keyword arguments on every
    method:
    `label` (int `[B]`) for a class-conditional model, `context` for a context-conditional one.

    Args:
      image_shape: `(H, W, C)`; H and W divisible by `2**num_levels`.
      num_levels: number of scales `L`.
      steps_per_level: flow steps `K` per level.
      hidden_width: channels of the coupling networks' hidden layers.
      permutation: `'invconv'` | `'lu_invconv'` | `'shuffle'` | `'reverse'`. Default: `'invconv'`.
      coupling: `'affine'` | `'additive'`. Default value: `'affine'`.
      learn_top: learned top prior (openai/glow's `learntop`). Default value: `False`.
      num_classes: class-conditional top prior and class head when > 0 (`ycond`). Default: 0.
      context_channels: width of a conditioning context (set/few-shot models), 0 for none.
      seed: int or None, for the random initial weights and permutations. Default value: None.
      memory_saving: `'none'` | `'recompute'` | `'invert'`: trade about one more forward pass
        for training memory that does not grow with `steps_per_level` (see
        `tfp_flows.bijectors.GlowFlow`). Default value: `'none'`.
      network_dtype: dtype the coupling networks compute in, e.g. `'bfloat16'` for mixed
        precision (see `tfp_flows.bijectors.GlowFlow`). Default value: None (= `dtype`).
      validate_args: Python `bool`. Default value: `False`.
      dtype: Default value: `tf.float32`.
      name: Default value: `'Glow'`.

    #### Examples

    ```python
    glow = tfp_flows.Glow(
        image_shape=(32, 32, 3), num_levels=3, steps_per_level=32, hidden_width=512)
    x = tfp_flows.dequantization.dequantize(tfp_flows.dequantization.preprocess(images))
    glow.initialize(x[:256])                     # data-dependent init, once, before training
    nats = glow.log_prob(x)                      # [B]
    samples = glow.sample(16, temperature=0.7)   # [16, 32, 32, 3]
    latents = glow.encode(x)                     # list, finest level first
    ```

    #### References

    [1]: Diederik P. Kingma, Prafulla Dhariwal. Glow: Generative Flow with Invertible 1x1
         Convolutions. In NeurIPS, 2018. https://arxiv.org/abs/1807.03039
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
        num_classes: int = 0,
        context_channels: int = 0,
        seed: int | None = None,
        memory_saving: str = 'none',
        network_dtype: tf.DType | str | None = None,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'Glow',
    ):
        parameters = dict(locals())
        with tf.name_scope(name) as name:
            flow = GlowFlow(
                image_shape,
                num_levels,
                steps_per_level,
                hidden_width,
                permutation=permutation,
                coupling=coupling,
                learn_top=learn_top,
                num_classes=num_classes,
                context_channels=context_channels,
                seed=seed,
                memory_saving=memory_saving,
                network_dtype=network_dtype,
                validate_args=validate_args,
                dtype=dtype,
            )
            # openai/glow's auxiliary classifier for its `weight_y` loss: a zero-initialised linear
            # head on the spatial mean of the top latent (before the prior), so it sees the image,
            # not y.
            self._classifier = (
                LinearZeros(flow.latent_shapes[-1][-1], num_classes, dtype=dtype, name='classifier')
                if num_classes
                else None
            )
            zero, one = tf.constant(0.0, dtype), tf.constant(1.0, dtype)
            base = tfd.JointDistributionSequential(
                [
                    tfd.Sample(tfd.Normal(zero, one), sample_shape=shape)
                    for shape in flow.latent_shapes
                ],
                validate_args=validate_args,
                name='latents',
            )
            super().__init__(
                distribution=base,
                bijector=flow,
                kwargs_split_fn=_all_kwargs_to_bijector,
                validate_args=validate_args,
                parameters=parameters,
                name=name,
            )

    @classmethod
    def _parameter_properties(cls, dtype, num_classes=None):
        # No batchable tensor parameters: the architecture is static and the weights are variables.
        return {}

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self.bijector.image_shape

    @property
    def latent_shapes(self) -> tuple[tuple[int, int, int], ...]:
        return self.bijector.latent_shapes

    @property
    def num_classes(self) -> int:
        return self.bijector.top_prior.num_classes

    @property
    def is_initialized(self) -> tf.Tensor:
        """True once `initialize` ran (or a checkpoint of an initialised model was restored)."""
        return tf.reduce_all([act_norm.initialized for act_norm in self.bijector.act_norms])

    def initialize(self, x, label=None, context=None):
        """Data-dependent initialisation on the batch `x` (see `GlowFlow.initialize`)."""
        return self.bijector.initialize(x, label=label, context=context)

    def encode(self, x, label=None, context=None) -> list[tf.Tensor]:
        """Images -> per-level standard-normal latents (finest first), openai/glow's `eps`."""
        return self.bijector.inverse(x, label=label, context=context)

    def decode(self, latents, label=None, context=None) -> tf.Tensor:
        """Per-level latents -> images; the exact inverse of `encode`."""
        latents = list(latents)
        if len(latents) != len(self.latent_shapes):
            raise ValueError(
                f'expected {len(self.latent_shapes)} latents (one per level, finest first, shapes '
                f'{list(self.latent_shapes)}); got {len(latents)}.'
            )
        return self.bijector.forward(latents, label=label, context=context)

    def log_prob_and_class_logits(self, x, label=None, context=None):
        """`(log_prob [B], class logits [B, num_classes])` from one pass of the flow.

        The logits come from openai/glow's auxiliary classifier on the top latent; its cross-entropy
        (in bits) times `weight_y` is added to the loss of class-conditional models.
        """
        if self._classifier is None:
            raise ValueError(
                'log_prob_and_class_logits needs a class-conditional Glow (num_classes > 0).'
            )
        latents, log_det, top = self.bijector.encode_with_top(x, label=label, context=context)
        log_prob = self.distribution.log_prob(latents) + log_det
        return log_prob, self._classifier(tf.reduce_mean(top, axis=[1, 2]))

    def _trackable_children(self, save_type='checkpoint', **kwargs):
        # The base N(0, I) holds no state, and TFP's JointDistribution keeps an int-keyed cache that
        # checkpoints and SavedModels cannot serialise: leave it out of the object graph.
        children = super()._trackable_children(save_type, **kwargs)
        children.pop('_distribution', None)
        return children

    def _call_sample_n(self, sample_shape, seed, temperature=1.0, **kwargs):
        # Sampling at temperature T draws every level's noise from N(0, T^2), exactly openai/glow's
        # `z = mean + exp(log_sd) * (eps * T)` at each split and at the top.
        sample_shape = tf.cast(tf.reshape(sample_shape, [-1]), tf.int32)
        count = tf.reduce_prod(sample_shape)
        latents = self.distribution.sample(count, seed=seed)
        temperature = tf.convert_to_tensor(temperature, self.dtype)
        images = self.bijector.forward([temperature * eps for eps in latents], **kwargs)
        return tf.reshape(images, tf.concat([sample_shape, self.image_shape], axis=0))
