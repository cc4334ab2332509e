"""The augmentation report: both hypotheses and the few-shot accuracy table, in one run.

`run_report` encodes the base (Omniglot background) and evaluation classes with a `LatentCodec`,
then writes to `output_dir`:

```none
report.md              the results in words and tables, with where the hypotheses fail
results.json           every number (and the options)
h1_normality.png       hypothesis 1: distance to normality of pooled deviations vs classes pooled
h2_errors.png          hypothesis 2: K-shot mean / variance / covariance errors vs K
augment_examples.png   support images and augmented images of a few evaluation classes
latents_cache.npz      the encoded images (reused when the checkpoint and classes match)
feature_extractor/     the CNN of the classification (reused when its settings match)
```

`run_hypotheses_report` is the report of a labelled set with a few classes and no alphabets or
evaluation classes (Fashion-MNIST: 10 classes of one category, clothing): both hypotheses on the
train split's classes (hypothesis 2 leaves each class out in turn), without the classification,
augment_examples.png and feature_extractor/. `DATASET_MODES` says which report a dataset gets.
"""

import dataclasses
import json
import math
import os
import time
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow import images as image_files
from tfglow.augment import evaluate, features, hypotheses
from tfglow.augment.latent import ClassLatents, LatentCodec, encode_classes, group_of
from tfglow.augment.methods import METHODS, AugmentOptions, BaseStatistics, augment_latents

__all__ = [
    'DATASET_MODES',
    'FLAT_POOL_SIZES',
    'ReportOptions',
    'report_mode',
    'rewrite_report',
    'run_hypotheses_report',
    'run_report',
    'write_report',
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


def _subset(class_arrays: Mapping[str, np.ndarray], limit: int, seed) -> dict[str, np.ndarray]:
    names = list(class_arrays)
    if limit and limit < len(names):
        picked = np.sort(np.random.default_rng(seed).choice(len(names), limit, replace=False))
        names = [names[i] for i in picked]
    return {name: np.asarray(class_arrays[name]) for name in names}


def _cached_latents(
    codec: LatentCodec, class_arrays: Mapping[str, np.ndarray], path: str, key: str
) -> ClassLatents:
    """Encodes the classes, or reads them from `path` when it holds the same model and classes."""
    names = list(class_arrays)
    identity = json.dumps([codec.checkpoint, codec.name, codec.step, names])
    cache = {}
    if tf.io.gfile.exists(path):
        with np.load(path) as npz:
            cache = dict(npz)
    if cache.get(f'{key}_identity', np.array('')).item() == identity:
        logging.info('Latents of %d %s classes read from %s.', len(names), key, path)
        return ClassLatents(
            names=names,
            groups=[group_of(n) for n in names],
            latents=cache[f'{key}_latents'],
            counts=cache[f'{key}_counts'],
        )
    start = time.monotonic()
    latents = encode_classes(codec, class_arrays)
    logging.info(
        'Encoded %d images of %d %s classes in %.0f s.',
        len(latents.latents),
        len(names),
        key,
        time.monotonic() - start,
    )
    cache.update(
        {
            f'{key}_identity': np.array(identity),
            f'{key}_latents': latents.latents,
            f'{key}_counts': latents.counts,
        }
    )
    np.savez(path, **cache)
    return latents


# ---------------------------------------------------------------------------------------------
# Plots.


def _pyplot():
    import matplotlib

    matplotlib.use('Agg')
    import matplotlib.pyplot as plt

    return plt


def plot_normality(h1: dict, path: str) -> None:
    """Hypothesis 1: KS excess, A^2 excess per pooled image, kurtosis and rejection vs pool."""
    plt = _pyplot()
    rows = h1['rows']
    labels = [str(r['pool']) for r in rows]
    x = np.arange(len(rows))
    panels = (
        ('KS statistic − null median', 'ks', 'excess'),
        ('(A² − null median) / images', 'ad', 'excess'),
        ('excess kurtosis − null median', 'kurtosis', 'excess'),
        ('share rejected by A² at 5%', 'ad', 'rejection_rate'),
    )
    fig, axes = plt.subplots(1, 4, figsize=(18, 4))
    for ax, (title, statistic, field) in zip(axes, panels, strict=True):
        for space in h1['spaces']:
            ys = [r[space][statistic][field] for r in rows]
            if title.startswith('(A²'):
                ys = [y / r['mean_rows'] for y, r in zip(ys, rows, strict=True)]
            ax.plot(x, ys, marker='o', label=space)
        ax.set_xticks(x, labels)
        ax.set_xlabel('classes pooled (P)')
        ax.set_title(title)
        ax.grid(alpha=0.3)
    axes[-1].axhline(0.05, color='grey', linestyle='--', label='null (5%)')
    axes[0].legend()
    axes[-1].legend()
    fig.tight_layout()
    tf.io.gfile.makedirs(os.path.dirname(path))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def plot_estimation(h2: dict, path: str) -> None:
    """Hypothesis 2: relative error vs K, one panel per quantity, one line per estimator."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, 3, figsize=(18, 4.5))
    for ax, (quantity, by_estimator) in zip(axes, h2['errors'].items(), strict=True):
        for estimator, values in by_estimator.items():
            style = '-' if estimator == 'alone' or estimator.startswith('alone+') else ':'
            ax.errorbar(
                h2['ks'],
                values['mean'],
                yerr=values['stderr'],
                marker='o',
                markersize=3,
                linestyle=style,
                label=estimator,
            )
        ax.set_xlabel('K (shots)')
        ax.set_ylabel('relative error')
        ax.set_title(f'{quantity} estimate')
        ax.set_yscale('log')
        ax.grid(alpha=0.3, which='both')
    axes[0].legend(fontsize=8)
    fig.tight_layout()
    tf.io.gfile.makedirs(os.path.dirname(path))
    fig.savefig(path, dpi=90)
    plt.close(fig)


def examples_grid(
    codec: LatentCodec,
    targets: ClassLatents,
    class_arrays: Mapping[str, np.ndarray],
    base: BaseStatistics,
    methods: Mapping[str, AugmentOptions],
    *,
    num_classes: int = 4,
    shots: int = 5,
    per_row: int = 8,
    seed: int = 0,
) -> np.ndarray:
    """A grid: per class, one row per method, `shots` support images then `per_row` augmented."""
    rng = np.random.default_rng([seed, 5])
    classes = np.sort(rng.choice(targets.num_classes, min(num_classes, targets.num_classes), False))
    shape = codec.image_shape
    cells = []
    for c in classes:
        images = np.asarray(class_arrays[targets.names[c]])
        k = min(shots, len(images))
        pick = rng.choice(len(images), k, replace=False)
        for index, method in enumerate(methods.values()):
            z = augment_latents(targets.of(c)[pick], base, per_row, method, seed=[seed, index, c])
            row = np.zeros([shots + 1 + per_row, *shape], np.uint8)
            row[:k] = images[pick]
            row[shots] = 128  # A grey cell between the support and the augmented images.
            row[shots + 1 :] = codec.decode(z)
            cells.append(row)
    cells = np.concatenate(cells)
    return image_files.make_grid(cells, len(classes) * len(methods), pad_value=64)


# ---------------------------------------------------------------------------------------------
# Words.


def _fmt(value: float, digits: int = 3) -> str:
    return 'n/a' if value is None or not math.isfinite(value) else f'{value:.{digits}f}'


def h1_markdown(h1: dict) -> str:
    """Tables and verdict of hypothesis 1."""
    lines = [
        '| classes pooled P | pools | images per pool | space | KS | KS null | KS − null | '
        'A² | A² null | (A² − null) / n | kurtosis | kurtosis null | A² rejects |',
        '|---' * 13 + '|',
    ]
    for row in h1['rows']:
        for space in h1['spaces']:
            e = row[space]
            lines.append(
                f'| {row["pool"]} | {row["num_pools"]} | {row["mean_rows"]:.0f} | {space} | '
                f'{_fmt(e["ks"]["median"], 4)} | {_fmt(e["ks"]["null_median"], 4)} | '
                f'{_fmt(e["ks"]["excess"], 4)} | {_fmt(e["ad"]["median"])} | '
                f'{_fmt(e["ad"]["null_median"])} | {_fmt(e["ad"]["excess"] / row["mean_rows"], 5)}'
                f' | {_fmt(e["kurtosis"]["median"])} | {_fmt(e["kurtosis"]["null_median"])} | '
                f'{100 * e["ad"]["rejection_rate"]:.0f}% |'
            )
    first, last = h1['rows'][0], h1['rows'][-1]
    ks_first, ks_last = first['all']['ks']['excess'], last['all']['ks']['excess']
    kurt_first, kurt_last = first['all']['kurtosis']['excess'], last['all']['kurtosis']['excess']
    rej_first, rej_last = first['all']['ad']['rejection_rate'], last['all']['ad']['rejection_rate']
    holds = ks_last < ks_first and abs(kurt_last) < abs(kurt_first)
    verdict = [
        '',
        f'**Verdict: {"supported" if holds else "not supported"}.** Over random projections of the '
        f'whole latent, pooling P = {first["pool"]} → {last["pool"]} classes '
        f'({first["mean_rows"]:.0f} → {last["mean_rows"]:.0f} images) moves the median KS '
        f'distance beyond its normal-data value from {ks_first:+.4f} to {ks_last:+.4f}, the median '
        f'excess kurtosis beyond its normal-data value from {kurt_first:+.3f} to {kurt_last:+.3f}, '
        'and the share of projections '
        f'that Anderson-Darling rejects at 5% from {100 * rej_first:.0f}% to {100 * rej_last:.0f}% '
        '(5% for normal data).',
    ]
    if not holds:
        grew = [
            name
            for name, grows in (
                ('the KS distance beyond its null', ks_last >= ks_first),
                ('the excess kurtosis beyond its null', abs(kurt_last) >= abs(kurt_first)),
            )
            if grows
        ]
        pooled = (
            f'At P = {first["pool"]} ({first["mean_rows"]:.0f} images) the tests have little '
            'power; as classes are pooled'
            if first['mean_rows'] < 100
            else 'As classes are pooled'
        )
        verdict.append(
            f'Pooled deviations do not become more normal. {pooled}, {" and ".join(grew)} grow. '
            'A pool of classes with different covariances is a scale mixture, whose tails are '
            "heavier than a normal's (positive excess kurtosis)."
        )
    else:
        verdict.append(
            'The departure from normality, measured in ways that do not depend on the sample '
            'size, shrinks as classes are pooled.'
        )
    levels = [s for s in h1['spaces'] if s != 'all']
    if levels:
        per_level = ', '.join(
            f'{s}: KS − null {last[s]["ks"]["excess"]:+.4f}, kurtosis − null '
            f'{last[s]["kurtosis"]["excess"]:+.3f}'
            for s in levels
        )
        verdict.append(f'Per Glow level at P = {last["pool"]}: {per_level}.')
    return '\n'.join(lines + verdict)


def h2_markdown(h2: dict) -> str:
    """Tables and verdict of hypothesis 2."""
    lines = []
    ks = h2['ks']
    for quantity, by_estimator in h2['errors'].items():
        lines += [
            '',
            f'Relative error of the {quantity} estimate (mean over classes and draws):',
            '',
            '| estimator | ' + ' | '.join(f'K={k}' for k in ks) + ' |',
            '|---' * (len(ks) + 1) + '|',
        ]
        for estimator, values in by_estimator.items():
            cells = ' | '.join(_fmt(v) for v in values['mean'])
            lines.append(f'| {estimator} | {cells} |')
    verdicts = ['']
    for quantity, by_estimator in h2['errors'].items():
        alone = np.array(by_estimator['alone']['mean'])
        combined = {e: np.array(v['mean']) for e, v in by_estimator.items() if '+' in e}
        if not combined:
            continue
        best = np.nanmin(np.stack(list(combined.values())), axis=0)
        helped = [k for k, a, b in zip(ks, alone, best, strict=True) if not a <= b]
        hurt = [k for k, a, b in zip(ks, alone, best, strict=True) if a < b]
        best_name = min(combined, key=lambda e: np.nanmean(combined[e]))
        text = (
            f'- {quantity}: combining with related classes lowers the error at K = '
            f'{_ks(helped)}'
            + (f' and raises it at K = {_ks(hurt)}' if hurt else ' (every K)')
            + f'; best on average: {best_name} (K=1: {_fmt(combined[best_name][0])}, '
            f'K={ks[-1]}: {_fmt(combined[best_name][-1])} vs alone {_fmt(alone[-1])}).'
        )
        prior_only = [np.array(v['mean']) for e, v in by_estimator.items() if e in h2['kappa']]
        if prior_only:
            best_prior = np.nanmin(np.stack(prior_only), axis=0)
            beaten = [k for k, p, b in zip(ks, best_prior, best, strict=True) if p < b]
            if beaten:
                text += (
                    ' The related statistics alone are better than every combination at '
                    f'K = {_ks(beaten)}.'
                )
        everyone = 'all other classes' if h2.get('leave_one_out') else 'all base classes'
        related = {e: np.nanmean(v['mean']) for e, v in by_estimator.items() if e in h2['kappa']}
        if 'all' in related and len(related) > 1:
            closer = [e for e in related if e != 'all' and related[e] < related['all']]
            beat = (
                f'Related classes alone ({", ".join(closer)}) beat {everyone}'
                if closer
                else f'No related set alone beats {everyone}'
            )
            averages = ', '.join(f'{e} {_fmt(v)}' for e, v in related.items())
            text += f' {beat} (mean over K: {averages}).'
        verdicts.append(text)
    kappa = ', '.join(f'{r} {v:.1f}' for r, v in h2['kappa'].items())
    targets = (
        f'{h2["num_classes"]} classes, each left out in turn (its relations: the other '
        f'{h2["num_classes"] - 1})'
        if h2.get('leave_one_out')
        else f'{h2["num_classes"]} evaluation classes'
    )
    header = (
        f'{targets}, {h2["draws"]} draws per K; truth = all images of the class (the K shots '
        f'included); kappa (mean prior weight, in images): {kappa}; nu (covariance prior dof): '
        f'{h2["prior_dof"]:g}.'
    )
    return '\n'.join([header, *lines, *verdicts])


def _ks(ks: list[int]) -> str:
    return ', '.join(map(str, ks)) if ks else 'none'


# ---------------------------------------------------------------------------------------------
# Everything.


def run_report(
    codec: LatentCodec,
    base_arrays: Mapping[str, np.ndarray],
    eval_arrays: Mapping[str, np.ndarray],
    output_dir: str,
    options: ReportOptions = ReportOptions(),
) -> dict:
    """Runs both hypotheses and the classification; writes the files listed in the module doc.

    Args:
      codec: the flow.
      base_arrays: `{class: uint8 [n, H, W, C]}` of the base classes (background).
      eval_arrays: the same of the evaluation classes.
      output_dir: created if missing.
      options: see `ReportOptions`.

    Returns:
      The dict written to results.json, with 'markdown' (report.md's text).
    """
    start = time.monotonic()
    tf.io.gfile.makedirs(output_dir)
    base_arrays = _subset(base_arrays, options.max_classes, [options.seed, 1])
    eval_arrays = _subset(eval_arrays, options.max_classes, [options.seed, 2])
    cache = os.path.join(output_dir, 'latents_cache.npz')
    base_latents = _cached_latents(codec, base_arrays, cache, 'base')
    eval_latents = _cached_latents(codec, eval_arrays, cache, 'eval')
    base = BaseStatistics(base_latents)

    logging.info('Hypothesis 1: normality of pooled deviations.')
    h1 = hypotheses.pooling_normality(
        base_latents,
        options.pool_sizes,
        levels=codec.level_slices,
        num_projections=options.num_projections,
        sets_per_size=options.sets_per_size,
        seed=options.seed,
    )
    logging.info('Hypothesis 1 done at %.0f s; hypothesis 2: K-shot estimates.', _since(start))
    h2 = hypotheses.estimation_error(
        eval_latents,
        base,
        options.ks,
        num_related=options.num_related,
        draws=options.h2_draws,
        max_classes=options.h2_classes,
        seed=options.seed,
    )

    logging.info('Hypothesis 2 done at %.0f s; the feature extractor.', _since(start))
    extractor, feature_facts = features.load_or_train(
        os.path.join(output_dir, 'feature_extractor'), base_arrays, options.feature_options
    )
    eval_images = np.concatenate([np.asarray(a) for a in eval_arrays.values()])
    eval_features = extractor.embed(eval_images)
    methods = {
        name: AugmentOptions(
            name,
            strength=options.strength,
            relation=options.relation,
            num_related=options.num_related,
        )
        for name in METHODS
    }
    grid = examples_grid(codec, eval_latents, eval_arrays, base, methods, seed=options.seed)
    image_files.write_png(os.path.join(output_dir, 'augment_examples.png'), grid)
    logging.info('Classification (%d episodes per setting).', options.episodes)
    classification = evaluate.classify_with_augmentation(
        codec,
        extractor,
        eval_latents,
        eval_features,
        base,
        methods,
        evaluate.ClassificationOptions(
            settings=tuple(options.settings),
            num_episodes=options.episodes,
            queries_per_class=options.queries_per_class,
            num_augmented=options.num_augmented,
            seed=options.seed,
        ),
    )
    sweep = []
    for strength in options.sweep_strengths:
        logging.info('Strength sweep: %g.', strength)
        swept = {
            name: dataclasses.replace(method, strength=float(strength))
            for name, method in methods.items()
        }
        sweep.append(
            {
                'strength': float(strength),
                'classification': evaluate.classify_with_augmentation(
                    codec,
                    extractor,
                    eval_latents,
                    eval_features,
                    base,
                    swept,
                    evaluate.ClassificationOptions(
                        settings=tuple(options.sweep_settings),
                        num_episodes=options.sweep_episodes,
                        queries_per_class=options.queries_per_class,
                        num_augmented=options.num_augmented,
                        seed=options.seed + 1,
                    ),
                ),
            }
        )
    results = {
        'model': codec.describe(),
        'options': dataclasses.asdict(options),
        'num_base_classes': base.num_classes,
        'num_eval_classes': eval_latents.num_classes,
        'hypothesis_1': h1,
        'hypothesis_2': h2,
        'feature_extractor': feature_facts,
        'classification': classification,
        'strength_sweep': sweep,
        'seconds': _since(start),
    }
    write_report(results, output_dir)
    logging.info('Report written to %s in %.0f s.', output_dir, _since(start))
    return results


def run_hypotheses_report(
    codec: LatentCodec,
    class_arrays: Mapping[str, np.ndarray],
    output_dir: str,
    options: ReportOptions = ReportOptions(pool_sizes=FLAT_POOL_SIZES, num_related=3),
) -> dict:
    """Both hypotheses on one labelled set of a few classes of one category (Fashion-MNIST).

    Hypothesis 1 pools the classes' deviations as `run_report` does (an 'alphabet' pool size is
    dropped: the classes have no groups); hypothesis 2 estimates each class's statistics from K
    shots, alone and combined with the other classes' ('nearest': the `num_related` nearest,
    'all': every other class), with `hypotheses.leave_one_out_error`. Writes report.md,
    results.json, h1_normality.png, h2_errors.png and latents_cache.npz to `output_dir`.

    Args:
      codec: the flow.
      class_arrays: `{class: uint8 [n, H, W, C]}`, >= 3 classes of more than `max(ks)` images.
      output_dir: created if missing.
      options: `ReportOptions`; its classification fields, `max_classes` and `h2_classes` are
        unused.

    Returns:
      The dict written to results.json, with 'markdown'.
    """
    start = time.monotonic()
    tf.io.gfile.makedirs(output_dir)
    arrays = {}
    for index, (name, images) in enumerate(class_arrays.items()):
        images = np.asarray(images)
        if options.images_per_class and options.images_per_class < len(images):
            rng = np.random.default_rng([options.seed, 3, index])
            images = images[np.sort(rng.choice(len(images), options.images_per_class, False))]
        arrays[name] = images
    latents = _cached_latents(codec, arrays, os.path.join(output_dir, 'latents_cache.npz'), 'train')
    # Names such as 'T-shirt/top' are not alphabet/character: no groups.
    latents = dataclasses.replace(latents, groups=[''] * latents.num_classes)
    logging.info('Hypothesis 1: normality of pooled deviations (%d classes).', latents.num_classes)
    h1 = hypotheses.pooling_normality(
        latents,
        [p for p in options.pool_sizes if p != 'alphabet'],
        levels=codec.level_slices,
        num_projections=options.num_projections,
        sets_per_size=options.sets_per_size,
        seed=options.seed,
    )
    logging.info('Hypothesis 1 done at %.0f s; hypothesis 2 (leave one out).', _since(start))
    h2 = hypotheses.leave_one_out_error(
        latents,
        options.ks,
        num_related=options.num_related,
        draws=options.h2_draws,
        seed=options.seed,
    )
    results = {
        'mode': 'hypotheses',
        'model': codec.describe(),
        'options': dataclasses.asdict(options),
        'num_classes': latents.num_classes,
        'class_names': latents.names,
        'images_per_class': [int(n) for n in latents.counts],
        'hypothesis_1': h1,
        'hypothesis_2': h2,
        'seconds': _since(start),
    }
    write_report(results, output_dir)
    logging.info('Report written to %s in %.0f s.', output_dir, _since(start))
    return results


def write_report(results: dict, output_dir: str) -> dict:
    """Writes results.json, report.md and the two plots of `results`; adds 'markdown' to it."""
    plot_normality(results['hypothesis_1'], os.path.join(output_dir, 'h1_normality.png'))
    plot_estimation(results['hypothesis_2'], os.path.join(output_dir, 'h2_errors.png'))
    if results.get('mode') == 'hypotheses':
        results['markdown'] = _hypotheses_markdown(results)
    else:
        results['markdown'] = _markdown(results)
    with tf.io.gfile.GFile(os.path.join(output_dir, 'report.md'), 'w') as f:
        f.write(results['markdown'] + '\n')
    with tf.io.gfile.GFile(os.path.join(output_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=1, default=str)
    return results


def rewrite_report(output_dir: str) -> dict:
    """Regenerates report.md and the plots from `output_dir/results.json`, computing nothing."""
    path = os.path.join(output_dir, 'results.json')
    if not tf.io.gfile.exists(path):
        raise FileNotFoundError(f'{path} does not exist: run the report first.')
    with tf.io.gfile.GFile(path) as f:
        results = json.load(f)
    return write_report(results, output_dir)


def _since(start: float) -> float:
    return time.monotonic() - start


def _markdown(results: dict) -> str:
    model = results['model']
    options = results['options']
    classification = results['classification']
    facts = results['feature_extractor']
    c_options = classification['options']
    lines = [
        '# Few-shot augmentation in Glow latent space',
        '',
        f'Model: {model["name"]} ({model["type"]}), checkpoint {model["checkpoint"] or "n/a"} '
        f'(step {model["step"]}), latent levels {model["latent_shapes"]}, {model["n_bits"]} bit(s) '
        f'per pixel. Base classes: {results["num_base_classes"]}; evaluation classes: '
        f'{results["num_eval_classes"]}. Seed {options["seed"]}; the run took '
        f'{results["seconds"] / 60:.1f} min.',
        '',
        '## Hypothesis 1: pooled within-class deviations tend to a normal',
        '',
        f'Deviations z − (class mean) of the base classes, pooled over P classes, projected on '
        f'{options["num_projections"]} random unit directions per pool (of the whole latent and '
        'of each Glow level, level_0 the finest); per projection KS and Anderson-Darling A² '
        'against a normal with its own mean and standard deviation, and excess kurtosis. "null" '
        'is the median on normal data of exactly the same shape (pool sizes, class-mean '
        'centring); KS − null and (A² − null) / n estimate the distance to normality at any n. '
        'Medians over pools and projections. Plot: h1_normality.png.',
        '',
        h1_markdown(results['hypothesis_1']),
        '',
        '## Hypothesis 2: related classes improve few-shot statistics',
        '',
        'Estimators: alone (K shots), a relation alone (its pooled mean / covariance), '
        'alone+relation (combined: see tfglow/augment/hypotheses.py). Relations: alphabet (the '
        "other evaluation classes of the class's alphabet), nearest (the "
        f'{results["hypothesis_2"]["num_related"]} background classes nearest to the K-shot '
        'mean), all (every background class). Plot: h2_errors.png.',
        '',
        h2_markdown(results['hypothesis_2']),
        '',
        '## Few-shot classification with augmentation',
        '',
        f'Nearest-centroid classification of evaluation classes in the feature space of a CNN '
        f'trained on the {facts["num_classes"]} base classes ({facts["num_images"]} images, '
        f'final train accuracy {100 * facts["train_accuracy"]:.1f}%). Each method adds '
        f'{c_options["num_augmented"]} decoded images per support class (strength '
        f'{options["strength"]:g}, relation {options["relation"]}, '
        f'{options["num_related"]} related classes); {c_options["num_episodes"]} episodes per '
        f'setting, {c_options["queries_per_class"]} queries per class, the same episodes for '
        'every method. Accuracy in % ± 95% confidence interval over episodes:',
        '',
        evaluate.format_accuracy_table(classification),
        '',
        'Paired difference to no augmentation, in points ± 95% interval over the same episodes:',
        '',
        evaluate.format_difference_table(classification),
        '',
        'Examples (augment_examples.png): per class, one row per method (pooled, transfer, '
        f'calibrated) at strength {options["strength"]:g}: 5 support images, a grey cell, 8 '
        'augmented images.',
    ]
    if results.get('strength_sweep'):
        lines += ['', sweep_markdown(results['strength_sweep'])]
    return '\n'.join(lines)


def _span(values: list[int]) -> str:
    low, high = min(values), max(values)
    return f'{low}' if low == high else f'{low}–{high}'


def _hypotheses_markdown(results: dict) -> str:
    model = results['model']
    options = results['options']
    h2 = results['hypothesis_2']
    counts = results['images_per_class']
    lines = [
        '# Latent-space augmentation hypotheses in a Glow (one category of classes)',
        '',
        f'Model: {model["name"]} ({model["type"]}), checkpoint {model["checkpoint"] or "n/a"} '
        f'(step {model["step"]}), latent levels {model["latent_shapes"]}, {model["n_bits"]} bit(s) '
        f'per pixel. Classes: {results["num_classes"]} ({", ".join(results["class_names"])}), '
        f'{_span(counts)} training images each. Seed {options["seed"]}; the run took '
        f'{results["seconds"] / 60:.1f} min.',
        '',
        'Not measured here, as this data has neither: the alphabet pools and relation (the '
        'classes are one category with no sub-groups) and the few-shot classification with '
        'augmentation (no held-out evaluation classes; hypothesis 2 leaves each class out '
        'instead). See the Omniglot report for those.',
        '',
        '## Hypothesis 1: pooled within-class deviations tend to a normal',
        '',
        f'Deviations z − (class mean), pooled over P classes, projected on '
        f'{options["num_projections"]} random unit directions per pool (of the whole latent and '
        'of each Glow level, level_0 the finest); per projection KS and Anderson-Darling A² '
        'against a normal with its own mean and standard deviation, and excess kurtosis. "null" '
        'is the median on normal data of exactly the same shape; KS − null and (A² − null) / n '
        'estimate the distance to normality at any n. Medians over pools and projections. '
        'Plot: h1_normality.png.',
        '',
        h1_markdown(results['hypothesis_1']),
        '',
        '## Hypothesis 2: related classes improve few-shot statistics',
        '',
        'Each class in turn is the new class; the other classes are its related classes. '
        'Estimators: alone (K shots), a relation alone (its pooled mean / covariance), '
        'alone+relation (combined: see tfglow/augment/hypotheses.py). Relations: nearest (the '
        f'{h2["num_related"]} other classes nearest to the K-shot mean), all (every other '
        'class). A relative error of 1 is that of estimating 0 (the mean) or a zero matrix. '
        'Plot: h2_errors.png.',
        '',
        h2_markdown(h2),
    ]
    return '\n'.join(lines)


def sweep_markdown(sweep: list[dict]) -> str:
    """The strength sweep: paired difference to no augmentation per method and strength."""
    first = sweep[0]['classification']
    settings = first['settings']
    header = [f'{s["n_way"]}-way {s["k_shot"]}-shot' for s in settings]
    none = ', '.join(
        f'{h} {100 * s["accuracy"]["none"]["mean"]:.2f}%' for h, s in zip(header, settings)
    )
    lines = [
        '### Strength sweep',
        '',
        f'{first["options"]["num_episodes"]} other episodes per setting (seed '
        f'{first["options"]["seed"]}); no augmentation: {none}. Paired difference to no '
        'augmentation in points ± 95% interval (the same evaluation classes as above, so a '
        'strength picked here is picked on them):',
        '',
        '| method | strength | ' + ' | '.join(header) + ' |',
        '|---' * (len(header) + 2) + '|',
    ]
    for name in first['methods']:
        for entry in sweep:
            cells = []
            for s in entry['classification']['settings']:
                d = s['difference'][name]
                cells.append(f'{100 * d["mean"]:+.2f} ± {100 * d["ci95"]:.2f}')
            lines.append(f'| {name} | {entry["strength"]:g} | ' + ' | '.join(cells) + ' |')
    return '\n'.join(lines)
