"""The cardinality sweep: NLL of held-out images given K = 1, 2, 5, ... images of their class.

Every target is scored at each K with nested support sets (K=1 in K=2 in ...), with no support,
and by an optional unconditional baseline, all with the target's own dequantisation noise, so
the differences between them are paired target by target.

```python
class_arrays = data.load_class_arrays(config.data, 'test')    # {class: uint8 [20, 28, 28, 1]}
sweep = cardinality_sweep(model, class_arrays, ks=(1, 5))
print(format_sweep_table(sweep))
```
"""

import math
from collections.abc import Mapping, Sequence

import numpy as np
from absl import logging

from tfglow import validation
from tfglow.fewshot.adapters import SupportModel, describe, require_support
from tfglow.fewshot.pool import SWEEP_STREAM, class_pool, noise_seeds, score_rows
from tfglow.progress import Progress

__all__ = ['DEFAULT_KS', 'cardinality_sweep', 'format_sweep_table', 'paired_gain']

DEFAULT_KS = (1, 2, 5, 10, 19)


def paired_gain(reference: np.ndarray, log_probs: np.ndarray) -> dict:
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
    require_support(model, 'the cardinality sweep')
    if baseline is not None:
        _check_baseline(model, baseline)
    ks = sorted({validation.integer(k, 'every K', 1) for k in ks})
    if not ks:
        raise ValueError('ks holds no support size.')
    targets_per_class = validation.integer(targets_per_class, 'targets_per_class', 1)
    max_classes = validation.integer(max_classes, 'max_classes', 0)
    batch_size = validation.integer(batch_size, 'batch_size', 1)
    pool = class_pool(class_arrays, model.image_shape)
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
        rng = np.random.default_rng([seed, SWEEP_STREAM])
        classes = np.sort(rng.choice(classes, max_classes, replace=False))
    targets, others = [], []
    for c in classes:
        rng = np.random.default_rng([seed, SWEEP_STREAM, int(c)])
        count, offset = int(pool.counts[c]), int(pool.offsets[c])
        for target in rng.choice(count, targets_per_class, replace=False):
            rest = rng.permutation(np.delete(np.arange(count), target))
            targets.append(offset + target)
            others.append(offset + rest[: ks[-1]])
    targets, others = np.array(targets), np.stack(others)
    seeds = noise_seeds(seed, SWEEP_STREAM, len(targets))
    num_dims = math.prod(model.image_shape)

    passes = len(ks) + 1 + (baseline is not None)
    progress = Progress('cardinality sweep', passes * len(targets), 'target images scored')
    by_k = {
        k: score_rows(model, pool, targets, others[:, :k], seeds, batch_size, progress) for k in ks
    }
    conditional = [
        {'k': k, **{e: _summary(v, num_dims) for e, v in scores.items()}}
        for k, scores in by_k.items()
    ]
    no_support = score_rows(model, pool, targets, None, seeds, batch_size, progress)
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
        baseline_scores = score_rows(baseline, pool, targets, None, seeds, batch_size, progress)
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
                    name: paired_gain(reference[e], values)
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
        dequantization = info.get('dequantization')
        lines.append(
            f'{info["name"]} ({info["type"]}, {info["num_bins"]} levels per sub-pixel, '
            f'D = {info["num_dims"]}{f", S = {noise} noise draws" if noise else ""}'
            f'{f", {dequantization} dequantisation" if dequantization else ""}):'
        )
        lines += [f'- {e}: {text}.' for e, text in info['estimators'].items()]
    return lines
