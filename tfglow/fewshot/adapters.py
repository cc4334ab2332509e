"""Every evaluated model behind one protocol, `SupportModel`, over discrete images.

```none
log_prob_discrete(images uint8 [B, H, W, C], support uint8 [B, K, H, W, C] | None,
                  support_mask bool [B, K] | None, seed) -> {estimator: nats float64 [B]}
sample_uint8(n, support | None, support_mask | None, seed, temperature)
    -> uint8 [n, B, H, W, C]   ([n, H, W, C] for support=None)
```

Image `b` is scored given support set `b`; `support=None` is the empty set (the "no support"
baseline of a conditional model, or the only option of an unconditional one).

What is scored. A model has a likelihood over `num_bins` discrete levels per sub-pixel; a uint8
pixel `p` is level `floor(p * num_bins / 256)` (for 2 bins: `p >= 128` is 1, Omniglot's ink), and
level `v` is shown as uint8 `floor(v * 255 / (num_bins - 1))`, which maps back to `v` (the one
convention of `tfglow.pixels`). Results of models with different `num_bins` are not comparable
(the evaluator warns).

The estimators, i.e. what each reported number is (NLL = -estimate, averaged over images;
bits/dim = NLL / (D ln 2), D = H * W * C):

```none
'exact'           log P(x | support)                                   PixelCNN, AttentionPixelCNN,
                                                                       MetaPixelCNN: exact.
'dequantized'     1/S sum_s log p(x + u_s | support) - D log(n_bins)   FewShotGlow, Glow: the
                                                                       standard dequantisation
                                                                       bound (training's bits/dim).
'dequantized_iw'  log(1/S sum_s p(x + u_s | support)) - D log(n_bins)  FewShotGlow, Glow: the
                                                                       importance-weighted bound
                                                                       over the same S draws.
```

with `u_s ~ U(0, 1/n_bins)^D` (`tfglow.pixels.uniform_noise`), `S` noise draws per image, and `x`
the image's levels scaled into [-0.5, 0.5) (`tfp_flows.dequantization.preprocess`). A FewShotGlow
with a learned `dequantizer` q (`config.model.dequantization = 'variational'`) maps the same
uniform draws to `u_s ~ q(u | x)` and divides each density by `q(u_s | x)` (with the bin width,
`log p(x + u_s) - log q - D log(n_bins)`; `tfp_flows.VariationalDequantizer`): the same two
estimators, tighter the better q fits; `describe` reports which dequantisation was used. Since
`P(x) = n_bins^-D E_u[p(x + u)]`, both flow estimates are lower bounds on `log P(x | support)` in
expectation (Jensen), so their NLLs are upper bounds; `dequantized_iw >= dequantized` for every
image and every draw, and its expectation rises to `log P(x | support)` as `S` grows (Burda et
al., 2016; Ho et al., 2019).
With `S = 1` the two are equal.

#### Examples

```python
model = adapters.as_adapter(few_shot_glow, n_bits=1, num_noise_samples=8)
log_probs = model.log_prob_discrete(images, support, seed=0)   # {'dequantized': ..., ...}
```

#### References

[1]: Yuri Burda, Roger Grosse, Ruslan Salakhutdinov. Importance Weighted Autoencoders. In ICLR,
     2016. https://arxiv.org/abs/1509.00519
[2]: Jonathan Ho, Xi Chen, Aravind Srinivas, Yan Duan, Pieter Abbeel. Flow++: Improving
     Flow-Based Generative Models with Variational Dequantization and Architecture Design. In
     ICML, 2019. https://arxiv.org/abs/1902.00275
"""

import math
from typing import Protocol

import numpy as np
import tensorflow as tf

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import pixels, validation
from tfp_flows.distributions.variational_dequantizer import dequantized_log_weight

__all__ = [
    'ESTIMATORS',
    'GlowAdapter',
    'PixelCNNAdapter',
    'SupportModel',
    'as_adapter',
    'check_uint8',
    'describe',
    'require_support',
]

ESTIMATORS = {
    'exact': 'exact log P(x | support) of the discrete image (autoregressive model)',
    'dequantized': (
        'the standard dequantisation bound: the mean over S noise draws u (uniform, or from a '
        'learned q(u | x), then divided by q) of log p(x + u | support), minus D log(n_bins); a '
        'lower bound on log P(x | support) in expectation, so its NLL is an upper bound; the '
        "quantity training's bits/dim reports"
    ),
    'dequantized_iw': (
        'the importance-weighted dequantisation bound: the log of the mean over the same S draws '
        'of p(x + u | support) (divided by q(u | x) for a learned q), minus D log(n_bins); >= the '
        'standard bound for every image, still a lower bound in expectation, tightening towards '
        'log P(x | support) as S grows'
    ),
}


class SupportModel(Protocol):
    """What every evaluated model provides; see the module docstring for the semantics.

    Attributes:
      name: shown in reports.
      image_shape: `(H, W, C)`.
      num_bins: discrete levels per sub-pixel that the likelihood is over.
      takes_support: False for unconditional models (they accept only `support=None`).
      estimators: the keys `log_prob_discrete` returns, the tightest last (see `ESTIMATORS`).
      samples_with_temperature: whether `sample_uint8` takes temperatures other than 1
        (optional: analyses read it with `getattr(model, 'samples_with_temperature', False)`).
    """

    name: str
    image_shape: tuple[int, int, int]
    num_bins: int
    takes_support: bool
    estimators: tuple[str, ...]

    def log_prob_discrete(
        self, images: np.ndarray, support=None, support_mask=None, seed=0
    ) -> dict[str, np.ndarray]:
        """`{estimator: log P(images_b | support_b) in nats, float64 [B]}`.

        `seed`: int, or int `[B]`, non-negative; images with equal seeds get equal dequantisation
        noise (an int is shared by the whole batch), so two support sets can be compared on the
        same noise. Exact models ignore it.
        """

    def sample_uint8(
        self, n: int, support=None, support_mask=None, seed: int = 0, temperature: float = 1.0
    ) -> np.ndarray:
        """`n` samples per support set, uint8 `[n, B, H, W, C]` (`[n, H, W, C]` if no support)."""


def check_uint8(value, rank: int, name: str, image_shape) -> np.ndarray:
    """`value` as an array; ValueError naming `name` unless it is uint8 `[..., H, W, C]` of `rank`.

    Args:
      value: images (rank 4, `[B, H, W, C]`) or support sets (rank 5, `[B, K, H, W, C]`).
      rank: 4 or 5.
      name: shown in the error.
      image_shape: the model's `(H, W, C)`.
    """
    value = np.asarray(value)
    if value.dtype != np.uint8 or value.ndim != rank or value.shape[-3:] != tuple(image_shape):
        layout = '[B, H, W, C]' if rank == 4 else '[B, K, H, W, C]'
        raise ValueError(
            f'{name} must be uint8 {layout} with [H, W, C] = {list(image_shape)}; got '
            f'{value.dtype} {value.shape}.'
        )
    return value


def require_support(model: SupportModel, analysis: str) -> None:
    """ValueError naming `analysis` unless `model` is support-conditioned."""
    if not model.takes_support:
        raise ValueError(
            f'{analysis} needs a support-conditioned model; {model.name} takes no support set '
            '(an unconditional model: use it as the baseline instead).'
        )


def _check_seeds(seed, batch: int) -> np.ndarray:
    seeds = np.asarray(seed)
    if seeds.ndim == 0:
        seeds = np.full([batch], seeds)
    if seeds.shape != (batch,) or not np.issubdtype(seeds.dtype, np.integer) or (seeds < 0).any():
        raise ValueError(f'seed must be a non-negative int or int [B={batch}]; got {seed!r}.')
    return seeds


class _Adapter:
    """What the adapters share: keeping the model, and the input checks."""

    name: str
    image_shape: tuple[int, int, int]
    takes_support: bool

    def _wrap(self, model, name: str | None) -> None:
        """Keeps `model`; ValueError for a class-conditional one (no label for a new class)."""
        # FewShotGlow has no labels, hence no `num_classes`.
        num_classes = getattr(model, 'num_classes', 0)
        if num_classes:
            raise ValueError(
                f'{model.name} is class-conditional (num_classes={num_classes}); held-out '
                'classes have no label to give it.'
            )
        self.model = model
        self.name = name or model.name
        self.image_shape = tuple(model.image_shape)

    def _check(self, images, support, support_mask):
        images = check_uint8(images, 4, 'images', self.image_shape)
        if support is None:
            if support_mask is not None:
                raise ValueError('got a support_mask without a support set.')
            return images, None, None
        if not self.takes_support:
            raise ValueError(
                f'{self.name} takes no support set (an unconditional model); pass support=None.'
            )
        support = check_uint8(support, 5, 'support', self.image_shape)
        if support.shape[0] != images.shape[0] or support.shape[1] < 1:
            raise ValueError(
                f'support must be [B, K, H, W, C] with one set per image (B = {images.shape[0]}) '
                f'and K >= 1; got shape {support.shape}.'
            )
        if support_mask is not None:
            support_mask = np.asarray(support_mask).astype(bool)
            if support_mask.shape != support.shape[:2]:
                raise ValueError(
                    f'support_mask must have shape [B, K] = {support.shape[:2]}; got '
                    f'{support_mask.shape}.'
                )
        return images, support, support_mask

    def _check_sample_support(self, support, support_mask):
        if support is None:
            return self._check(np.zeros((1, *self.image_shape), np.uint8), None, support_mask)[1:]
        support = np.asarray(support)
        placeholder = np.zeros((len(support), *self.image_shape), np.uint8)
        return self._check(placeholder, support, support_mask)[1:]


class PixelCNNAdapter(_Adapter):
    """`tfp_flows.PixelCNN`, `AttentionPixelCNN` or `MetaPixelCNN` (no labels) behind
    `SupportModel`: exact.

    'bernoulli' models see uint8 pixels thresholded at 128 (ink = 1); the others see 0..255. An
    `AttentionPixelCNN` given no support reads one masked slot, i.e. attends to nothing; a
    `MetaPixelCNN` then keeps its unadapted conditioning `phi_0`.
    `sample_uint8(..., temperature=T)` tempers each pixel's conditional (`PixelCNN.sample`);
    T = 1 samples the model exactly.
    """

    estimators = ('exact',)
    samples_with_temperature = True

    def __init__(self, model: tfp_flows.PixelCNN, name: str | None = None):
        self._wrap(model, name)
        # A 'bernoulli' model reads binary pixels, the others all 256 levels.
        self.n_bits = 1 if model.output == 'bernoulli' else 8
        self.num_bins = 2**self.n_bits
        self.takes_support = isinstance(model, tfp_flows.AttentionPixelCNN | tfp_flows.MetaPixelCNN)
        # One traced signature per model kind: a support-conditioned model always gets a support
        # and a mask.
        if isinstance(model, tfp_flows.MetaPixelCNN):
            # Classification scores every candidate set against many queries: adapting each
            # distinct set once, then scoring under its phi, skips the repeated inner loops.
            self._adapt = tf.function(model.adapt, reduce_retracing=True)
            log_prob = lambda x, conditions: model.log_prob(x, conditions=conditions)
        elif self.takes_support:
            log_prob = lambda x, support, mask: model.log_prob(
                x, support=support, support_mask=mask
            )
        else:
            log_prob = lambda x: model.log_prob(x)
        self._log_prob = tf.function(log_prob, reduce_retracing=True)

    def _conditioning(self, support, support_mask, sets: int) -> tuple:
        """`(support levels, mask)` for a support-conditioned model, else `()`."""
        if not self.takes_support:
            return ()
        if support is None:
            # The empty set: one slot that the mask removes.
            support = np.zeros((sets, 1, *self.image_shape), np.uint8)
            support_mask = np.zeros((sets, 1), bool)
        elif support_mask is None:
            support_mask = np.ones(support.shape[:2], bool)
        return pixels.to_levels(support, self.n_bits), support_mask

    def log_prob_discrete(self, images, support=None, support_mask=None, seed=0):
        del seed  # Exact: nothing random.
        images, support, support_mask = self._check(images, support, support_mask)
        conditioning = self._conditioning(support, support_mask, len(images))
        if isinstance(self.model, tfp_flows.MetaPixelCNN):
            conditioning = (self._adapted_conditions(*conditioning),)
        log_prob = self._log_prob(pixels.to_levels(images, self.n_bits), *conditioning)
        return {'exact': log_prob.numpy().astype(np.float64)}

    def _adapted_conditions(self, support, support_mask) -> tf.Tensor:
        """A `MetaPixelCNN`'s phi `[B, ...]` per set, adapting each distinct set once."""
        levels = np.asarray(support)
        # Padded slots cannot change phi, so sets that differ only there are the same set.
        kept = np.where(support_mask[..., None, None, None], levels, 0)
        keys = np.concatenate(
            [kept.reshape(len(kept), -1), support_mask.astype(levels.dtype)], axis=1
        )
        _, first, inverse = np.unique(keys, axis=0, return_index=True, return_inverse=True)
        conditions = self._adapt(levels[first], support_mask[first])
        return tf.gather(conditions, inverse.reshape(-1))

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        support, support_mask = self._check_sample_support(support, support_mask)
        conditioning = self._conditioning(support, support_mask, 1)
        kwargs = dict(zip(('support', 'support_mask'), conditioning))
        levels = self.model.sample(n, seed=int(seed), temperature=temperature, **kwargs).numpy()
        if self.takes_support and support is None:
            levels = levels[:, 0]  # The one empty set.
        return pixels.to_uint8(levels, self.n_bits).numpy()


class GlowAdapter(_Adapter):
    """`FewShotGlow` or `tfp_flows.Glow` (no labels) behind `SupportModel`: dequantised bounds.

    Returns the 'dequantized' and 'dequantized_iw' estimates of `num_noise_samples` noise draws
    (see the module docstring). The noise of an image with seed `s` is, for draw `j`,
    `tfglow.pixels.uniform_noise(s, j, [H, W, C])` scaled to the bin width, or, for a model with
    a `dequantizer`, that noise mapped through it (`dequantization` says which). The
    support is given to the model as `tfp_flows.dequantization.preprocess` makes it (no noise),
    as `FewShotGlow` expects; samples are the levels of the bins the flow's outputs fall in.

    Args:
      model: the flow.
      n_bits: bits per sub-pixel the model was trained on (`config.model.n_bits_x`).
      num_noise_samples: `S`, dequantisation noise draws per image. Default value: 8.
      name: shown in reports. Default: the model's name.
    """

    estimators = ('dequantized', 'dequantized_iw')
    samples_with_temperature = True

    def __init__(
        self,
        model: tfp_flows.FewShotGlow | tfp_flows.Glow,
        n_bits: int,
        num_noise_samples: int = 8,
        name: str | None = None,
    ):
        self._wrap(model, name)
        self.n_bits = n_bits
        self.num_bins = dq.num_bins(n_bits)
        self.num_noise_samples = validation.integer(num_noise_samples, 'num_noise_samples', 1)
        self.takes_support = isinstance(model, tfp_flows.FewShotGlow) and model.is_conditional
        dequantizer = getattr(model, 'dequantizer', None)
        self.dequantization = 'uniform' if dequantizer is None else 'variational'
        self._noise = tf.function(
            lambda seeds, draw: pixels.uniform_noise(seeds, draw, self.image_shape),
            reduce_retracing=True,
        )

        def log_weight(x, noise, **conditioning):
            density = lambda x_cont: model.log_prob(x_cont, **conditioning)
            return dequantized_log_weight(density, x, noise, n_bits, dequantizer)

        # Two traced signatures: without support, and with a support and a mask.
        self._log_weight = tf.function(log_weight, reduce_retracing=True)
        self._log_weight_given = tf.function(
            lambda x, noise, support, mask: log_weight(
                x, noise, support=support, support_mask=mask
            ),
            reduce_retracing=True,
        )

    def _conditioning(self, support, support_mask) -> dict:
        """The model's `support` and `support_mask` kwargs; none for no support."""
        if support is None:
            return {}
        if support_mask is None:
            support_mask = np.ones(support.shape[:2], bool)
        return {'support': dq.preprocess(support, self.n_bits), 'support_mask': support_mask}

    def log_prob_discrete(self, images, support=None, support_mask=None, seed=0):
        images, support, support_mask = self._check(images, support, support_mask)
        seeds = _check_seeds(seed, len(images))
        x = dq.preprocess(images, self.n_bits)
        conditioning = self._conditioning(support, support_mask)
        log_weight = self._log_weight_given if conditioning else self._log_weight
        draws = []
        for draw in range(self.num_noise_samples):
            noise = self._noise(tf.constant(seeds, tf.int64), tf.constant(draw, tf.int64))
            draws.append(log_weight(x, noise, *conditioning.values()).numpy().astype(np.float64))
        draws = np.stack(draws)  # [S, B]
        box = math.prod(self.image_shape) * math.log(self.num_bins)
        peak = draws.max(axis=0)
        log_mean_exp = peak + np.log(np.mean(np.exp(draws - peak), axis=0))
        return {'dequantized': draws.mean(axis=0) - box, 'dequantized_iw': log_mean_exp - box}

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        support, support_mask = self._check_sample_support(support, support_mask)
        # A stateless seed pair makes sampling a pure function of `seed`.
        seed = tf.constant([int(seed), 0], tf.int32)
        if isinstance(self.model, tfp_flows.FewShotGlow):
            kwargs = self._conditioning(support, support_mask)
            x = self.model.sample(n, temperature=temperature, seed=seed, **kwargs)
        else:
            x = self.model.sample(n, temperature=temperature, seed=seed)
        return pixels.flow_to_uint8(x, self.n_bits).numpy()


def as_adapter(
    model, n_bits: int | None = None, num_noise_samples: int = 8, name: str | None = None
) -> SupportModel:
    """`model` behind the `SupportModel` protocol (returned as is if it already follows it).

    Args:
      model: a `FewShotGlow`, `tfp_flows.Glow`, `tfp_flows.PixelCNN` / `AttentionPixelCNN`, or
        any object with `log_prob_discrete` and `sample_uint8`.
      n_bits: for flows, the bits per sub-pixel they were trained on.
      num_noise_samples: for flows, dequantisation noise draws per image. Default value: 8.
      name: shown in reports. Default: the model's name.

    Raises:
      ValueError: for a flow without `n_bits`, or a class-conditional model.
      TypeError: for anything else.
    """
    if hasattr(model, 'log_prob_discrete') and hasattr(model, 'sample_uint8'):
        return model
    if isinstance(model, tfp_flows.PixelCNN):
        return PixelCNNAdapter(model, name=name)
    if isinstance(model, tfp_flows.FewShotGlow | tfp_flows.Glow):
        if n_bits is None:
            raise ValueError(f'{model.name} is a flow: pass the n_bits it was trained on.')
        return GlowAdapter(model, n_bits, num_noise_samples=num_noise_samples, name=name)
    raise TypeError(
        'expected a FewShotGlow, tfp_flows.Glow, tfp_flows.PixelCNN or AttentionPixelCNN, or an '
        f'object with log_prob_discrete and sample_uint8; got {type(model).__name__}.'
    )


def describe(model: SupportModel) -> dict:
    """The facts about `model` that a report needs to be read correctly."""
    info = {
        'name': model.name,
        'type': type(getattr(model, 'model', model)).__name__,
        'takes_support': bool(model.takes_support),
        'num_bins': int(model.num_bins),
        'num_dims': math.prod(model.image_shape),
        'estimators': {e: ESTIMATORS.get(e, 'defined by the model') for e in model.estimators},
    }
    if hasattr(model, 'num_noise_samples'):
        info['num_noise_samples'] = model.num_noise_samples
    if hasattr(model, 'dequantization'):
        info['dequantization'] = model.dequantization
    return info
