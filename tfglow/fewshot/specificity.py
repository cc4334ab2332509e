"""The specificity gap: how much better a target scores under its own class's support set than
under the support set of a similar class (another character of the same alphabet).

```none
gap(K) = mean over targets x of  log P(x | K images of x's class) - log P(x | K images of c')
```

with `c'` another class of the target's group (`tfglow.data.episodic.other_classes`: Omniglot's
alphabet; any other class where the target's class is alone in its group), both scored with the
target's own dequantisation noise, so the difference is paired target by target. A model that
reads only the ink density or style of the support has a gap near 0 even when the support is
worth many nats over no support; likelihood classification within an alphabet needs a large gap.

```python
result = specificity_gap(model, class_arrays, ks=(1, 5))
print(format_specificity_table(result))
```
"""

from collections.abc import Mapping, Sequence

import numpy as np

from tfglow import validation
from tfglow.data.episodic import other_classes
from tfglow.fewshot.adapters import SupportModel, describe, require_support
from tfglow.fewshot.pool import SPECIFICITY_STREAM, class_pool, noise_seeds, score_rows
from tfglow.fewshot.sweep import DEFAULT_KS, paired_gain
from tfglow.progress import Progress

__all__ = ['format_specificity_table', 'specificity_gap']


def specificity_gap(
    model: SupportModel,
    class_arrays: Mapping[str, np.ndarray],
    ks: Sequence[int] = DEFAULT_KS,
    *,
    targets_per_class: int = 1,
    max_classes: int = 0,
    batch_size: int = 64,
    seed: int = 0,
) -> dict:
    """The specificity gap at K = 1 and each of `ks` (see the module docstring).

    For each class (all, or `max_classes` drawn with `seed`), `targets_per_class` targets are
    drawn, each with an order of its class's other images and of the images of one other class
    `c'`; the support sets at size K are the first K of each order (nested over K).

    Returns:
      A JSON-ready dict: `model`, `relation` (where `c'` comes from: 'same alphabet', 'same
      alphabet, else any other class' or 'any other class'), `num_classes`, `num_targets`,
      `targets_per_class`, `seed`, `ks`, and `rows`: one per K, `{'k': K, estimator:
      {'nats_per_image': mean gap, 'stderr': its standard error over targets, 'win_rate': the
      share of targets scored higher under their own support}}`.

    Raises:
      ValueError: for a model without support, fewer than 2 classes, or classes too small.
    """
    require_support(model, 'the specificity gap')
    ks = sorted({1, *(validation.integer(k, 'every K', 1) for k in ks)})
    targets_per_class = validation.integer(targets_per_class, 'targets_per_class', 1)
    max_classes = validation.integer(max_classes, 'max_classes', 0)
    batch_size = validation.integer(batch_size, 'batch_size', 1)
    pool = class_pool(class_arrays, model.image_shape)
    others, num_others = other_classes(pool.names)
    smallest = int(pool.counts.min())
    if ks[-1] + 1 > smallest or targets_per_class > smallest:
        raise ValueError(
            f'the specificity gap at K={ks[-1]} with {targets_per_class} targets per class needs '
            f'{max(ks[-1] + 1, targets_per_class)} images per class; the smallest class has '
            f'{smallest}.'
        )
    classes = np.arange(len(pool.names))
    if max_classes and max_classes < len(classes):
        rng = np.random.default_rng([seed, SPECIFICITY_STREAM])
        classes = np.sort(rng.choice(classes, max_classes, replace=False))
    targets, own, other, same_group = [], [], [], []
    groups = pool.groups
    for c in classes:
        rng = np.random.default_rng([seed, SPECIFICITY_STREAM, int(c)])
        count, offset = int(pool.counts[c]), int(pool.offsets[c])
        for target in rng.choice(count, targets_per_class, replace=False):
            rest = rng.permutation(np.delete(np.arange(count), target))
            o = int(others[c, rng.integers(num_others[c])])
            targets.append(offset + target)
            own.append(offset + rest[: ks[-1]])
            other.append(pool.offsets[o] + rng.permutation(pool.counts[o])[: ks[-1]])
            same_group.append(bool(groups[c]) and groups[o] == groups[c])
    targets, own, other = np.array(targets), np.stack(own), np.stack(other)
    seeds = noise_seeds(seed, SPECIFICITY_STREAM, len(targets))
    progress = Progress('specificity gap', 2 * len(ks) * len(targets), 'target images scored')
    rows = []
    for k in ks:
        right = score_rows(model, pool, targets, own[:, :k], seeds, batch_size, progress)
        wrong = score_rows(model, pool, targets, other[:, :k], seeds, batch_size, progress)
        row = {'k': k}
        for estimator, values in right.items():
            row[estimator] = {
                **paired_gain(wrong[estimator], values),
                'win_rate': float(np.mean(values > wrong[estimator])),
            }
        rows.append(row)
    relation = (
        'same alphabet'
        if all(same_group)
        else 'any other class'
        if not any(same_group)
        else 'same alphabet, else any other class'
    )
    return {
        'model': describe(model),
        'relation': relation,
        'num_classes': len(classes),
        'num_targets': len(targets),
        'targets_per_class': targets_per_class,
        'seed': seed,
        'ks': ks,
        'rows': rows,
    }


def format_specificity_table(result: dict) -> str:
    """A Markdown table of a `specificity_gap` result, with what its numbers mean."""
    estimators = list(result['model']['estimators'])
    lines = [
        f'Specificity gap on {result["num_targets"]} targets of {result["num_classes"]} '
        f'evaluation classes, {result["model"]["name"]}: log P(x | K images of its class) - '
        f'log P(x | K images of another class, {result["relation"]}), nats/image ± standard '
        'error (paired: same targets and noise); in brackets, the share of targets that score '
        'higher under their own class. Near 0: the model does not use which character the '
        'support shows.',
        '',
        '| K | ' + ' | '.join(estimators) + ' |',
        '|---' * (len(estimators) + 1) + '|',
    ]
    for row in result['rows']:
        cells = []
        for estimator in estimators:
            gap = row[estimator]
            error = '' if gap['stderr'] is None else f' ± {gap["stderr"]:.2f}'
            cells.append(f'{gap["nats_per_image"]:+.2f}{error} ({100 * gap["win_rate"]:.0f}%)')
        lines.append(f'| {row["k"]} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
