"""Sample fidelity: do samples drawn given a support set show the support's class?

```none
episode:   N classes (one alphabet, or any), K support images and the other real images of each
features:  f = a fixed classifier's features, trained on the base (background) classes only
           (`tfglow.augment.features`), never on the evaluation classes
centroid:  m_n = mean_k f(support_n,k)
rate:      share of images of class n whose nearest centroid (Euclidean) is m_n
           samples: drawn given support set n;  real: the held-out real images of class n
```

The real images' rate is what the features can tell apart at all; a generator whose samples are
its support's class reaches about the same rate, one that draws plausible strokes of the wrong
character about chance (1/N). Reported per sampling temperature (models that have one), the best
marked.

```python
extractor, _ = features.load_or_train(cache_dir, base_class_arrays)
result, grids = sample_fidelity(model, class_arrays, extractor.embed, n_way=20, shots=5)
print(format_fidelity_table(result))
```
"""

import time
from collections.abc import Callable, Mapping, Sequence

import numpy as np

from tfglow import validation
from tfglow.fewshot.adapters import SupportModel, describe, require_support
from tfglow.fewshot.episodes import check_episode_classes, confidence_interval, sample_episodes
from tfglow.fewshot.pool import FIDELITY_STREAM, class_pool
from tfglow.fewshot.sampling import support_rows_grid
from tfglow.progress import Progress

__all__ = ['format_fidelity_table', 'own_class_rate', 'sample_fidelity']


def own_class_rate(support_features: np.ndarray, features: np.ndarray) -> float:
    """The share of `features[n]` whose nearest support centroid is class n's.

    Args:
      support_features: float `[N, K, D]`, the support images' features.
      features: float `[N, M, D]`, M images attributed to each class.
    """
    centroids = support_features.mean(axis=1)  # [N, D]
    distances = np.linalg.norm(features[:, :, None] - centroids[None, None], axis=-1)
    return float(np.mean(distances.argmin(axis=-1) == np.arange(len(centroids))[:, None]))


def sample_fidelity(
    model: SupportModel,
    class_arrays: Mapping[str, np.ndarray],
    embed: Callable[[np.ndarray], np.ndarray],
    *,
    n_way: int = 20,
    shots: int = 5,
    samples_per_set: int = 8,
    num_episodes: int = 10,
    episode_classes: str = 'within_alphabet',
    temperatures: Sequence[float] = (1.0,),
    seed: int = 0,
) -> tuple[dict, dict[float, np.ndarray]]:
    """Own-class rates of samples and of held-out real images (see the module docstring).

    Args:
      model: a support-conditioned `SupportModel`; it is sampled at each of `temperatures` if its
        `samples_with_temperature` is True, else at 1 only.
      class_arrays: `{class name: uint8 [n, H, W, C]}` of the evaluation classes.
      embed: uint8 images `[M, H, W, C]` -> features `[M, D]`, e.g. `FeatureExtractor.embed`.
      n_way: classes per episode. Default value: 20.
      shots: support images per class (K). Default value: 5.
      samples_per_set: samples per support set. Default value: 8.
      num_episodes: episodes, >= 2. Default value: 10.
      episode_classes: 'within_alphabet' (default) or 'cross_alphabet'.
      temperatures: sampling temperatures; 1 is always included. Default value: (1.0,).
      seed: episodes and sampling seeds. Default value: 0.

    Returns:
      `(result, grids)`: `result` is JSON-ready: `model`, `n_way`, `shots`, `samples_per_set`,
      `num_episodes`, `episode_classes`, `groups_skipped`, `chance`, `real_images_per_class`,
      `real_rate` `{'mean', 'ci95'}` (95% interval over episodes), `rows`: one per temperature
      `{'temperature', 'mean', 'ci95', 'ratio_to_real', 'images_per_second'}` (sampling
      throughput, the first episode left out: it traces), `best_temperature` (the highest
      sample rate); `grids`: per temperature, uint8 rows `support | samples` of the first
      episode (`tfglow.fewshot.sampling.support_rows_grid`).
    """
    require_support(model, 'sample fidelity')
    within = check_episode_classes(episode_classes) == 'within_alphabet'
    samples_per_set = validation.integer(samples_per_set, 'samples_per_set', 1)
    if getattr(model, 'samples_with_temperature', False):
        temperatures = sorted({1.0, *(float(t) for t in temperatures)})
    else:
        temperatures = [1.0]
    pool = class_pool(class_arrays, model.image_shape)
    shots = validation.integer(shots, 'shots', 1)
    # Every image of a class that is not in its support is a held-out real image.
    held_out = int(pool.counts.min()) - shots
    if held_out < 1:
        raise ValueError(
            f'sample fidelity with {shots} shots needs {shots + 1} images per class; the smallest '
            f'class has {pool.counts.min()}.'
        )
    episodes = sample_episodes(
        pool.counts,
        n_way,
        shots,
        num_episodes,
        held_out,
        seed=seed,
        groups=pool.groups if within else None,
    )
    offsets = pool.offsets[episodes.classes][..., None]  # [E, N, 1]
    support_rows, real_rows = offsets + episodes.support, offsets + episodes.queries
    real_rates, sample_rates, grids = [], np.zeros((len(temperatures), num_episodes)), {}
    # Sampling throughput leaves out the first episode, which traces the model's functions
    # (unless it is the only one).
    timed = range(1 if num_episodes > 1 else 0, num_episodes)
    sampling_seconds = np.zeros(len(temperatures))
    progress = Progress('sample fidelity', num_episodes, 'episodes', len(temperatures))
    for e in range(num_episodes):
        support = pool.images[support_rows[e]]  # [N, K, H, W, C]
        support_features = _embed(embed, support)
        real_rates.append(
            own_class_rate(support_features, _embed(embed, pool.images[real_rows[e]]))
        )
        for t, temperature in enumerate(temperatures):
            sample_seed = int(np.random.default_rng([seed, FIDELITY_STREAM, e, t]).integers(2**31))
            start = time.perf_counter()
            drawn = model.sample_uint8(
                samples_per_set, support, None, seed=sample_seed, temperature=temperature
            )
            if e in timed:
                sampling_seconds[t] += time.perf_counter() - start
            drawn = np.swapaxes(np.asarray(drawn, np.uint8), 0, 1)  # [N, n, H, W, C]
            sample_rates[t, e] = own_class_rate(support_features, _embed(embed, drawn))
            if e == 0:
                grids[temperature] = support_rows_grid(support, drawn)
            progress.advance(1)
    real_mean, real_ci95 = confidence_interval(real_rates)
    rows = []
    images_timed = len(timed) * n_way * samples_per_set
    for temperature, rates, seconds in zip(
        temperatures, sample_rates, sampling_seconds, strict=True
    ):
        mean, ci95 = confidence_interval(rates)
        ratio = mean / real_mean if real_mean > 0 else None
        rows.append(
            {
                'temperature': temperature,
                'mean': mean,
                'ci95': ci95,
                'ratio_to_real': ratio,
                'images_per_second': images_timed / seconds if seconds > 0 else None,
            }
        )
    best = max(rows, key=lambda row: row['mean'])['temperature']
    result = {
        'model': describe(model),
        'n_way': n_way,
        'shots': shots,
        'samples_per_set': samples_per_set,
        'num_episodes': num_episodes,
        'episode_classes': episode_classes,
        'groups_skipped': episodes.groups_skipped,
        'seed': seed,
        'chance': 1.0 / n_way,
        'real_images_per_class': held_out,
        'real_rate': {'mean': real_mean, 'ci95': real_ci95},
        'rows': rows,
        'best_temperature': best,
    }
    return result, grids


def _embed(embed, images: np.ndarray) -> np.ndarray:
    """Features of images `[N, M, H, W, C]`, as `[N, M, D]`."""
    features = np.asarray(embed(images.reshape(-1, *images.shape[2:])), np.float64)
    return features.reshape(*images.shape[:2], -1)


def format_fidelity_table(result: dict) -> str:
    """A Markdown table of a `sample_fidelity` result, with what its numbers mean."""
    classes = 'one alphabet' if result['episode_classes'] == 'within_alphabet' else 'any alphabet'
    real = result['real_rate']
    lines = [
        f'Sample fidelity, {result["n_way"]}-way {result["shots"]}-shot episodes (classes from '
        f'{classes}, {result["num_episodes"]} episodes, {result["samples_per_set"]} samples per '
        'support set): the share of samples whose nearest support-class centroid, in the '
        'features of a classifier trained on the background classes only, is their own '
        f'class ± 95% interval. Held-out real images of the same classes: '
        f'{100 * real["mean"]:.1f}% ± {100 * real["ci95"]:.1f}% '
        f'({result["real_images_per_class"]} per class); chance {100 * result["chance"]:.1f}%.',
        '',
        '| temperature | samples | samples / real | sampling images/s |',
        '|---|---|---|---|',
    ]
    for row in result['rows']:
        best = ' (best)' if row['temperature'] == result['best_temperature'] else ''
        ratio = '' if row['ratio_to_real'] is None else f'{row["ratio_to_real"]:.2f}'
        speed = row.get('images_per_second')
        lines.append(
            f'| {row["temperature"]:g}{best} | {100 * row["mean"]:.1f}% ± '
            f'{100 * row["ci95"]:.1f}% | {ratio} | {"" if speed is None else f"{speed:.1f}"} |'
        )
    return '\n'.join(lines)
