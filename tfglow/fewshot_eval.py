"""Evaluation of support-conditioned (few-shot) generative models: one tool for all of them.

Every model is wrapped in an adapter with one protocol, `SupportModel`, over discrete images:

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
level `v` is shown as uint8 `floor(v * 255 / (num_bins - 1))`, which maps back to `v`. Results of
models with different `num_bins` are not comparable (the tool warns).

The estimators, i.e. what each reported number is (NLL = -estimate, averaged over images;
bits/dim = NLL / (D ln 2), D = H * W * C):

```none
'exact'           log P(x | support)                                   PixelCNN, AttentionPixelCNN:
                                                                       exact.
'dequantized'     1/S sum_s log p(x + u_s | support) - D log(n_bins)   FewShotGlow, Glow: the
                                                                       standard dequantisation
                                                                       bound (training's bits/dim).
'dequantized_iw'  log(1/S sum_s p(x + u_s | support)) - D log(n_bins)  FewShotGlow, Glow: the
                                                                       importance-weighted bound
                                                                       over the same S draws.
```

with `u_s ~ U(0, 1/n_bins)^D`, `S` noise draws per image, and `x` the image's levels scaled
into [-0.5, 0.5) (`tfp_flows.dequantization.preprocess`). Since `P(x) = n_bins^-D E_u[p(x + u)]`,
both flow estimates are lower bounds on `log P(x | support)` in expectation (Jensen), so their
NLLs are upper bounds; `dequantized_iw >= dequantized` for every image and every draw, and its
expectation rises to `log P(x | support)` as `S` grows (Burda et al., 2016; Ho et al., 2019).
With `S = 1` the two are equal.

Analyses, each a function here, all driven by `run_evaluation` and `tfglow-fewshot-eval`:
  `cardinality_sweep`: NLL of held-out images of evaluation classes given K = 1, 2, 5, 10, 19
    other images of their class, with the no-support and (optional) unconditional baselines on
    the same images and the same dequantisation noise.
  `classify`: likelihood-based N-way K-shot classification: each query goes to the support set
    under which it is most likely; accuracy with 95% confidence intervals over episodes.
  `refined_sampling`: sample, add the samples to the support set, sample again.

#### Examples

```python
model = fewshot_eval.as_adapter(few_shot_glow, n_bits=1, num_noise_samples=8)
class_arrays = data.load_class_arrays(config.data, 'test')    # {class: uint8 [20, 28, 28, 1]}
sweep = fewshot_eval.cardinality_sweep(model, class_arrays, ks=(1, 5))
print(fewshot_eval.format_sweep_table(sweep))
accuracy = fewshot_eval.classify(model, class_arrays, n_way=5, k_shot=1, num_episodes=600)
```

#### References

[1]: Yuri Burda, Roger Grosse, Ruslan Salakhutdinov. Importance Weighted Autoencoders. In ICLR,
     2016. https://arxiv.org/abs/1509.00519
[2]: Jonathan Ho, Xi Chen, Aravind Srinivas, Yan Duan, Pieter Abbeel. Flow++: Improving
     Flow-Based Generative Models with Variational Dequantization and Architecture Design. In
     ICML, 2019. https://arxiv.org/abs/1902.00275
"""

import dataclasses
import json
import math
import os
import re
import time
from collections.abc import Mapping, Sequence
from typing import Protocol

import ml_collections
import numpy as np
import tensorflow as tf
from absl import logging

import tfp_flows
import tfp_flows.dequantization as dq
from tfglow import config_lib, images, tasks, validation
from tfglow.ema import ExponentialMovingAverage
from tfglow.models import fewshot
from tfglow.trained import resolve_checkpoint

__all__ = [
    'ANALYSES',
    'DEFAULT_KS',
    'DEFAULT_SETTINGS',
    'ESTIMATORS',
    'EvalOptions',
    'Episodes',
    'GlowAdapter',
    'LoadedModel',
    'PixelCNNAdapter',
    'SupportModel',
    'as_adapter',
    'cardinality_sweep',
    'classify',
    'confidence_interval',
    'describe',
    'format_classification_table',
    'format_sweep_table',
    'levels_to_uint8',
    'load_workdir',
    'quantize',
    'refined_sampling',
    'restore_workdir',
    'run_evaluation',
    'sample_episodes',
    'sample_grid',
]

ESTIMATORS = {
    'exact': 'exact log P(x | support) of the discrete image (autoregressive model)',
    'dequantized': (
        'the standard dequantisation bound: the mean over S uniform noise draws u of '
        'log p(x + u | support), minus D log(n_bins); a lower bound on log P(x | support) in '
        "expectation, so its NLL is an upper bound; the quantity training's bits/dim reports"
    ),
    'dequantized_iw': (
        'the importance-weighted dequantisation bound: the log of the mean over the same S draws '
        'of p(x + u | support), minus D log(n_bins); >= the standard bound for every image, still '
        'a lower bound in expectation, tightening towards log P(x | support) as S grows'
    ),
}
DEFAULT_KS = (1, 2, 5, 10, 19)
DEFAULT_SETTINGS = ((5, 1), (5, 5), (20, 1), (20, 5))
ANALYSES = ('sweep', 'classification', 'sampling')

# Independent seed streams of one evaluation seed: noise of the sweep, of the classification
# queries, the choice of sampling support sets, and the sampling noise.
_SWEEP_STREAM, _CLASSIFY_STREAM, _SETS_STREAM, _SAMPLE_STREAM = range(4)
# A normal-approximation 95% interval: mean +- 1.96 standard errors.
_Z95 = 1.959963984540054


class SupportModel(Protocol):
    """What every evaluated model provides; see the module docstring for the semantics.

    Attributes:
      name: shown in reports.
      image_shape: `(H, W, C)`.
      num_bins: discrete levels per sub-pixel that the likelihood is over.
      takes_support: False for unconditional models (they accept only `support=None`).
      estimators: the keys `log_prob_discrete` returns, the tightest last (see `ESTIMATORS`).
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


def quantize(images_uint8: np.ndarray, num_bins: int) -> np.ndarray:
    """uint8 pixels -> int32 levels `floor(p * num_bins / 256)` in `[0, num_bins)`."""
    return (np.asarray(images_uint8, np.int32) * num_bins) // 256


def levels_to_uint8(levels: np.ndarray, num_bins: int) -> np.ndarray:
    """Levels in `[0, num_bins)` -> uint8 `floor(v * 255 / (num_bins - 1))` (0 and 255 at the ends).

    The inverse of `quantize`: since `num_bins` divides 256, level `v`'s image lies in
    `[v * 256 / num_bins, (v + 1) * 256 / num_bins)`. Unlike `dq.postprocess` (which maps the top
    binary level to 128), samples look like the data and can be put back into a support set.
    """
    levels = np.clip(np.asarray(levels, np.int64), 0, num_bins - 1)
    return (levels * 255 // (num_bins - 1)).astype(np.uint8)


class _Adapter:
    """Shared input checks of the adapters."""

    name: str
    image_shape: tuple[int, int, int]
    takes_support: bool

    def _check(self, images, support, support_mask):
        images = _check_uint8(images, 4, 'images', self.image_shape)
        if support is None:
            if support_mask is not None:
                raise ValueError('got a support_mask without a support set.')
            return images, None, None
        if not self.takes_support:
            raise ValueError(
                f'{self.name} takes no support set (an unconditional model); pass support=None.'
            )
        support = _check_uint8(support, 5, 'support', self.image_shape)
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
    """`tfp_flows.PixelCNN` or `AttentionPixelCNN` (no labels) behind `SupportModel`: exact.

    'bernoulli' models see uint8 pixels thresholded at 128 (ink = 1); the others see 0..255. An
    `AttentionPixelCNN` given no support reads one masked slot, i.e. attends to nothing.
    Sampling has no temperature: only `temperature=1.0` is accepted.
    """

    estimators = ('exact',)

    def __init__(self, model: tfp_flows.PixelCNN, name: str | None = None):
        if model.num_classes:
            raise ValueError(
                f'{model.name} is class-conditional (num_classes={model.num_classes}); held-out '
                'classes have no label to give it.'
            )
        self.model = model
        self.name = name or model.name
        self.image_shape = tuple(model.image_shape)
        self.num_bins = 2 if model.output == 'bernoulli' else 256
        self.takes_support = isinstance(model, tfp_flows.AttentionPixelCNN)
        # One traced signature per model kind: a support-conditioned model always gets a support
        # and a mask.
        if self.takes_support:
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
        return quantize(support, self.num_bins), support_mask

    def log_prob_discrete(self, images, support=None, support_mask=None, seed=0):
        del seed  # Exact: nothing random.
        images, support, support_mask = self._check(images, support, support_mask)
        conditioning = self._conditioning(support, support_mask, len(images))
        log_prob = self._log_prob(quantize(images, self.num_bins), *conditioning)
        return {'exact': log_prob.numpy().astype(np.float64)}

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        if temperature != 1.0:
            raise ValueError(
                f'{self.name} is a PixelCNN: it samples at temperature 1 only; got {temperature}.'
            )
        support, support_mask = self._check_sample_support(support, support_mask)
        conditioning = self._conditioning(support, support_mask, 1)
        kwargs = dict(zip(('support', 'support_mask'), conditioning))
        levels = self.model.sample(n, seed=int(seed), **kwargs).numpy()
        if self.takes_support and support is None:
            levels = levels[:, 0]  # The one empty set.
        return levels_to_uint8(levels, self.num_bins)


class GlowAdapter(_Adapter):
    """`FewShotGlow` or `tfp_flows.Glow` (no labels) behind `SupportModel`: dequantised bounds.

    Returns the 'dequantized' and 'dequantized_iw' estimates of `num_noise_samples` noise draws
    (see the module docstring). The noise of an image with seed `s` is, for draw `j`,
    `numpy.random.default_rng([s, j]).random([H, W, C], float32)` scaled to the bin width. The
    support is given to the model as `tfp_flows.dequantization.preprocess` makes it (no noise),
    as `FewShotGlow` expects; samples are the levels of the bins the flow's outputs fall in.

    Args:
      model: the flow.
      n_bits: bits per sub-pixel the model was trained on (`config.model.n_bits_x`).
      num_noise_samples: `S`, dequantisation noise draws per image. Default value: 8.
      name: shown in reports. Default: the model's name.
    """

    estimators = ('dequantized', 'dequantized_iw')

    def __init__(
        self,
        model: fewshot.FewShotGlow | tfp_flows.Glow,
        n_bits: int,
        num_noise_samples: int = 8,
        name: str | None = None,
    ):
        if isinstance(model, tfp_flows.Glow) and model.num_classes:
            raise ValueError(
                f'{model.name} is class-conditional (num_classes={model.num_classes}); held-out '
                'classes have no label to give it.'
            )
        if isinstance(num_noise_samples, bool) or not (
            isinstance(num_noise_samples, int) and num_noise_samples >= 1
        ):
            raise ValueError(f'num_noise_samples must be an integer >= 1; got {num_noise_samples}.')
        self.model = model
        self.name = name or model.name
        self.image_shape = tuple(model.image_shape)
        self.n_bits = n_bits
        self.num_bins = dq.num_bins(n_bits)
        self.num_noise_samples = num_noise_samples
        self.takes_support = isinstance(model, fewshot.FewShotGlow) and model.is_conditional
        # Two traced signatures: without support, and with a support and a mask.
        self._log_prob = tf.function(lambda x: model.log_prob(x), reduce_retracing=True)
        self._log_prob_given = tf.function(
            lambda x, support, mask: model.log_prob(x, support=support, support_mask=mask),
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
        log_prob = self._log_prob_given if conditioning else self._log_prob
        draws = []
        for draw in range(self.num_noise_samples):
            noise = _uniform_noise(seeds, draw, self.image_shape)
            x_cont = dq.dequantize(x, self.n_bits, noise=noise)
            draws.append(log_prob(x_cont, *conditioning.values()).numpy().astype(np.float64))
        draws = np.stack(draws)  # [S, B]
        box = math.prod(self.image_shape) * math.log(self.num_bins)
        peak = draws.max(axis=0)
        log_mean_exp = peak + np.log(np.mean(np.exp(draws - peak), axis=0))
        return {'dequantized': draws.mean(axis=0) - box, 'dequantized_iw': log_mean_exp - box}

    def sample_uint8(self, n, support=None, support_mask=None, seed=0, temperature=1.0):
        support, support_mask = self._check_sample_support(support, support_mask)
        # A stateless seed pair makes sampling a pure function of `seed`.
        seed = tf.constant([int(seed), 0], tf.int32)
        if isinstance(self.model, fewshot.FewShotGlow):
            kwargs = self._conditioning(support, support_mask)
            x = self.model.sample(n, temperature=temperature, seed=seed, **kwargs)
        else:
            x = self.model.sample(n, temperature=temperature, seed=seed)
        levels = np.floor((x.numpy() + 0.5) * self.num_bins)
        return levels_to_uint8(levels, self.num_bins)


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
    if isinstance(model, fewshot.FewShotGlow | tfp_flows.Glow):
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
    return info


# ---------------------------------------------------------------------------------------------
# Data: every image of the evaluation classes in one array.


@dataclasses.dataclass(frozen=True)
class _Pool:
    names: list[str]
    images: np.ndarray  # uint8 [M, H, W, C], class after class
    offsets: np.ndarray  # int64 [C]
    counts: np.ndarray  # int64 [C]


def _pool(class_arrays: Mapping[str, np.ndarray], image_shape) -> _Pool:
    if not class_arrays:
        raise ValueError('class_arrays holds no classes.')
    arrays = []
    for name, array in class_arrays.items():
        array = np.asarray(array)
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1:] != tuple(image_shape):
            raise ValueError(
                f'class {name!r}: expected uint8 images [n, {", ".join(map(str, image_shape))}] '
                f"(the model's image shape); got {array.dtype} {array.shape}."
            )
        arrays.append(array)
    counts = np.array([len(a) for a in arrays], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return _Pool(list(class_arrays), np.concatenate(arrays), offsets, counts)


def _check_uint8(value, rank: int, name: str, image_shape) -> np.ndarray:
    value = np.asarray(value)
    if value.dtype != np.uint8 or value.ndim != rank or value.shape[-3:] != tuple(image_shape):
        layout = '[B, H, W, C]' if rank == 4 else '[B, K, H, W, C]'
        raise ValueError(
            f'{name} must be uint8 {layout} with [H, W, C] = {list(image_shape)}; got '
            f'{value.dtype} {value.shape}.'
        )
    return value


def _check_seeds(seed, batch: int) -> np.ndarray:
    seeds = np.asarray(seed)
    if seeds.ndim == 0:
        seeds = np.full([batch], seeds)
    if seeds.shape != (batch,) or not np.issubdtype(seeds.dtype, np.integer) or (seeds < 0).any():
        raise ValueError(f'seed must be a non-negative int or int [B={batch}]; got {seed!r}.')
    return seeds


def _uniform_noise(seeds: np.ndarray, draw: int, shape) -> np.ndarray:
    """U(0, 1) `[B, *shape]`, row `b` a function of `(seeds[b], draw)` only."""
    unique, inverse = np.unique(seeds, return_inverse=True)
    noise = np.stack(
        [np.random.default_rng([int(s), draw]).random(shape, np.float32) for s in unique]
    )
    return noise[inverse.reshape(-1)]


def _noise_seeds(seed: int, stream: int, count: int) -> np.ndarray:
    return np.random.default_rng([seed, stream]).integers(0, 2**62, size=count)


def _require_support(model: SupportModel, analysis: str) -> None:
    if not model.takes_support:
        raise ValueError(
            f'{analysis} needs a support-conditioned model; {model.name} takes no support set '
            '(an unconditional model: use it as the baseline instead).'
        )


class _Progress:
    """Logs `done/total`, elapsed time and ETA at most every `every_seconds`, and at the end."""

    def __init__(self, label: str, total: int, unit: str, rows_per_unit: int = 1):
        self.label, self.total, self.unit, self.rows_per_unit = label, total, unit, rows_per_unit
        self.rows, self.start = 0, time.monotonic()
        self.last = self.start
        self.every_seconds = 10.0

    def advance(self, rows: int) -> None:
        self.rows += rows
        now = time.monotonic()
        total_rows = self.total * self.rows_per_unit
        if self.rows < total_rows and now - self.last < self.every_seconds:
            return
        self.last = now
        elapsed = now - self.start
        eta = elapsed / self.rows * (total_rows - self.rows)
        logging.info(
            '%s: %d/%d %s (%.0f%%), %s elapsed, ETA %s',
            self.label,
            self.rows // self.rows_per_unit,
            self.total,
            self.unit,
            100.0 * self.rows / total_rows,
            _format_seconds(elapsed),
            _format_seconds(eta),
        )


def _format_seconds(seconds: float) -> str:
    seconds = int(round(seconds))
    return f'{seconds // 3600}:{seconds % 3600 // 60:02d}:{seconds % 60:02d}'


def _score_rows(
    model: SupportModel,
    pool: _Pool,
    queries: np.ndarray,
    supports: np.ndarray | None,
    seeds: np.ndarray,
    batch_size: int,
    progress: _Progress,
) -> dict[str, np.ndarray]:
    """`log P(pool[queries[r]] | pool[supports[r]])` for every row `r`, per estimator."""
    scores = {e: np.empty(len(queries)) for e in model.estimators}
    for start in range(0, len(queries), batch_size):
        rows = slice(start, start + batch_size)
        support = None if supports is None else pool.images[supports[rows]]
        result = model.log_prob_discrete(pool.images[queries[rows]], support, None, seeds[rows])
        for estimator in model.estimators:
            values = np.asarray(result[estimator], np.float64)
            if not np.isfinite(values).all():
                raise ValueError(
                    f'{model.name} returned non-finite log-likelihoods ({estimator}); is the '
                    'checkpoint diverged?'
                )
            scores[estimator][rows] = values
        progress.advance(len(queries[rows]))
    return scores


# ---------------------------------------------------------------------------------------------
# Cardinality sweep.


def _gain(reference: np.ndarray, log_probs: np.ndarray) -> dict:
    """NLL under `reference` minus NLL under `log_probs`, target by target: mean, standard error.

    Both score the same targets with the same noise, so the paired difference is measured far
    more precisely than either NLL (whose spread over targets dominates their standard errors).
    """
    gain = np.asarray(log_probs, np.float64) - np.asarray(reference, np.float64)
    stderr = float(gain.std(ddof=1) / math.sqrt(len(gain))) if len(gain) > 1 else None
    return {'nats_per_image': float(gain.mean()), 'stderr': stderr}


def _summary(log_probs: np.ndarray, num_dims: int) -> dict:
    nll = -np.asarray(log_probs, np.float64)
    stderr = float(nll.std(ddof=1) / math.sqrt(len(nll))) if len(nll) > 1 else None
    return {
        'nats_per_image': float(nll.mean()),
        'stderr': stderr,
        'bits_per_dim': float(nll.mean() / (num_dims * math.log(2.0))),
    }


def cardinality_sweep(
    model: SupportModel,
    class_arrays: Mapping[str, np.ndarray],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    baseline: SupportModel | None = None,
    targets_per_class: int = 1,
    max_classes: int = 0,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """Conditional NLL of held-out images at each support size K, with the baselines.

    For each class (all, or `max_classes` drawn with `seed`), `targets_per_class` target images
    are drawn, and for each target an order of the class's other images; its support at size K
    is the first K of them, so the sets are nested (K=1 in K=2 in ...) and the curve compares like
    with like. Every target is also scored by `model` with no support (the empty set) and by
    `baseline` with no support, all with the target's own dequantisation noise.

    Returns:
      A JSON-ready dict: `model`, `baseline` (see `describe`), `num_classes`,
      `targets_per_class`, `num_targets`, `seed`, `ks`; `conditional`: one row per K,
      `{'k': K, estimator: stats}`; `no_support`: `{estimator: stats}`; `baseline_no_support`:
      the same for `baseline`, or None. `stats` is `{'nats_per_image': mean NLL, 'stderr': its
      standard error over targets (None for one target), 'bits_per_dim': mean NLL / (D ln 2)}`.
      `paired_gains`: one row per K, `{'k': K, estimator: {'over_first_k', 'over_no_support'
      (, 'over_baseline'): gain}}`, where `gain` is `{'nats_per_image', 'stderr'}` of the
      reference's NLL minus the NLL at K, target by target (positive: K is better); the
      baseline's only for the estimators both models have.

    Raises:
      ValueError: for a model without support, a baseline of another image shape, bad K, or
        classes too small for `max(ks) + 1` or `targets_per_class`.
    """
    _require_support(model, 'the cardinality sweep')
    if baseline is not None:
        _check_baseline(model, baseline)
    ks = sorted({validation.integer(k, 'every K', 1) for k in ks})
    if not ks:
        raise ValueError('ks holds no support size.')
    targets_per_class = validation.integer(targets_per_class, 'targets_per_class', 1)
    max_classes = validation.integer(max_classes, 'max_classes', 0)
    batch_size = validation.integer(batch_size, 'batch_size', 1)
    pool = _pool(class_arrays, model.image_shape)
    smallest = int(pool.counts.min())
    name = pool.names[int(pool.counts.argmin())]
    if ks[-1] + 1 > smallest:
        raise ValueError(
            f'K={ks[-1]} needs {ks[-1] + 1} images per class (K support images plus the target); '
            f'class {name!r} has only {smallest}. Use smaller K.'
        )
    if targets_per_class > smallest:
        raise ValueError(
            f'targets_per_class={targets_per_class} exceeds the {smallest} images of class '
            f'{name!r}.'
        )
    classes = np.arange(len(pool.names))
    if max_classes and max_classes < len(classes):
        rng = np.random.default_rng([seed, _SWEEP_STREAM])
        classes = np.sort(rng.choice(classes, max_classes, replace=False))
    targets, others = [], []
    for c in classes:
        rng = np.random.default_rng([seed, _SWEEP_STREAM, int(c)])
        count, offset = int(pool.counts[c]), int(pool.offsets[c])
        for target in rng.choice(count, targets_per_class, replace=False):
            rest = rng.permutation(np.delete(np.arange(count), target))
            targets.append(offset + target)
            others.append(offset + rest[: ks[-1]])
    targets, others = np.array(targets), np.stack(others)
    seeds = _noise_seeds(seed, _SWEEP_STREAM, len(targets))
    num_dims = math.prod(model.image_shape)

    passes = len(ks) + 1 + (baseline is not None)
    progress = _Progress('cardinality sweep', passes * len(targets), 'target images scored')
    by_k = {
        k: _score_rows(model, pool, targets, others[:, :k], seeds, batch_size, progress) for k in ks
    }
    conditional = [
        {'k': k, **{e: _summary(v, num_dims) for e, v in scores.items()}}
        for k, scores in by_k.items()
    ]
    no_support = _score_rows(model, pool, targets, None, seeds, batch_size, progress)
    result = {
        'model': describe(model),
        'baseline': None,
        'num_classes': len(classes),
        'targets_per_class': targets_per_class,
        'num_targets': len(targets),
        'seed': seed,
        'ks': ks,
        'conditional': conditional,
        'no_support': {e: _summary(v, num_dims) for e, v in no_support.items()},
        'baseline_no_support': None,
    }
    baseline_scores = {}
    if baseline is not None:
        baseline_scores = _score_rows(baseline, pool, targets, None, seeds, batch_size, progress)
        result['baseline'] = describe(baseline)
        result['baseline_no_support'] = {
            e: _summary(v, num_dims) for e, v in baseline_scores.items()
        }
    references = {'over_first_k': by_k[ks[0]], 'over_no_support': no_support}
    if baseline_scores:
        references['over_baseline'] = baseline_scores
    result['paired_gains'] = [
        {
            'k': k,
            **{
                e: {
                    name: _gain(reference[e], values)
                    for name, reference in references.items()
                    if e in reference
                }
                for e, values in scores.items()
            },
        }
        for k, scores in by_k.items()
    ]
    return result


def _check_baseline(model: SupportModel, baseline: SupportModel) -> None:
    if tuple(baseline.image_shape) != tuple(model.image_shape):
        raise ValueError(
            f'the baseline {baseline.name} models images of shape {baseline.image_shape}, the '
            f'model {model.image_shape}.'
        )
    if baseline.num_bins != model.num_bins:
        logging.warning(
            'The baseline %s has a likelihood over %d levels per sub-pixel, the model %s over %d: '
            'their NLLs measure different things and are not comparable.',
            baseline.name,
            baseline.num_bins,
            model.name,
            model.num_bins,
        )


def _cell(stats: dict) -> str:
    error = '' if stats['stderr'] is None else f' ± {stats["stderr"]:.2f}'
    return f'{stats["nats_per_image"]:.2f}{error} ({stats["bits_per_dim"]:.4f})'


def format_sweep_table(sweep: dict) -> str:
    """A Markdown table of a `cardinality_sweep` result, with a legend of its numbers."""
    model = sweep['model']
    columns = [(f'conditional, {e}', e, None) for e in model['estimators']]
    columns += [(f'no support, {e}', e, 'no_support') for e in model['estimators']]
    if sweep['baseline_no_support'] is not None:
        columns += [
            (f'baseline {sweep["baseline"]["name"]}, {e}', e, 'baseline_no_support')
            for e in sweep['baseline']['estimators']
        ]
    lines = [
        f'NLL of held-out images of {sweep["num_classes"]} evaluation classes '
        f'({sweep["num_targets"]} targets), {model["name"]}: nats/image ± standard error '
        '(bits/dim).',
        '',
        '| K | ' + ' | '.join(title for title, _, _ in columns) + ' |',
        '|---' * (len(columns) + 1) + '|',
    ]
    for row in sweep['conditional']:
        cells = [_cell(row[e] if source is None else sweep[source][e]) for _, e, source in columns]
        lines.append(f'| {row["k"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(
        [*lines, '', *_paired_gains_table(sweep), '', *_legend([sweep['model'], sweep['baseline']])]
    )


def _paired_gains_table(sweep: dict) -> list[str]:
    first_k = sweep['ks'][0]
    titles = {
        'over_first_k': f'over K={first_k}',
        'over_no_support': 'over no support',
        'over_baseline': 'over baseline',
    }
    names = [n for n in titles if n != 'over_baseline' or sweep['baseline'] is not None]
    lines = [
        'Paired gains: NLL of the reference minus NLL at K, target by target (same targets and '
        'noise), nats/image ± standard error; positive means K is better.',
        '',
        '| K | estimator | ' + ' | '.join(titles[n] for n in names) + ' |',
        '|---' * (len(names) + 2) + '|',
    ]
    for row in sweep['paired_gains']:
        for estimator, gains in row.items():
            if estimator == 'k':
                continue
            cells = []
            for name in names:
                gain = gains.get(name)
                error = '' if gain is None or gain['stderr'] is None else f' ± {gain["stderr"]:.2f}'
                cells.append('' if gain is None else f'{gain["nats_per_image"]:+.2f}{error}')
            lines.append(f'| {row["k"]} | {estimator} | ' + ' | '.join(cells) + ' |')
    return lines


def _legend(models: list[dict | None]) -> list[str]:
    lines = ['Each NLL is -(the estimate of log P(x | support) named in its column):']
    for info in models:
        if info is None:
            continue
        noise = info.get('num_noise_samples')
        lines.append(
            f'{info["name"]} ({info["type"]}, {info["num_bins"]} levels per sub-pixel, '
            f'D = {info["num_dims"]}{f", S = {noise} noise draws" if noise else ""}):'
        )
        lines += [f'- {e}: {text}.' for e, text in info['estimators'].items()]
    return lines


# ---------------------------------------------------------------------------------------------
# Likelihood-based few-shot classification.


@dataclasses.dataclass(frozen=True)
class Episodes:
    """N-way K-shot episodes as positions: classes `[E, N]`, and within each chosen class the
    support images `[E, N, K]` and query images `[E, N, Q]` (disjoint)."""

    n_way: int
    k_shot: int
    classes: np.ndarray
    support: np.ndarray
    queries: np.ndarray

    @property
    def num_episodes(self) -> int:
        return len(self.classes)


def sample_episodes(
    class_sizes: Sequence[int],
    n_way: int,
    k_shot: int,
    num_episodes: int,
    queries_per_class: int = 1,
    seed: int = 0,
) -> Episodes:
    """Draws episodes; episode `e` depends only on `(seed, n_way, k_shot, queries_per_class, e)`
    and the class sizes, so every model evaluated with the same seed sees the same episodes.

    Raises:
      ValueError: for N < 2 or more than the classes, K < 1, or classes smaller than K + Q.
    """
    n_way = validation.integer(n_way, 'N (ways)', 2)
    k_shot = validation.integer(k_shot, 'K (shots)', 1)
    num_episodes = validation.integer(num_episodes, 'num_episodes', 2)
    queries_per_class = validation.integer(queries_per_class, 'queries_per_class', 1)
    sizes = np.asarray(class_sizes, np.int64)
    if n_way > len(sizes):
        raise ValueError(f'{n_way}-way episodes need {n_way} classes; there are {len(sizes)}.')
    per_class = k_shot + queries_per_class
    if per_class > sizes.min():
        raise ValueError(
            f'{k_shot}-shot episodes with {queries_per_class} queries per class need '
            f'{per_class} images per class; the smallest class has {sizes.min()}.'
        )
    classes, chosen = [], []
    for episode in range(num_episodes):
        rng = np.random.default_rng([seed, n_way, k_shot, queries_per_class, episode])
        picked = rng.choice(len(sizes), n_way, replace=False)
        classes.append(picked)
        chosen.append([rng.choice(sizes[c], per_class, replace=False) for c in picked])
    chosen = np.array(chosen)
    return Episodes(n_way, k_shot, np.array(classes), chosen[..., :k_shot], chosen[..., k_shot:])


def confidence_interval(per_episode_accuracy: Sequence[float]) -> tuple[float, float]:
    """`(mean, half-width)` of the 95% normal interval over episodes: `1.96 * std / sqrt(E)`,
    with the sample standard deviation (ddof=1), the convention of few-shot papers."""
    values = np.asarray(per_episode_accuracy, np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f'need the accuracies of at least 2 episodes; got {values.shape}.')
    return float(values.mean()), float(_Z95 * values.std(ddof=1) / math.sqrt(len(values)))


def classify(
    model: SupportModel,
    class_arrays: Mapping[str, np.ndarray],
    n_way: int,
    k_shot: int,
    *,
    num_episodes: int = 600,
    queries_per_class: int = 1,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """N-way K-shot accuracy of assigning each query to the support set it is most likely under.

    In each episode every query `q` is scored under each of the N support sets with the same
    dequantisation noise (its seed), and predicted as `argmax_n log P(q | support_n)`; each of
    the model's estimators gives its own prediction and accuracy.

    Returns:
      A JSON-ready dict: `n_way`, `k_shot`, `queries_per_class`, `num_episodes`, `seed`,
      `chance` (1/N), `model` (see `describe`), and `accuracy`: `{estimator: {'mean': mean
      accuracy over episodes, 'ci95': half-width of its 95% interval, 'per_episode': [...]}}`.
    """
    _require_support(model, 'few-shot classification')
    batch_size = validation.integer(batch_size, 'batch_size', 1)
    pool = _pool(class_arrays, model.image_shape)
    episodes = sample_episodes(
        pool.counts, n_way, k_shot, num_episodes, queries_per_class, seed=seed
    )
    offsets = pool.offsets[episodes.classes][..., None]  # [E, N, 1]
    support = (offsets + episodes.support).reshape(num_episodes, 1, n_way, k_shot)
    queries = (offsets + episodes.queries).reshape(num_episodes, -1, 1)  # [E, N*Q, 1]
    per_episode = n_way * queries.shape[1]
    # Row (e, query i, candidate n), flattened: query i of episode e under support set n.
    query_rows = np.broadcast_to(queries, (num_episodes, queries.shape[1], n_way)).reshape(-1)
    support_rows = np.broadcast_to(
        support, (num_episodes, queries.shape[1], n_way, k_shot)
    ).reshape(-1, k_shot)
    seeds = _noise_seeds(seed, _CLASSIFY_STREAM, num_episodes * queries.shape[1])
    seed_rows = np.repeat(seeds, n_way)
    progress = _Progress(
        f'{n_way}-way {k_shot}-shot classification', num_episodes, 'episodes', per_episode
    )
    scores = _score_rows(model, pool, query_rows, support_rows, seed_rows, batch_size, progress)
    truth = np.repeat(np.arange(n_way), queries_per_class)  # [N*Q]: query i is of class i // Q
    accuracy = {}
    for estimator, values in scores.items():
        predicted = values.reshape(num_episodes, -1, n_way).argmax(axis=-1)
        correct = (predicted == truth).mean(axis=1)
        mean, ci95 = confidence_interval(correct)
        accuracy[estimator] = {'mean': mean, 'ci95': ci95, 'per_episode': correct.tolist()}
    return {
        'n_way': n_way,
        'k_shot': k_shot,
        'queries_per_class': queries_per_class,
        'num_episodes': num_episodes,
        'seed': seed,
        'chance': 1.0 / n_way,
        'model': describe(model),
        'accuracy': accuracy,
    }


def format_classification_table(results: Sequence[dict]) -> str:
    """A Markdown table of `classify` results: accuracy ± 95% interval per estimator."""
    if not results:
        return ''
    estimators = list(results[0]['accuracy'])
    lines = [
        'Likelihood-based few-shot classification on evaluation classes: accuracy ± 95% '
        'confidence interval over episodes.',
        '',
        '| setting | episodes | chance | ' + ' | '.join(estimators) + ' |',
        '|---' * (len(estimators) + 3) + '|',
    ]
    for result in results:
        cells = []
        for estimator in estimators:
            accuracy = result['accuracy'][estimator]
            cells.append(f'{100 * accuracy["mean"]:.2f}% ± {100 * accuracy["ci95"]:.2f}%')
        lines.append(
            f'| {result["n_way"]}-way {result["k_shot"]}-shot | {result["num_episodes"]} | '
            f'{100 * result["chance"]:.1f}% | ' + ' | '.join(cells) + ' |'
        )
    return '\n'.join(lines)


# ---------------------------------------------------------------------------------------------
# Refined sampling and sample grids.


def refined_sampling(
    model: SupportModel,
    support: np.ndarray,
    num_samples: int,
    rounds: int = 2,
    *,
    temperature: float = 1.0,
    seed: int = 0,
) -> dict:
    """Samples given each support set, adds the samples to the set and samples again.

    Round 1 samples `num_samples` images per set given `support`; round `r` > 1 samples given
    `support` plus every sample of the rounds before, so the set grows by `num_samples` a round.

    Args:
      model: a support-conditioned `SupportModel`.
      support: uint8 `[B, K, H, W, C]`, B support sets.
      num_samples: samples per set and round.
      rounds: sampling rounds, >= 1 (1 = plain sampling). Default value: 2.
      temperature: passed to the model. Default value: 1.0.
      seed: round `r` samples with a seed drawn from `(seed, r)`. Default value: 0.

    Returns:
      `{'support_sizes': [K, K + n, ...] (the set size each round sampled from), 'samples':
      uint8 [rounds, B, n, H, W, C]}`.
    """
    _require_support(model, 'refined sampling')
    num_samples = validation.integer(num_samples, 'num_samples', 1)
    rounds = validation.integer(rounds, 'rounds', 1)
    support = _check_uint8(support, 5, 'support', model.image_shape)
    current, sizes, samples = support, [], []
    for round_index in range(rounds):
        round_seed = int(np.random.default_rng([seed, _SAMPLE_STREAM, round_index]).integers(2**31))
        drawn = model.sample_uint8(
            num_samples, current, None, seed=round_seed, temperature=temperature
        )
        drawn = np.swapaxes(np.asarray(drawn, np.uint8), 0, 1)  # [B, n, H, W, C]
        sizes.append(current.shape[1])
        samples.append(drawn)
        current = np.concatenate([current, drawn], axis=1)
    return {'support_sizes': sizes, 'samples': np.stack(samples)}


def sample_grid(support: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """One support set's grid: its K images in the first row, then one row per sampling round.

    Args:
      support: uint8 `[K, H, W, C]`.
      samples: uint8 `[rounds, n, H, W, C]`.

    Returns:
      uint8 `[height, width, C]`; rows are `max(K, n)` cells wide, short rows padded with black.
    """
    width = max(len(support), samples.shape[1])
    rows = [support, *samples]
    cells = np.zeros((len(rows), width, *support.shape[1:]), np.uint8)
    for index, row in enumerate(rows):
        cells[index, : len(row)] = row
    # Grey separators stay visible on black backgrounds and white ink alike.
    return images.make_grid(cells.reshape(-1, *support.shape[1:]), len(rows), pad_value=128)


# ---------------------------------------------------------------------------------------------
# Everything at once, with files and TensorBoard summaries.


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What `run_evaluation` does; the defaults are the issue's protocol.

    Attributes:
      analyses: any of 'sweep', 'classification', 'sampling'.
      ks: support sizes of the sweep.
      targets_per_class: held-out targets per class in the sweep.
      max_classes: classes in the sweep (drawn with `seed`); 0 = all.
      settings: `(N, K)` pairs of the classification.
      num_episodes: episodes per classification setting.
      queries_per_class: queries per class per episode.
      sample_sets: support sets to sample from (one class each, drawn with `seed`).
      sample_shots: images in each sampling support set.
      samples_per_set: samples per set and round.
      rounds: sampling rounds (1 = no refinement).
      temperature: sampling temperature.
      batch_size: images scored per model call.
      seed: seeds every random choice and all noise.
    """

    analyses: tuple[str, ...] = ANALYSES
    ks: tuple[int, ...] = DEFAULT_KS
    targets_per_class: int = 1
    max_classes: int = 0
    settings: tuple[tuple[int, int], ...] = DEFAULT_SETTINGS
    num_episodes: int = 600
    queries_per_class: int = 1
    sample_sets: int = 4
    sample_shots: int = 5
    samples_per_set: int = 8
    rounds: int = 2
    temperature: float = 1.0
    batch_size: int = 64
    seed: int = 0


def _sampling_sets(pool: _Pool, options: EvalOptions) -> tuple[list[str], np.ndarray]:
    shots = validation.integer(options.sample_shots, 'sample_shots', 1)
    count = min(validation.integer(options.sample_sets, 'sample_sets', 1), len(pool.names))
    if shots > pool.counts.min():
        raise ValueError(
            f'sample_shots={shots} exceeds the images of the smallest class ({pool.counts.min()}).'
        )
    rng = np.random.default_rng([options.seed, _SETS_STREAM])
    classes = np.sort(rng.choice(len(pool.names), count, replace=False))
    support = [
        pool.images[pool.offsets[c] + rng.choice(pool.counts[c], shots, replace=False)]
        for c in classes
    ]
    return [pool.names[c] for c in classes], np.stack(support)


def _file_name(index: int, class_name: str) -> str:
    return f'set{index:02d}_' + re.sub(r'[^A-Za-z0-9_.-]+', '_', class_name) + '.png'


def run_evaluation(
    model: SupportModel,
    class_arrays: Mapping[str, np.ndarray],
    output_dir: str,
    options: EvalOptions = EvalOptions(),
    *,
    baseline: SupportModel | None = None,
    metadata: Mapping[str, object] | None = None,
) -> dict:
    """Runs `options.analyses` and writes their results under `output_dir`.

    Writes `results.json` (every number, with the models' `describe` facts), `summary.md` (the
    tables with the legend of each number), `samples/setNN_<class>.png` (per support set: the
    support row, then one row per sampling round) and TensorBoard events: the NLL vs K curves as
    scalars `nll_nats/<source>/<estimator>` and `bits_per_dim/<source>/<estimator>` with
    step = K (the no-support and baseline values repeated at every K, as reference lines),
    `classification/<N>way_<K>shot/<estimator>` (accuracy), `samples/...` grids and the tables
    as text.

    Args:
      model: a support-conditioned `SupportModel`.
      class_arrays: `{class name: uint8 [n, H, W, C]}` of the evaluation classes.
      output_dir: where the files go (created if missing).
      options: what to run. Default: `EvalOptions()`, the full protocol.
      baseline: an unconditional model to compare with in the sweep. Default value: None.
      metadata: extra facts for `results.json` (workdir, checkpoint, ...). Default value: None.

    Returns:
      The dict written to `results.json`: `model`, `num_classes`, `options`, `metadata`, the
      analyses' results under `sweep`, `classification` (a list, one per setting) and
      `sampling`, and `summary`, the Markdown tables.
    """
    unknown = set(options.analyses) - set(ANALYSES)
    if unknown or not options.analyses:
        raise ValueError(f'analyses must be some of {ANALYSES}; got {options.analyses}.')
    _require_support(model, 'few-shot evaluation')
    pool = _pool(class_arrays, model.image_shape)  # Checks the data before the long runs.
    tf.io.gfile.makedirs(output_dir)
    results = {
        'model': describe(model),
        'num_classes': len(pool.names),
        'options': dataclasses.asdict(options),
        'metadata': dict(metadata or {}),
    }
    tables = []
    writer = tf.summary.create_file_writer(output_dir)
    with writer.as_default():
        if 'sweep' in options.analyses:
            sweep = cardinality_sweep(
                model,
                class_arrays,
                options.ks,
                baseline=baseline,
                targets_per_class=options.targets_per_class,
                max_classes=options.max_classes,
                batch_size=options.batch_size,
                seed=options.seed,
            )
            results['sweep'] = sweep
            tables.append(format_sweep_table(sweep))
            _sweep_summaries(sweep)
        if 'classification' in options.analyses:
            results['classification'] = [
                classify(
                    model,
                    class_arrays,
                    n_way,
                    k_shot,
                    num_episodes=options.num_episodes,
                    queries_per_class=options.queries_per_class,
                    batch_size=options.batch_size,
                    seed=options.seed,
                )
                for n_way, k_shot in options.settings
            ]
            tables.append(format_classification_table(results['classification']))
            for result in results['classification']:
                for estimator, accuracy in result['accuracy'].items():
                    tag = f'classification/{result["n_way"]}way_{result["k_shot"]}shot/{estimator}'
                    tf.summary.scalar(tag, accuracy['mean'], step=0)
        if 'sampling' in options.analyses:
            results['sampling'] = _sample_and_write(model, pool, output_dir, options)
        results['summary'] = '\n\n'.join(tables)
        if tables:
            tf.summary.text('summary', results['summary'], step=0)
    writer.close()
    with tf.io.gfile.GFile(os.path.join(output_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with tf.io.gfile.GFile(os.path.join(output_dir, 'summary.md'), 'w') as f:
        f.write(results['summary'] + '\n')
    return results


def _sweep_summaries(sweep: dict) -> None:
    for row in sweep['conditional']:
        sources = {'conditional': row}
        for source in ('no_support', 'baseline_no_support'):
            if sweep[source] is not None:
                sources[source] = sweep[source]
        for source, values in sources.items():
            for estimator, stats in values.items():
                if estimator == 'k':
                    continue
                tf.summary.scalar(
                    f'nll_nats/{source}/{estimator}', stats['nats_per_image'], step=row['k']
                )
                tf.summary.scalar(
                    f'bits_per_dim/{source}/{estimator}', stats['bits_per_dim'], step=row['k']
                )


def _sample_and_write(
    model: SupportModel, pool: _Pool, output_dir: str, options: EvalOptions
) -> dict:
    names, support = _sampling_sets(pool, options)
    refined = refined_sampling(
        model,
        support,
        options.samples_per_set,
        options.rounds,
        temperature=options.temperature,
        seed=options.seed,
    )
    files = []
    for index, name in enumerate(names):
        grid = sample_grid(support[index], refined['samples'][:, index])
        path = os.path.join(output_dir, 'samples', _file_name(index, name))
        images.write_png(path, grid)
        tf.summary.image(f'samples/{os.path.basename(path)[:-4]}', grid[None], step=0)
        files.append(path)
    return {
        'classes': names,
        'support_sizes': refined['support_sizes'],
        'temperature': options.temperature,
        'files': files,
    }


# ---------------------------------------------------------------------------------------------
# Models from training workdirs.


@dataclasses.dataclass(frozen=True)
class LoadedModel:
    """A model restored from a workdir: its adapter, the run's config, the checkpoint read."""

    adapter: SupportModel
    config: ml_collections.ConfigDict
    checkpoint: str
    step: int


def restore_workdir(
    workdir: str, checkpoint: str | int | None = None, data_path: str = ''
) -> tuple[tf.Module, tasks.Task, str, int]:
    """Rebuilds a `tfglow-train` workdir's model and restores a checkpoint's EMA weights.

    The part of `load_workdir` that does not wrap the model in an adapter, so that models no
    adapter takes (class-conditional PixelCNNs) can be restored too (`tfglow.fewshot_export`).

    Returns:
      `(model, task, checkpoint path, step)`: the model holding the EMA weights, and the run's
      task (its `config` and data `info`).

    Raises:
      FileNotFoundError: without the workdir, its config or the checkpoint.
      ValueError: for an unknown model name, or a checkpoint that does not match.
    """
    if not tf.io.gfile.isdir(workdir):
        raise FileNotFoundError(f'workdir {workdir!r} does not exist.')
    config = config_lib.read_config(workdir)
    if data_path:
        config.data.path = data_path
    # The trainer's task builds the model exactly as it was trained.
    task = tasks.get_task(config)
    path = resolve_checkpoint(workdir, checkpoint)
    model = task.build_model()
    ema = ExponentialMovingAverage(model.trainable_variables, config.ema_decay)
    step = tf.Variable(0, dtype=tf.int64, trainable=False, name='step')
    # The checkpoint also holds the optimizer: only the model, the EMA and the step are read.
    status = tf.train.Checkpoint(model=model, ema=ema, step=step).restore(path)
    try:
        status.expect_partial().assert_existing_objects_matched()
    except (AssertionError, ValueError, tf.errors.OpError) as e:
        raise ValueError(
            f'checkpoint {path} does not match the {config.model.name!r} model built from '
            f'{workdir}/config.json (was the config edited after training?). Details: {e}'
        ) from e
    if not task.is_initialized(model):
        raise ValueError(f'checkpoint {path} holds a model whose data-dependent init never ran.')
    # Evaluate the averaged (Polyak) weights, as training's evaluation does.
    for variable, shadow in zip(model.trainable_variables, ema.shadows, strict=True):
        variable.assign(shadow)
    return model, task, path, int(step.numpy())


def load_workdir(
    workdir: str,
    checkpoint: str | int | None = None,
    num_noise_samples: int = 8,
    data_path: str = '',
) -> LoadedModel:
    """Rebuilds a `tfglow-train` workdir's model and restores a checkpoint's EMA weights.

    Args:
      workdir: the training run's directory (`config.json`, `checkpoints/`, `best/`).
      checkpoint: None or 'latest', 'best', a step, or a path (see
        `tfglow.trained.resolve_checkpoint`).
      num_noise_samples: dequantisation draws per image, for flows. Default value: 8.
      data_path: if set, replaces the run's `config.data.path` (data moved since training).

    Raises:
      FileNotFoundError: without the workdir, its config or the checkpoint.
      ValueError: for an unknown model name, or a checkpoint that does not match.
    """
    model, task, path, step = restore_workdir(workdir, checkpoint, data_path)
    adapter = as_adapter(
        model,
        n_bits=int(task.config.model.n_bits_x),
        num_noise_samples=num_noise_samples,
        name=os.path.basename(os.path.normpath(workdir)),
    )
    return LoadedModel(adapter, task.config, path, step)
