"""What the augmentation report runs (`ReportOptions`) and which report each dataset gets."""

import dataclasses

from tfglow.augment import evaluate, features, hypotheses

__all__ = [
    'DATASET_MODES',
    'DEFAULT_OPTIONS',
    'FLAT_POOL_SIZES',
    'HYPOTHESES_DEFAULT_OPTIONS',
    'ReportOptions',
    'report_mode',
]

# config.data.name -> the report it supports: 'full' (alphabets, evaluation classes: Omniglot) or
# 'hypotheses' (one category of a few classes: both hypotheses only, see run_hypotheses_report).
DATASET_MODES = {'omniglot': 'full', 'fashion_mnist': 'hypotheses'}
# Hypothesis 1's pool sizes for a 10-class set (10: every class, so no 'all').
FLAT_POOL_SIZES = (1, 2, 5, 10)


@dataclasses.dataclass(frozen=True)
class ReportOptions:
    """What the report runs; the defaults are the full protocol.

    Attributes:
      episodes: episodes per classification setting.
      max_classes: base and evaluation classes used, each drawn with `seed`; 0 = all.
      settings: `(N, K)` classification settings.
      queries_per_class: query images per class and episode.
      num_augmented: augmented images per support class.
      strength: augmentation strength of every method.
      relation: related base classes of the methods ('nearest' or 'all').
      num_related: nearest base classes.
      pool_sizes: hypothesis 1's numbers of pooled classes.
      num_projections: hypothesis 1's random directions per pool.
      sets_per_size: hypothesis 1's pools per size.
      h2_classes: evaluation classes of hypothesis 2 (0 = all).
      h2_draws: K-subsets per class and K in hypothesis 2.
      ks: hypothesis 2's shot counts.
      sweep_strengths: strengths of the strength sweep (none: no sweep).
      sweep_settings: `(N, K)` settings of the sweep.
      sweep_episodes: episodes per setting and strength of the sweep (with seed `seed + 1`, so
        other episodes than the main table's).
      feature_options: the feature extractor.
      images_per_class: images per class used by `run_hypotheses_report`, drawn with `seed`
        (0 = all).
      seed: every random choice.
    """

    episodes: int = 600
    max_classes: int = 0
    settings: tuple[tuple[int, int], ...] = evaluate.DEFAULT_SETTINGS
    queries_per_class: int = 10
    num_augmented: int = 5
    strength: float = 1.0
    relation: str = 'nearest'
    num_related: int = 10
    pool_sizes: tuple = hypotheses.DEFAULT_POOL_SIZES
    num_projections: int = 200
    sets_per_size: int = 10
    h2_classes: int = 200
    h2_draws: int = 2
    ks: tuple[int, ...] = hypotheses.DEFAULT_KS
    sweep_strengths: tuple[float, ...] = (0.25, 0.5, 1.0)
    sweep_settings: tuple[tuple[int, int], ...] = ((5, 1), (5, 5))
    sweep_episodes: int = 100
    feature_options: features.FeatureOptions = features.FeatureOptions()
    images_per_class: int = 0
    seed: int = 0


# The defaults of run_report (the full protocol) and of run_hypotheses_report (10 classes).
DEFAULT_OPTIONS = ReportOptions()
HYPOTHESES_DEFAULT_OPTIONS = ReportOptions(pool_sizes=FLAT_POOL_SIZES, num_related=3)


def report_mode(data_name: str) -> str:
    """'full' or 'hypotheses': the report a run on `config.data.name` supports.

    Raises:
      ValueError: for data without a supported report, naming the supported ones.
    """
    if data_name not in DATASET_MODES:
        supported = ', '.join(f'{name} ({mode})' for name, mode in DATASET_MODES.items())
        raise ValueError(
            f'no augmentation report for data {data_name!r}: supported are {supported}; for '
            'other labelled data name the report (tfglow-augment-report --mode).'
        )
    return DATASET_MODES[data_name]
