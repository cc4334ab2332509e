"""N-way K-shot episodes, and the 95% interval of a per-episode accuracy.

Shared by every few-shot classifier (the likelihood-based `tfglow.fewshot.classification` and the
augmented nearest-centroid `tfglow.augment.evaluate`), so that models and methods evaluated with
the same seed see the same episodes and report the same interval.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np

from tfglow import validation

__all__ = ['Episodes', 'confidence_interval', 'sample_episodes']

# A normal-approximation 95% interval: mean +- 1.96 standard errors.
_Z95 = 1.959963984540054


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
