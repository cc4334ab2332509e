"""Meta PixelCNN (Reed et al., 2018): a PixelCNN adapted to a support set by a learned loss."""

import math

import tensorflow as tf

from tfp_flows import _seeds, _validation
from tfp_flows.distributions.pixel_cnn import PixelCNN
from tfp_flows.networks.inner_loss import InnerLoss
from tfp_flows.networks.masked_conv import MaskedConv1x1

__all__ = ['MetaPixelCNN']


class MetaPixelCNN(PixelCNN):
    """A gated PixelCNN whose conditioning vector is adapted to a support set by gradient descent.

    ```none
    bias_l(phi)  = P_l phi                  # [2 * hidden_width], added to the horizontal gate
                                            # pre-activation of gated layer l = 1 .. L - 1
    q_k(phi)     = last hidden layer of the PixelCNN with bias(phi) on support image s_k
                   (teacher-forced, in one parallel pass)           # [H, W, hidden_width]
    L(phi)       = sum_k mask_k g(q_k(phi), s_k) / max(1, sum_k mask_k)   # learned inner loss
    phi_0        learned;   phi_{t+1} = phi_t - alpha * dL/dphi (phi_t),   t < inner_steps
    alpha        = softplus(rho) > 0, one step size per entry of phi (Meta-SGD), learned
    p(x | support) = prod_{r, c, k} p(x[r, c, k] | earlier sub-pixels; bias(phi_T))
    ```

    Each support set gets its own `phi`, so the sets of a batch adapt independently. By default
    `phi` is a vector (`[B, condition_width]`) that shifts every position alike; with
    `condition_grid=G` it is a spatial map `[B, G, G, condition_width]`, and pixel `(r, c)` reads
    the biases `P_l phi[r * G // H, c * G // W]` of its cell, so one inner step can also say
    *where* the support's strokes are. The conditioning from the support to the next pixel adds no
    parameters of its own: it is the gradient of the learned loss `g`
    (`tfp_flows.networks.InnerLoss`, part of the model's weights), and training differentiates the
    outer loss (the exact NLL of targets under `phi_T`) through the inner steps, reaching `g`, the
    step sizes, `phi_0` and the network: second-order by default. `first_order=True` treats each
    inner gradient as a constant: cheaper, but then the outer loss no longer depends on `g`, which
    keeps its initial weights (its gradients are None), while `phi_0`, the step sizes and the
    network still learn.

    Everything else is `tfp_flows.PixelCNN` (outputs, value conventions, batch semantics, fast
    sampling: `phi_T` is computed once per set, then each pixel reads its biases). `phi` only
    shifts gate pre-activations by amounts that do not depend on the image, so the model is an
    exact, normalised autoregressive distribution for every support set (a spatial `phi` shifts
    each position by its own amount, still independent of the image).

    Conditioning kwargs on `log_prob` and `sample`: `support`, integer `[B, K, H, W, C]` with the
    same value range as `x`, optional; `support_mask`, bool (or 0/1) `[B, K]`, optional, False
    for padded slots, which then cannot affect the result. The inner loss is a mean over the
    valid slots, so the result does not depend on their order; a set with no valid slot, no
    support at all (`support=None`) or `inner_steps=0` give `phi_0`: the model is then a plain
    PixelCNN with constant biases. `K` may differ between calls, also inside one `tf.function`
    traced with `[None, None, H, W, C]`. `log_prob(x, support=s)` takes `x [..., B, H, W, C]`;
    `sample(n, support=s)` returns `[n, B, H, W, C]`. Instead of a support, `conditions=phi`
    (float `[B, *condition_shape]`, e.g. from `adapt`) scores or samples under an already adapted
    `phi`: adapt once, then score many targets or candidate sets without repeating the inner loop.

    Cost: every inner step runs the network forward and backward on all `B * K` support images
    (second order: and the backward pass of that backward pass in training), so a training step
    costs several times a plain PixelCNN's on the same targets.

    Args:
      image_shape: `(H, W, C)`.
      output: `'categorical'` | `'logistic_mixture'` | `'bernoulli'`. Default: `'categorical'`.
      num_layers: gated layers, >= 2 (layer 0 reads the image and takes no bias). Default: 12.
      hidden_width: channels of the vertical and horizontal stacks. Default value: 64.
      condition_width: entries of `phi` (per grid cell with `condition_grid`). Default: 32.
      condition_grid: 0 for a vector `phi`, or `G` for a `G x G` map of them; `G` must divide
        `H` and `W`. Default value: 0.
      inner_steps: gradient steps on the support, >= 0. Default value: 1.
      inner_step_size: initial `alpha` of every entry, > 0. Default value: 0.1.
      first_order: stop gradients through the inner gradients. Default value: `False`.
      inner_loss_width: channels of `g`'s convolutions. Default value: 32.
      inner_loss_layers: 3x3 convolutions of `g`. Default value: 2.
      kernel_size, first_kernel_size, head_width, num_mixtures, image_dtype, validate_args,
        dtype: as in `tfp_flows.PixelCNN`, with the same defaults.
      seed: int, `np.random.SeedSequence` or None, for the initial weights. Default value: None.
      name: Default value: `'MetaPixelCNN'`.

    #### Examples

    ```python
    model = tfp_flows.MetaPixelCNN(image_shape=(28, 28, 1), output='bernoulli', inner_steps=2)
    nats = model.log_prob(targets, support=support)               # [B]; support [B, K, 28, 28, 1]
    nats = model.log_prob(targets, support=padded, support_mask=valid)   # valid: bool [B, K_max]
    samples = model.sample(4, support=support, seed=0)             # [4, B, 28, 28, 1]
    phi = model.adapt(support)                                     # [B, condition_width]
    nats = model.log_prob(targets, conditions=phi)                 # as with support=support
    ```

    #### References

    [1]: Scott Reed, Yutian Chen, Thomas Paine, Aaron van den Oord, S. M. Ali Eslami, Danilo
         Rezende, Oriol Vinyals, Nando de Freitas. Few-shot Autoregressive Density Estimation:
         Towards Learning to Learn Distributions. In ICLR, 2018. https://arxiv.org/abs/1710.10304

    [2]: Chelsea Finn, Pieter Abbeel, Sergey Levine. Model-Agnostic Meta-Learning for Fast
         Adaptation of Deep Networks. In ICML, 2017. https://arxiv.org/abs/1703.03400

    [3]: Zhenguo Li, Fengwei Zhou, Fei Chen, Hang Li. Meta-SGD: Learning to Learn Quickly for
         Few-Shot Learning. arXiv, 2017. https://arxiv.org/abs/1707.09835
    """

    def __init__(
        self,
        image_shape,
        output: str = 'categorical',
        num_layers: int = 12,
        hidden_width: int = 64,
        condition_width: int = 32,
        condition_grid: int = 0,
        inner_steps: int = 1,
        inner_step_size: float = 0.1,
        first_order: bool = False,
        inner_loss_width: int = 32,
        inner_loss_layers: int = 2,
        kernel_size: int = 3,
        first_kernel_size: int = 7,
        head_width: int | None = None,
        num_mixtures: int = 10,
        seed=None,
        image_dtype: tf.DType = tf.int32,
        validate_args: bool = False,
        dtype: tf.DType = tf.float32,
        name: str = 'MetaPixelCNN',
    ):
        parameters = dict(locals())
        _validation.integer(
            num_layers, 'num_layers', 2, bounds='>= 2 (layer 0 reads the image and takes no bias)'
        )
        _validation.integer(condition_width, 'condition_width', 1)
        _validation.integer(condition_grid, 'condition_grid', 0, bounds='>= 0 (0: a vector phi)')
        _validation.integer(inner_steps, 'inner_steps', 0, bounds='>= 0 (0: no adaptation)')
        if (
            isinstance(inner_step_size, bool)
            or not isinstance(inner_step_size, int | float)
            or not math.isfinite(inner_step_size)
            or inner_step_size <= 0
        ):
            raise ValueError(f'inner_step_size must be a number > 0; got {inner_step_size!r}.')
        if not isinstance(first_order, bool):
            raise ValueError(f'first_order must be True or False; got {first_order!r}.')
        network_seed, projection_seed, loss_seed = _seeds.spawn(seed, 3)
        super().__init__(
            image_shape,
            output=output,
            num_layers=num_layers,
            hidden_width=hidden_width,
            kernel_size=kernel_size,
            first_kernel_size=first_kernel_size,
            head_width=head_width,
            num_mixtures=num_mixtures,
            seed=network_seed,
            image_dtype=image_dtype,
            validate_args=validate_args,
            dtype=dtype,
            name=name,
        )
        height, width = self.image_shape[:2]
        if condition_grid and (height % condition_grid or width % condition_grid):
            raise ValueError(
                f'condition_grid must divide the image height and width {height}x{width}; got '
                f'{condition_grid}.'
            )
        self._condition_grid = condition_grid
        # phi is [*condition_shape] per set: one vector, or one per cell of the grid.
        condition_shape = (
            (condition_grid, condition_grid, condition_width)
            if condition_grid
            else (condition_width,)
        )
        self._inner_steps = inner_steps
        self._first_order = first_order
        with tf.name_scope(self.name):
            # phi_0 = 0: an untrained model starts as the plain PixelCNN it is built on.
            self.initial_condition = tf.Variable(
                tf.zeros(condition_shape, dtype), name='initial_condition'
            )
            # softplus(rho) = inner_step_size, i.e. rho = log(exp(inner_step_size) - 1).
            self.step_size_parameter = tf.Variable(
                tf.fill(
                    condition_shape,
                    tf.constant(math.log(math.expm1(inner_step_size)), dtype),
                ),
                name='step_size_parameter',
            )
            # All layers' biases in one product; no bias term: phi is the only set-dependent input.
            self.projection = MaskedConv1x1(
                condition_width,
                (num_layers - 1) * 2 * hidden_width,
                use_bias=False,
                seed=projection_seed,
                dtype=dtype,
                name='projection',
            )
            self.inner_loss_network = InnerLoss(
                hidden_width,
                self.image_shape[-1],
                inner_loss_width,
                inner_loss_layers,
                seed=loss_seed,
                dtype=dtype,
                name='inner_loss',
            )
        self._parameters = self._no_dependency(parameters)

    @property
    def inner_steps(self) -> int:
        return self._inner_steps

    @property
    def first_order(self) -> bool:
        return self._first_order

    @property
    def condition_width(self) -> int:
        return int(self.initial_condition.shape[-1])

    @property
    def condition_grid(self) -> int:
        return self._condition_grid

    @property
    def condition_shape(self) -> tuple[int, ...]:
        """The shape of one set's phi: `(condition_width,)` or `(G, G, condition_width)`."""
        return tuple(self.initial_condition.shape)

    @property
    def step_size(self) -> tf.Tensor:
        """`alpha = softplus(rho)` `[*condition_shape]`: the inner step size of each phi entry."""
        return tf.nn.softplus(self.step_size_parameter)

    def _conditioning(self, label=None, support=None, support_mask=None, conditions=None) -> dict:
        if label is not None:
            raise ValueError(f'{self.name} is not class-conditional; got a label.')
        if conditions is not None:
            if support is not None or support_mask is not None:
                raise ValueError('pass either a support set or adapted conditions (phi), not both.')
            return {
                'label': None,
                'support': None,
                'conditions': self._check_conditions(conditions),
            }
        if support is None:
            if support_mask is not None:
                raise ValueError('got a support_mask without a support set.')
            return {'label': None, 'support': None, 'conditions': None}
        support, support_mask = self._check_support(
            support,
            support_mask,
            'for an empty set pass one slot with support_mask=False, or support=None',
        )
        return {'label': None, 'support': support, 'support_mask': support_mask, 'conditions': None}

    def _check_conditions(self, conditions) -> tf.Tensor:
        """`conditions` as float `[B, *condition_shape]`, or a ValueError naming its shape."""
        conditions = tf.convert_to_tensor(conditions, self._float_dtype)
        if not conditions.shape.is_compatible_with([None, *self.condition_shape]):
            expected = ', '.join(map(str, ['B', *self.condition_shape]))
            raise ValueError(
                f'conditions must be phi, float [{expected}] (as from adapt); got shape '
                f'{conditions.shape}.'
            )
        return conditions

    def _conditioning_batch_shape(self, conditioning: dict):
        given = conditioning['support']
        if given is None:
            given = conditioning['conditions']
        if given is None:
            return tf.TensorShape([]), tf.constant([], tf.int32)
        return given.shape[:1], tf.shape(given)[:1]

    def layer_biases(self, conditions: tf.Tensor) -> list[tf.Tensor]:
        """`phi [N, *condition_shape]` -> the `num_layers - 1` biases `[N, (G, G,) 2 * width]`."""
        return tf.split(self.projection(conditions), len(self.network.layers) - 1, axis=-1)

    def _bias_conditioner(self, conditions: tf.Tensor):
        """A `GatedPixelCNN` conditioner adding `bias_l(phi)`; phi `[1, ...]` or one row per set of
        a sample-major batch (image `s * B + b` reads row `b`)."""
        biases = self.layer_biases(conditions)
        height, width = self.image_shape[:2]

        def conditioner(index, h, rows, cols):
            bias = biases[index - 1]
            if self._condition_grid:
                # Each of the requested pixels reads its grid cell's biases.
                grid = self._condition_grid
                bias = tf.gather(bias, rows * grid // height, axis=1)
                bias = tf.gather(bias, cols * grid // width, axis=2)
            else:
                bias = bias[:, None, None, :]
            repeats = tf.shape(h)[0] // tf.shape(bias)[0]
            return tf.tile(bias, [repeats, 1, 1, 1])

        return conditioner

    def _inner_losses(self, conditions, support, support_mask) -> tf.Tensor:
        """`L(phi)` `[B]` for float inputs `support [B, K, H, W, C]` (preprocessed)."""
        shape = tf.shape(support)
        flat = tf.reshape(support, tf.concat([[-1], self.image_shape], axis=0))
        # Image b * K + k of the flattened support is set b's: one row of phi per image.
        per_image = tf.repeat(conditions, shape[1], axis=0)
        features = self.network.hidden_features(flat, conditioner=self._bias_conditioner(per_image))
        losses = tf.reshape(self.inner_loss_network(features, flat), shape[:2])
        if support_mask is None:
            return tf.reduce_mean(losses, axis=1)
        # tf.where, not a product: a padded slot must not count, whatever its loss.
        total = tf.reduce_sum(tf.where(support_mask, losses, tf.zeros_like(losses)), axis=1)
        count = tf.reduce_sum(tf.cast(support_mask, losses.dtype), axis=1)
        return total / tf.maximum(count, 1.0)

    def _initial_conditions(self, sets) -> tf.Tensor:
        return tf.broadcast_to(self.initial_condition, [sets, *self.condition_shape])

    def _adapt(self, support, support_mask) -> tf.Tensor:
        """`phi_T [B, *condition_shape]` for float inputs `support [B, K, H, W, C]`."""
        conditions = self._initial_conditions(tf.shape(support)[0])
        step_size = self.step_size
        for _ in range(self._inner_steps):
            # Only phi is watched: the tape of an enclosing training step records these
            # gradient computations anyway, which is what makes the outer gradient second-order.
            with tf.GradientTape(watch_accessed_variables=False) as tape:
                tape.watch(conditions)
                # Sets are independent: the gradient of the sum is each set's own gradient.
                loss = tf.reduce_sum(self._inner_losses(conditions, support, support_mask))
            gradient = tape.gradient(loss, conditions)
            if self._first_order:
                gradient = tf.stop_gradient(gradient)
            conditions = conditions - step_size * gradient
        return conditions

    def _conditions(self, conditioning: dict) -> tf.Tensor:
        """phi `[B, *condition_shape]`: adapted to the support, as given, or `phi_0` `[1, ...]`."""
        if conditioning['conditions'] is not None:
            return conditioning['conditions']
        if conditioning['support'] is None:
            return self._initial_conditions(1)
        support = self.preprocess(conditioning['support'])
        return self._adapt(support, conditioning['support_mask'])

    def _conditioner(self, conditioning: dict, leading: tf.Tensor):
        # The targets are [*S, B] flattened, sample-major: target s * B + b uses set b's phi.
        del leading
        return self._bias_conditioner(self._conditions(conditioning))

    def adapt(self, support, support_mask=None) -> tf.Tensor:
        """`phi_T`, `[B, *condition_shape]`: the conditioning adapted to each support set.

        Args:
          support: integer `[B, K, H, W, C]`, as for `log_prob`.
          support_mask: optional bool (or 0/1) `[B, K]`, False for padded slots.
        """
        return self._conditions(self._conditioning(support=support, support_mask=support_mask))

    def inner_loss(self, conditions, support, support_mask=None) -> tf.Tensor:
        """The learned inner loss `L(phi)` `[B]` of each support set at the given conditions.

        Args:
          conditions: float `[B, *condition_shape]`, e.g. from `adapt`.
          support: integer `[B, K, H, W, C]`, as for `log_prob`.
          support_mask: optional bool (or 0/1) `[B, K]`, False for padded slots.
        """
        conditioning = self._conditioning(support=support, support_mask=support_mask)
        if conditioning['support'] is None:
            raise ValueError('inner_loss needs a support set [B, K, H, W, C].')
        return self._inner_losses(
            self._check_conditions(conditions),
            self.preprocess(conditioning['support']),
            conditioning['support_mask'],
        )
