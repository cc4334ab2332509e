"""The whole multi-scale Glow flow as one multipart bijector: per-level latents <-> image."""

import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.bijectors.act_norm import ActNorm
from tfp_flows.bijectors.coupling import COUPLINGS, Coupling
from tfp_flows.bijectors.flow_bijector import FlowBijector, check_images
from tfp_flows.bijectors.half_affine import HalfAffine
from tfp_flows.bijectors.invertible_conv1x1 import InvertibleConv1x1
from tfp_flows.bijectors.memory_saving import MEMORY_SAVING, run_layers
from tfp_flows.bijectors.permutation import ChannelPermutation
from tfp_flows.bijectors.split import Split
from tfp_flows.bijectors.squeeze import Squeeze
from tfp_flows.bijectors.top_prior import TopPrior

__all__ = ['GlowFlow', 'PERMUTATIONS']

PERMUTATIONS = ('invconv', 'lu_invconv', 'shuffle', 'reverse')


def _permutation(kind, num_channels, seed, dtype, name):
    if kind in ('invconv', 'lu_invconv'):
        return InvertibleConv1x1(
            num_channels, lu_decomposed=kind == 'lu_invconv', seed=seed, dtype=dtype, name=name
        )
    return ChannelPermutation(num_channels, kind=kind, seed=seed, name=name)


class GlowFlow(FlowBijector):
    """Glow's generative map from standard-normal latents to images, as one multipart bijector.

    `forward(latents)` decodes the list of per-level latents (finest first) into an image;
    `inverse(image)` encodes. In the encoding direction (openai/glow's `encoder`):

    ```none
    z = squeeze(x)
    for each level l:
      K times: z = coupling(permutation(act_norm(z)))
      if l is not the last level:
        [z, eps_l] = split(z)          # eps_l = standardised factored-out half -> latents[l]
        z = squeeze(z)
    eps_top = top_prior(z)             # -> latents[-1]
    ```

    Every latent is the standard-normal noise of its level (openai/glow's `eps`), so
    `log p(x) = sum_l log N(eps_l; 0, I) + log|det d latents / dx|`.

    Conditioning is passed as keyword arguments: `label` (int `[B]`, for `num_classes > 0`) reaches
    the top prior; `context` (one `[B, D]` tensor for every level, or a list with one tensor per
    level, each `[B, D]` or a `[B, h_l, w_l, D]` map at that level's resolution, for
    `context_channels = D > 0`) reaches every coupling, split prior and the top prior.

    Args:
      image_shape: `(H, W, C)`; H and W divisible by `2**num_levels`.
      num_levels: number of scales `L >= 1`.
      steps_per_level: flow steps `K >= 1` per level.
      hidden_width: channels of the coupling networks' hidden layers.
      permutation: `'invconv'`, `'lu_invconv'`, `'shuffle'` or `'reverse'`. Default: `'invconv'`.
      coupling: `'affine'` or `'additive'`. Default value: `'affine'`.
      learn_top: learn the top prior's mean and scale. Default value: `False`.
      num_classes: classes of a class-conditional top prior, 0 for none. Default value: 0.
      context_channels: `D` of a conditioning context, 0 for none. Default value: 0.
      seed: int or None, for all random initial weights and permutations. Default value: None.
      memory_saving: how the encoding pass (the one training differentiates) keeps activations
        for the backward pass: `'none'` keeps them all; `'recompute'` recomputes each layer's
        activations in the backward pass; `'invert'` reconstructs each level's activations from its
        output by inverting the flow. The last two give the same gradients, and memory that does
        not grow with `steps_per_level`, for about one more forward pass of compute (see
        `tfp_flows.bijectors.memory_saving`). Default value: `'none'`.
      network_dtype: dtype the coupling networks compute in: `'bfloat16'` (or `'float16'` on
        GPUs) runs their convolutions in mixed precision, variables and everything else staying in
        `dtype`. The flow stays exactly invertible with an exact log-determinant (each network
        sees the same input in both directions); what changes is the networks' precision. None
        (default) for `dtype`.
      validate_args: Python `bool`. Default value: `False`.
      dtype: variable dtype. Default value: `tf.float32`.
      name: Default value: `'glow_flow'`.
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
        name: str = 'glow_flow',
    ):
        parameters = dict(locals())
        image_shape = _check_structure(
            image_shape, num_levels, steps_per_level, hidden_width, permutation, coupling
        )
        if memory_saving not in MEMORY_SAVING:
            raise ValueError(
                f'memory_saving must be one of {MEMORY_SAVING}; got {memory_saving!r}.'
            )
        with tf.name_scope(name) as name:
            self._image_shape = image_shape
            self._memory_saving = memory_saving
            self._num_levels = int(num_levels)
            self._context_channels = int(context_channels)
            self.squeeze = Squeeze()
            self.levels = []
            self.splits = []
            latent_shapes = []
            height, width, channels = image_shape
            seeds = _seeds.spawn(seed, num_levels)
            for level in range(num_levels):
                height, width, channels = height // 2, width // 2, channels * 4
                level_seeds = _seeds.spawn(seeds[level], 2 * steps_per_level)
                steps = []
                for step in range(steps_per_level):
                    prefix = f'level{level}_step{step}_'
                    steps += [
                        ActNorm(channels, dtype=dtype, name=prefix + 'act_norm'),
                        _permutation(
                            permutation,
                            channels,
                            level_seeds[2 * step],
                            dtype,
                            prefix + permutation,
                        ),
                        Coupling(
                            channels,
                            hidden_width,
                            coupling=coupling,
                            conditional_channels=self._context_channels,
                            seed=level_seeds[2 * step + 1],
                            network_dtype=network_dtype,
                            dtype=dtype,
                            name=prefix + 'coupling',
                        ),
                    ]
                self.levels.append(steps)
                if level < num_levels - 1:
                    self.splits.append(
                        Split(
                            channels,
                            self._context_channels,
                            dtype=dtype,
                            name=f'level{level}_split',
                        )
                    )
                    channels //= 2
                    latent_shapes.append((height, width, channels))
            latent_shapes.append((height, width, channels))
            self.top_prior = TopPrior(
                channels,
                learn_top=learn_top,
                num_classes=num_classes,
                conditional_channels=self._context_channels,
                validate_args=validate_args,
                dtype=dtype,
            )
            self._latent_shapes = tuple(latent_shapes)
            super().__init__(
                forward_min_event_ndims=[3] * num_levels,
                inverse_min_event_ndims=3,
                parameters=parameters,
                name=name,
                validate_args=validate_args,
                dtype=dtype,
            )

    @property
    def image_shape(self) -> tuple[int, int, int]:
        return self._image_shape

    @property
    def latent_shapes(self) -> tuple[tuple[int, int, int], ...]:
        """Event shape `(h, w, c)` of each level's latent, finest first."""
        return self._latent_shapes

    @property
    def act_norms(self) -> list[ActNorm]:
        """Every ActNorm, in the flow steps and inside the coupling networks."""
        return [m for m in self.submodules if isinstance(m, ActNorm)]

    def _contexts(self, context):
        """One conditioning tensor (or None) per level."""
        if isinstance(context, (list, tuple)):
            if len(context) != self._num_levels:
                raise ValueError(
                    f'context must be one tensor or a list of {self._num_levels} (one per level); '
                    f'got a list of {len(context)}.'
                )
            return list(context)
        return [context] * self._num_levels

    def _encode(self, x, label, context, initialize: bool):
        """Image -> (latents, log|det d latents/dx|, top z); `initialize` runs the data init."""
        x = tf.convert_to_tensor(x, self.dtype)
        check_images(x, self._image_shape[-1], self.name)
        if x.shape[1:].is_fully_defined() and tuple(x.shape[1:]) != self._image_shape:
            raise ValueError(
                f'{self.name} was built for images {self._image_shape}; got {x.shape}.'
            )

        def apply(layer, z, **kwargs):
            if initialize:
                return layer.initialize(z, **kwargs), 0.0
            return layer.forward_and_log_det(z, **kwargs)

        contexts = self._contexts(context)
        z, log_det = self.squeeze.forward_and_log_det(x)
        latents = []
        for level, steps in enumerate(self.levels):
            condition = {'conditional_input': contexts[level]}
            if initialize:
                for layer in steps:
                    z = layer.initialize(z, **(condition if isinstance(layer, HalfAffine) else {}))
            else:
                z, steps_log_det = run_layers(steps, z, contexts[level], self._memory_saving)
                log_det += steps_log_det
            if level < self._num_levels - 1:
                z, split_log_det = apply(self.splits[level], z, **condition)
                log_det += split_log_det
                z, factored_out = tf.split(z, 2, axis=-1)
                latents.append(factored_out)
                z = self.squeeze.forward_and_log_det(z)[0]
        top, prior_log_det = apply(self.top_prior, z, label=label, conditional_input=contexts[-1])
        latents.append(top)
        return latents, log_det + prior_log_det, z

    def _decode(self, latents, label, context):
        """Latents -> (image, log|det d image / d latents|)."""
        latents = [tf.convert_to_tensor(eps, self.dtype) for eps in latents]
        if len(latents) != self._num_levels:
            raise ValueError(
                f'expected {self._num_levels} latents (one per level); got {len(latents)}.'
            )
        for level, (eps, shape) in enumerate(zip(latents, self._latent_shapes)):
            if eps.shape.rank is not None and (
                eps.shape.rank != 4 or not eps.shape[1:].is_compatible_with(shape)
            ):
                raise ValueError(
                    f'latent {level} must have shape [B, {", ".join(map(str, shape))}]; '
                    f'got {eps.shape}.'
                )
        contexts = self._contexts(context)
        z, log_det = self.top_prior.inverse_and_log_det(
            latents[-1], label=label, conditional_input=contexts[-1]
        )
        for level in reversed(range(self._num_levels)):
            condition = {'conditional_input': contexts[level]}
            if level < self._num_levels - 1:
                z = tf.concat([self.squeeze.inverse_and_log_det(z)[0], latents[level]], axis=-1)
                z, split_log_det = self.splits[level].inverse_and_log_det(z, **condition)
                log_det += split_log_det
            for layer in reversed(self.levels[level]):
                z, step_log_det = layer.inverse_and_log_det(
                    z, **(condition if isinstance(layer, HalfAffine) else {})
                )
                log_det += step_log_det
        return self.squeeze.inverse_and_log_det(z)[0], log_det

    def _forward_and_log_det(self, latents, label=None, context=None):
        return self._decode(latents, label, context)

    def _inverse_and_log_det(self, x, label=None, context=None):
        latents, log_det, _ = self._encode(x, label, context, initialize=False)
        return latents, log_det

    def encode_with_top(self, x, label=None, context=None):
        """`(latents, log|det d latents/dx|, top z)` in one pass; top z feeds the class head."""
        with tf.name_scope(self.name):
            return self._encode(x, label, context, initialize=False)

    def initialize(self, x, label=None, context=None):
        """Data-dependent init of every ActNorm, level by level, on the image batch `x`.

        Each ActNorm is initialised on the activations that reach it after the layers before it were
        initialised, as in openai/glow. Returns the latents of `x` under the initialised flow.
        """
        with tf.name_scope(self.name):
            latents, _, _ = self._encode(x, label, context, initialize=True)
        self._cache.clear()
        return latents

    # Shapes and dtypes of the two sides of this multipart bijector.
    def _forward_event_shape(self, input_shapes, **kwargs):
        return tf.TensorShape(self._image_shape)

    def _forward_event_shape_tensor(self, input_shapes, **kwargs):
        return tf.constant(self._image_shape, tf.int32)

    def _inverse_event_shape(self, output_shape, **kwargs):
        return [tf.TensorShape(shape) for shape in self._latent_shapes]

    def _inverse_event_shape_tensor(self, output_shape, **kwargs):
        return [tf.constant(shape, tf.int32) for shape in self._latent_shapes]

    def _forward_dtype(self, input_dtype, **kwargs):
        dtypes = set(tf.nest.flatten(input_dtype)) - {None}
        if len(dtypes) > 1:
            raise ValueError(
                f'all latents must have the same dtype; got {sorted(d.name for d in dtypes)}.'
            )
        return dtypes.pop() if dtypes else None

    def _inverse_dtype(self, output_dtype, **kwargs):
        return [output_dtype] * self._num_levels


def _check_structure(image_shape, num_levels, steps_per_level, hidden_width, permutation, coupling):
    """Validates the architecture arguments; returns the image shape as a tuple of ints."""
    image_shape = _validation.image_shape(image_shape)
    for label, value in (
        ('num_levels', num_levels),
        ('steps_per_level', steps_per_level),
        ('hidden_width', hidden_width),
    ):
        _validation.integer(value, label, 1)
    if permutation not in PERMUTATIONS:
        raise ValueError(f'permutation must be one of {PERMUTATIONS}; got {permutation!r}.')
    if coupling not in COUPLINGS:
        raise ValueError(f'coupling must be one of {COUPLINGS}; got {coupling!r}.')
    factor = 2**num_levels
    height, width, _ = image_shape
    if height % factor or width % factor:
        raise ValueError(
            f'image height and width must be divisible by 2**num_levels = {factor} '
            '(one 2x2 squeeze '
            f'per level); got image_shape {image_shape} with num_levels={num_levels}.'
        )
    return image_shape
