"""N-way K-shot episodes, and the 95% interval of a per-episode accuracy.

Shared by every few-shot classifier (the likelihood-based `tfglow.fewshot.classification` and the
augmented nearest-centroid `tfglow.augment.evaluate`), so that models and methods evaluated with
the same seed see the same episodes and report the same interval.

Episodes draw their N classes from all classes ('cross_alphabet', the usual protocol) or all N
from one group of classes ('within_alphabet': Omniglot's groups are its alphabets, see
`tfglow.data.episodic.group_of`), where telling similar characters apart is what counts.
"""

import dataclasses
import math
from collections.abc import Sequence

import numpy as np
from absl import logging

from tfglow import validation

__all__ = [
    'EPISODE_CLASSES',
    'Episodes',
    'check_episode_classes',
    'confidence_interval',
    'sample_episodes',
]

# Where an episode's N classes come from: any classes, or one group (alphabet) of classes.
EPISODE_CLASSES = ('cross_alphabet', 'within_alphabet')

# A normal-approximation 95% interval: mean +- 1.96 standard errors.
_Z95 = 1.959963984540054


@dataclasses.dataclass(frozen=True)
class Episodes:
    """N-way K-shot episodes as positions: classes `[E, N]`, and within each chosen class the
    support images `[E, N, K]` and query images `[E, N, Q]` (disjoint); for within-group
    episodes, `groups_skipped` counts the groups with fewer than N classes."""

    n_way: int
    k_shot: int
    classes: np.ndarray
    support: np.ndarray
    queries: np.ndarray
    groups_skipped: int = 0

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
    groups: Sequence[str] | None = None,
) -> Episodes:
    """Draws episodes; episode `e` depends only on `(seed, n_way, k_shot, queries_per_class, e)`
    and the class sizes (and groups), so every model evaluated with the same seed sees the same
    episodes.

    Args:
      class_sizes: images of each class.
      n_way, k_shot, num_episodes, queries_per_class: N, K, E and Q.
      seed: the evaluation seed. Default value: 0.
      groups: None for classes drawn from all classes; else each class's group, and every
        episode first draws one group (uniformly among those with at least N classes; the
        others are skipped and counted, with a log line), then its N classes from that group.

    Raises:
      ValueError: for N < 2 or more than the classes, K < 1, classes smaller than K + Q, or
        groups of which none has N classes.
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
    members, skipped = _group_members(groups, len(sizes), n_way)
    classes, chosen = [], []
    for episode in range(num_episodes):
        rng = np.random.default_rng([seed, n_way, k_shot, queries_per_class, episode])
        if members is None:
            picked = rng.choice(len(sizes), n_way, replace=False)
        else:
            picked = rng.choice(members[rng.integers(len(members))], n_way, replace=False)
        classes.append(picked)
        chosen.append([rng.choice(sizes[c], per_class, replace=False) for c in picked])
    chosen = np.array(chosen)
    return Episodes(
        n_way, k_shot, np.array(classes), chosen[..., :k_shot], chosen[..., k_shot:], skipped
    )


def check_episode_classes(episode_classes: str) -> str:
    """`episode_classes` if it is one of `EPISODE_CLASSES`, else a ValueError listing them."""
    if episode_classes not in EPISODE_CLASSES:
        raise ValueError(
            f'episode classes must be one of {", ".join(EPISODE_CLASSES)}; got {episode_classes!r}.'
        )
    return episode_classes


def _group_members(
    groups: Sequence[str] | None, num_classes: int, n_way: int
) -> tuple[list[np.ndarray] | None, int]:
    """The classes of each group with at least N classes (None: no groups), and the skipped
    groups' count."""
    if groups is None:
        return None, 0
    groups = np.asarray(groups)
    if len(groups) != num_classes:
        raise ValueError(f'got {len(groups)} groups for {num_classes} classes.')
    names, counts = np.unique(groups, return_counts=True)
    members = [np.flatnonzero(groups == g) for g, n in zip(names, counts) if n >= n_way]
    skipped = int((counts < n_way).sum())
    if not members:
        raise ValueError(
            f'{n_way}-way within-group episodes need a group (alphabet) of {n_way} classes; the '
            f'largest of the {len(names)} groups has {counts.max()}.'
        )
    if skipped:
        logging.info(
            '%d-way within-group episodes: %d of %d groups have fewer than %d classes and are '
            'skipped.',
            n_way,
            skipped,
            len(names),
            n_way,
        )
    return members, skipped


def confidence_interval(per_episode_accuracy: Sequence[float]) -> tuple[float, float]:
    """`(mean, half-width)` of the 95% normal interval over episodes: `1.96 * std / sqrt(E)`,
    with the sample standard deviation (ddof=1), the convention of few-shot papers."""
    values = np.asarray(per_episode_accuracy, np.float64)
    if values.ndim != 1 or len(values) < 2:
        raise ValueError(f'need the accuracies of at least 2 episodes; got {values.shape}.')
    return float(values.mean()), float(_Z95 * values.std(ddof=1) / math.sqrt(len(values)))
