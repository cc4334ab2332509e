"""N-way K-shot classification of new classes with and without latent-space augmentation.

Protocol, the same for every method so that their accuracies are paired:

```none
episodes   tfglow.fewshot.episodes.sample_episodes(class sizes, N, K, E, Q, seed): N classes,
           K support and Q query images each, the same episodes for every method
features   f(x) = the frozen feature extractor (tfglow.augment.features), L2-normalised
'none'     centroid_n = mean of f(support_n)
method     centroid_n = mean of f(support_n) and f(decode(z)) for `num_augmented` latents z made
           from support_n's latents by the method (tfglow.augment.methods)
predict    each query goes to its nearest centroid (Euclidean)
```

Accuracy is the mean over episodes with a 95% interval (`tfglow.fewshot.episodes`'
`confidence_interval`); the difference to 'none' is reported per episode too (paired), whose
interval is tighter.
"""

import dataclasses
from collections.abc import Mapping, Sequence

import numpy as np

from tfglow import validation
from tfglow.augment.features import FeatureExtractor
from tfglow.augment.latent import ClassLatents, LatentCodec
from tfglow.augment.methods import AugmentOptions, BaseStatistics, augment_latents
from tfglow.fewshot.episodes import confidence_interval, sample_episodes
from tfglow.progress import Progress

__all__ = [
    'DEFAULT_SETTINGS',
    'ClassificationOptions',
    'classify_with_augmentation',
    'format_accuracy_table',
    'format_difference_table',
]

DEFAULT_SETTINGS = ((5, 1), (5, 5), (20, 1), (20, 5))
# Seed streams of one evaluation seed: the episodes, and the augmentation noise.
_EPISODE_STREAM, _AUGMENT_STREAM = range(2)


@dataclasses.dataclass(frozen=True)
class ClassificationOptions:
    """What `classify_with_augmentation` runs.

    Attributes:
      settings: `(N, K)` pairs.
      num_episodes: episodes per setting (>= 2).
      queries_per_class: query images per class per episode.
      num_augmented: augmented images per support class.
      episodes_per_chunk: episodes whose augmented images are decoded together.
      seed: episodes and augmentation noise.
    """

    settings: tuple[tuple[int, int], ...] = DEFAULT_SETTINGS
    num_episodes: int = 600
    queries_per_class: int = 10
    num_augmented: int = 5
    episodes_per_chunk: int = 20
    seed: int = 0


def _centroid_accuracy(centroids: np.ndarray, queries: np.ndarray) -> np.ndarray:
    """Per-episode accuracy: `centroids [E, N, F]`, `queries [E, N, Q, F]` (true class n)."""
    distances = np.sum(
        (queries[:, :, :, None, :] - centroids[:, None, None, :, :]) ** 2, axis=-1
    )  # [E, N, Q, N]
    predicted = distances.argmin(axis=-1)
    truth = np.arange(centroids.shape[1])[None, :, None]
    return (predicted == truth).mean(axis=(1, 2))


def classify_with_augmentation(
    codec: LatentCodec,
    extractor: FeatureExtractor,
    targets: ClassLatents,
    target_features: np.ndarray,
    base: BaseStatistics,
    methods: Mapping[str, AugmentOptions],
    options: ClassificationOptions = ClassificationOptions(),
) -> dict:
    """Few-shot accuracy of nearest-centroid classification, without and with each method.

    Args:
      codec: decodes the augmented latents.
      extractor: embeds the decoded images.
      targets: latents of the evaluation classes (their images' rows, class after class).
      target_features: `extractor.embed` of the same images, `[M, F]`, same rows.
      base: statistics of the base classes.
      methods: `{name: AugmentOptions}`; 'none' (no augmentation) is always evaluated first.
      options: settings, episodes, augmentation count.

    Returns:
      `{'options', 'methods': {name: options dict}, 'settings': [{'n_way', 'k_shot',
      'num_episodes', 'queries_per_class', 'chance', 'accuracy': {method: {'mean', 'ci95',
      'per_episode'}}, 'difference': {method: {'mean', 'ci95'}} (vs 'none', per episode)}]}`.
    """
    if len(target_features) != len(targets.latents):
        raise ValueError(
            f'target_features has {len(target_features)} rows; targets has {len(targets.latents)}.'
        )
    if 'none' in methods:
        raise ValueError("'none' is always evaluated; do not pass it as a method.")
    num_augmented = validation.integer(options.num_augmented, 'num_augmented', 1)
    offsets = targets.offsets
    results = []
    for n_way, k_shot in options.settings:
        episodes = sample_episodes(
            targets.counts,
            n_way,
            k_shot,
            options.num_episodes,
            options.queries_per_class,
            seed=options.seed,
        )
        first = offsets[episodes.classes][..., None]
        support_rows = first + episodes.support  # [E, N, K]
        query_rows = first + episodes.queries  # [E, N, Q]
        support_features = target_features[support_rows]  # [E, N, K, F]
        query_features = target_features[query_rows]
        accuracy = {'none': _centroid_accuracy(support_features.mean(axis=2), query_features)}
        for method_index, (name, method) in enumerate(methods.items()):
            progress = Progress(
                f'{n_way}-way {k_shot}-shot, {name}', options.num_episodes, 'episodes'
            )
            per_episode = []
            for start in range(0, options.num_episodes, options.episodes_per_chunk):
                chunk = range(start, min(start + options.episodes_per_chunk, options.num_episodes))
                latents = []
                for e in chunk:
                    for n in range(n_way):
                        latents.append(
                            augment_latents(
                                targets.latents[support_rows[e, n]],
                                base,
                                num_augmented,
                                method,
                                seed=[options.seed, _AUGMENT_STREAM, method_index, n_way]
                                + [k_shot, e, n],
                            )
                        )
                augmented = extractor.embed(codec.decode(np.concatenate(latents)))
                augmented = augmented.reshape(len(chunk), n_way, num_augmented, -1)
                pooled = np.concatenate([support_features[chunk], augmented], axis=2)
                per_episode.append(_centroid_accuracy(pooled.mean(axis=2), query_features[chunk]))
                progress.advance(len(chunk))
            accuracy[name] = np.concatenate(per_episode)
        setting = {
            'n_way': n_way,
            'k_shot': k_shot,
            'num_episodes': options.num_episodes,
            'queries_per_class': options.queries_per_class,
            'chance': 1.0 / n_way,
            'accuracy': {},
            'difference': {},
        }
        for name, values in accuracy.items():
            mean, ci95 = confidence_interval(values)
            setting['accuracy'][name] = {'mean': mean, 'ci95': ci95, 'per_episode': values.tolist()}
            if name != 'none':
                mean, ci95 = confidence_interval(values - accuracy['none'])
                setting['difference'][name] = {'mean': mean, 'ci95': ci95}
        results.append(setting)
    return {
        'options': dataclasses.asdict(options),
        'methods': {name: dataclasses.asdict(method) for name, method in methods.items()},
        'settings': results,
    }


def _settings_table(result: dict, key: str, title: str, names, cell) -> str:
    """Markdown: one row per method name, one column per N-way K-shot setting."""
    settings = result['settings']
    header = [f'{s["n_way"]}-way {s["k_shot"]}-shot' for s in settings]
    lines = [
        f'| {title} | ' + ' | '.join(header) + ' |',
        '|---' * (len(header) + 1) + '|',
    ]
    for name in names:
        lines.append(f'| {name} | ' + ' | '.join(cell(s[key][name]) for s in settings) + ' |')
    return '\n'.join(lines)


def format_accuracy_table(result: dict, methods: Sequence[str] | None = None) -> str:
    """Markdown: one row per method, one column per setting, `acc ± 95% CI` in percent."""
    names = list(methods or result['settings'][0]['accuracy'])
    cell = lambda a: f'{100 * a["mean"]:.2f} ± {100 * a["ci95"]:.2f}'
    return _settings_table(result, 'accuracy', 'method', names, cell)


def format_difference_table(result: dict) -> str:
    """Markdown: each method's paired per-episode difference to 'none', in points, ± 95% CI."""
    names = list(result['settings'][0]['difference'])
    cell = lambda d: f'{100 * d["mean"]:+.2f} ± {100 * d["ci95"]:.2f}'
    return _settings_table(result, 'difference', 'method − none', names, cell)
