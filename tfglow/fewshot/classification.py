"""Likelihood-based N-way K-shot classification: each query goes to its most likely support set.

```python
result = classify(model, class_arrays, n_way=5, k_shot=1, num_episodes=600)
print(format_classification_table([result]))
```
"""

from collections.abc import Mapping, Sequence

import numpy as np

from tfglow import validation
from tfglow.fewshot.adapters import SupportModel, describe, require_support
from tfglow.fewshot.episodes import (
    check_episode_classes,
    confidence_interval,
    sample_episodes,
)
from tfglow.fewshot.pool import CLASSIFY_STREAM, class_pool, noise_seeds, score_rows
from tfglow.progress import Progress

__all__ = ['DEFAULT_SETTINGS', 'classify', 'format_classification_table']

DEFAULT_SETTINGS = ((5, 1), (5, 5), (20, 1), (20, 5))


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
    episode_classes: str = 'cross_alphabet',
) -> dict:
    """N-way K-shot accuracy of assigning each query to the support set it is most likely under.

    `episode_classes`: 'cross_alphabet' draws each episode's N classes from all classes,
    'within_alphabet' all N from one group of classes (alphabet); see `tfglow.fewshot.episodes`.

    In each episode every query `q` is scored under each of the N support sets with the same
    dequantisation noise (its seed), and predicted as `argmax_n log P(q | support_n)`; each of
    the model's estimators gives its own prediction and accuracy.

    Returns:
      A JSON-ready dict: `n_way`, `k_shot`, `episode_classes`, `groups_skipped` (groups with
      fewer than N classes, within-alphabet only), `queries_per_class`, `num_episodes`, `seed`,
      `chance` (1/N), `model` (see `describe`), and `accuracy`: `{estimator: {'mean': mean
      accuracy over episodes, 'ci95': half-width of its 95% interval, 'per_episode': [...]}}`.
    """
    require_support(model, 'few-shot classification')
    batch_size = validation.integer(batch_size, 'batch_size', 1)
    within = check_episode_classes(episode_classes) == 'within_alphabet'
    pool = class_pool(class_arrays, model.image_shape)
    episodes = sample_episodes(
        pool.counts,
        n_way,
        k_shot,
        num_episodes,
        queries_per_class,
        seed=seed,
        groups=pool.groups if within else None,
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
    seeds = noise_seeds(seed, CLASSIFY_STREAM, num_episodes * queries.shape[1])
    seed_rows = np.repeat(seeds, n_way)
    progress = Progress(
        f'{n_way}-way {k_shot}-shot {episode_classes} classification',
        num_episodes,
        'episodes',
        per_episode,
    )
    scores = score_rows(model, pool, query_rows, support_rows, seed_rows, batch_size, progress)
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
        'episode_classes': episode_classes,
        'groups_skipped': episodes.groups_skipped,
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
        '| setting | classes | episodes | chance | ' + ' | '.join(estimators) + ' |',
        '|---' * (len(estimators) + 4) + '|',
    ]
    for result in results:
        cells = []
        for estimator in estimators:
            accuracy = result['accuracy'][estimator]
            cells.append(f'{100 * accuracy["mean"]:.2f}% ± {100 * accuracy["ci95"]:.2f}%')
        lines.append(
            f'| {result["n_way"]}-way {result["k_shot"]}-shot | {_classes(result)} | '
            f'{result["num_episodes"]} | '
            f'{100 * result["chance"]:.1f}% | ' + ' | '.join(cells) + ' |'
        )
    return '\n'.join(lines)


def _classes(result: dict) -> str:
    """The table's 'classes' cell: where the episode's classes come from."""
    if result['episode_classes'] != 'within_alphabet':
        return 'any alphabet'
    skipped = result['groups_skipped']
    return 'one alphabet' + (f' ({skipped} alphabets too small)' if skipped else '')
