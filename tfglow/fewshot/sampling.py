"""Sampling given support sets: refined sampling (samples join the set) and the grids shown.

```python
names, support = draw_support_sets(pool, num_sets=4, shots=5, seed=0)
refined = refined_sampling(model, support, num_samples=8, rounds=2)
grid = sample_grid(support[0], refined['samples'][:, 0])   # the first set's PNG:
# one row per round, `support | grey cell | samples`
```
"""

import numpy as np

from tfglow import images, validation
from tfglow.fewshot.adapters import SupportModel, check_uint8, require_support
from tfglow.fewshot.pool import SAMPLE_STREAM, SETS_STREAM, ClassPool

__all__ = ['draw_support_sets', 'refined_sampling', 'sample_grid', 'support_rows_grid']


def draw_support_sets(
    pool: ClassPool, num_sets: int, shots: int, seed: int = 0
) -> tuple[list[str], np.ndarray]:
    """`num_sets` support sets of `shots` images, each of one class, drawn with `seed`.

    Args:
      pool: the evaluation classes.
      num_sets: sets to draw, one class each (at most one per class: capped at the classes).
      shots: images per set.
      seed: the evaluation seed. Default value: 0.

    Returns:
      `(class names, support uint8 [num_sets, shots, H, W, C])`, classes in pool order.
    """
    shots = validation.integer(shots, 'sample_shots', 1)
    count = min(validation.integer(num_sets, 'sample_sets', 1), len(pool.names))
    if shots > pool.counts.min():
        raise ValueError(
            f'sample_shots={shots} exceeds the images of the smallest class ({pool.counts.min()}).'
        )
    rng = np.random.default_rng([seed, SETS_STREAM])
    classes = np.sort(rng.choice(len(pool.names), count, replace=False))
    support = [
        pool.images[pool.offsets[c] + rng.choice(pool.counts[c], shots, replace=False)]
        for c in classes
    ]
    return [pool.names[c] for c in classes], np.stack(support)


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
    require_support(model, 'refined sampling')
    num_samples = validation.integer(num_samples, 'num_samples', 1)
    rounds = validation.integer(rounds, 'rounds', 1)
    support = check_uint8(support, 5, 'support', model.image_shape)
    current, sizes, samples = support, [], []
    for round_index in range(rounds):
        round_seed = int(np.random.default_rng([seed, SAMPLE_STREAM, round_index]).integers(2**31))
        drawn = model.sample_uint8(
            num_samples, current, None, seed=round_seed, temperature=temperature
        )
        drawn = np.swapaxes(np.asarray(drawn, np.uint8), 0, 1)  # [B, n, H, W, C]
        sizes.append(current.shape[1])
        samples.append(drawn)
        current = np.concatenate([current, drawn], axis=1)
    return {'support_sizes': sizes, 'samples': np.stack(samples)}


def sample_grid(support: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """One support set's grid: per sampling round, a row of the K support images, a grey
    separator cell, then that round's samples.

    Args:
      support: uint8 `[K, H, W, C]`.
      samples: uint8 `[rounds, n, H, W, C]`.

    Returns:
      uint8 `[rounds * (H + 1) + 1, (K + 1 + n) * (W + 1) + 1, C]`.
    """
    return support_rows_grid(np.broadcast_to(support, (len(samples), *support.shape)), samples)


def support_rows_grid(support: np.ndarray, samples: np.ndarray) -> np.ndarray:
    """Rows of `support | separator | samples`: row r shows support set r beside its samples.

    Args:
      support: uint8 `[R, K, H, W, C]`.
      samples: uint8 `[R, n, H, W, C]`.

    Returns:
      uint8 `[R * (H + 1) + 1, (K + 1 + n) * (W + 1) + 1, C]`.
    """
    # A mid-grey cell (and grey padding) stays visible on black backgrounds and white ink alike.
    separator = np.full_like(support[:, :1], 128)
    cells = np.concatenate([support, separator, samples], axis=1)
    return images.make_grid(cells.reshape(-1, *cells.shape[2:]), len(cells), pad_value=128)
