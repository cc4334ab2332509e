"""Every few-shot analysis at once, written to files and TensorBoard (`tfglow-fewshot-eval`).

```python
loaded = restore.load_workdir('workdirs/omniglot_fewshot_glow')
class_arrays = data.load_class_arrays(loaded.config.data, 'test')
results = run_evaluation(loaded.adapter, class_arrays, '/tmp/eval', EvalOptions(ks=(1, 5)))
print(results['summary'])

# Sample fidelity needs the base (training) classes: its feature extractor learns on them only.
base = data.load_class_arrays(loaded.config.data, loaded.config.data.train_split)
options = EvalOptions(analyses=('fidelity',), fidelity_episodes=4)
results = run_evaluation(loaded.adapter, class_arrays, '/tmp/eval', options, base_class_arrays=base)
```
"""

import dataclasses
import json
import os
import re
from collections.abc import Mapping

import numpy as np
import tensorflow as tf

from tfglow import images
from tfglow.augment import features
from tfglow.fewshot import plots
from tfglow.fewshot.adapters import SupportModel, describe, require_support
from tfglow.fewshot.classification import DEFAULT_SETTINGS, classify, format_classification_table
from tfglow.fewshot.episodes import check_episode_classes
from tfglow.fewshot.fidelity import format_fidelity_table, sample_fidelity
from tfglow.fewshot.pool import ClassPool, class_pool
from tfglow.fewshot.sampling import draw_support_sets, refined_sampling, sample_grid
from tfglow.fewshot.specificity import format_specificity_table, specificity_gap
from tfglow.fewshot.sweep import DEFAULT_KS, cardinality_sweep, format_sweep_table

__all__ = ['ANALYSES', 'DEFAULT_ANALYSES', 'EvalOptions', 'run_evaluation']

ANALYSES = ('sweep', 'classification', 'specificity', 'sampling', 'fidelity')
# Sample fidelity trains a feature extractor on the base classes and samples 20-way episodes:
# asked for by name.
DEFAULT_ANALYSES = ('sweep', 'classification', 'specificity', 'sampling')


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What `run_evaluation` does; the defaults are the issue's protocol.

    Attributes:
      analyses: any of `ANALYSES`.
      ks: support sizes of the sweep and of the specificity gap (which adds K=1).
      targets_per_class: held-out targets per class in the sweep and the specificity gap.
      max_classes: classes in the sweep and the specificity gap (drawn with `seed`); 0 = all.
      settings: `(N, K)` pairs of the classification.
      episode_classes: the classification's episodes: 'cross_alphabet' (classes from any
        alphabet), 'within_alphabet' (all N from one), or both (each setting twice).
      num_episodes: episodes per classification setting.
      queries_per_class: queries per class per episode.
      sample_sets: support sets to sample from (one class each, drawn with `seed`).
      sample_shots: images in each sampling support set.
      samples_per_set: samples per set and round.
      rounds: sampling rounds (1 = no refinement).
      temperature: sampling temperature.
      fidelity_ways: N of the sample-fidelity episodes (K = `sample_shots`, `samples_per_set`
        samples per support set).
      fidelity_episodes: sample-fidelity episodes.
      fidelity_classes: 'within_alphabet' or 'cross_alphabet' sample-fidelity episodes.
      fidelity_temperatures: sample-fidelity temperatures besides 1 (models with a temperature).
      feature_epochs: training epochs of the sample-fidelity feature extractor.
      batch_size: images scored per model call.
      seed: seeds every random choice and all noise.
    """

    analyses: tuple[str, ...] = DEFAULT_ANALYSES
    ks: tuple[int, ...] = DEFAULT_KS
    targets_per_class: int = 1
    max_classes: int = 0
    settings: tuple[tuple[int, int], ...] = DEFAULT_SETTINGS
    episode_classes: tuple[str, ...] = ('cross_alphabet',)
    num_episodes: int = 600
    queries_per_class: int = 1
    sample_sets: int = 4
    sample_shots: int = 5
    samples_per_set: int = 8
    rounds: int = 2
    temperature: float = 1.0
    fidelity_ways: int = 20
    fidelity_episodes: int = 10
    fidelity_classes: str = 'within_alphabet'
    fidelity_temperatures: tuple[float, ...] = (0.6, 0.8)
    feature_epochs: int = 8
    batch_size: int = 64
    seed: int = 0


def run_evaluation(
    model: SupportModel,
    class_arrays: Mapping[str, np.ndarray],
    output_dir: str,
    options: EvalOptions = EvalOptions(),
    *,
    baseline: SupportModel | None = None,
    metadata: Mapping[str, object] | None = None,
    base_class_arrays: Mapping[str, np.ndarray] | None = None,
    feature_extractor=None,
) -> dict:
    """Runs `options.analyses` and writes their results under `output_dir`.

    Writes `results.json` (every number, with the models' `describe` facts), `summary.md` (the
    tables with the legend of each number), `samples/setNN_<class>.png` (per support set, one
    row per sampling round: the support, a grey cell, the round's samples),
    `plots/nll_vs_k.png` and `plots/accuracy_vs_k.png`, `fidelity/temperature_<T>.png` (the
    first sample-fidelity episode, one row per class: support | samples), the feature extractor
    in `feature_extractor/` (trained once, read on reruns) and TensorBoard events: the NLL vs K
    curves as scalars `nll_nats/<source>/<estimator>` and `bits_per_dim/<source>/<estimator>`
    with step = K (the no-support and baseline values repeated at every K, as reference lines),
    `specificity_gap/<estimator>` (step = K), `classification/<N>way_<K>shot[_within_alphabet]/
    <estimator>` (accuracy), `fidelity/samples` (step = 1000 T) and `fidelity/real`,
    `samples/...` grids and the tables as text.

    Args:
      model: a support-conditioned `SupportModel`.
      class_arrays: `{class name: uint8 [n, H, W, C]}` of the evaluation classes.
      output_dir: where the files go (created if missing).
      options: what to run. Default: `EvalOptions()`.
      baseline: an unconditional model to compare with in the sweep. Default value: None.
      metadata: extra facts for `results.json` (workdir, checkpoint, ...). Default value: None.
      base_class_arrays: the base (training) classes, on which sample fidelity trains its
        feature extractor (`tfglow.augment.features.load_or_train`). Default value: None.
      feature_extractor: instead, any object with `embed(uint8 [M, H, W, C]) -> [M, D]`.

    Returns:
      The dict written to `results.json`: `model`, `num_classes`, `options`, `metadata`, the
      analyses' results under `sweep`, `classification` (a list, one per setting and episode
      classes), `specificity`, `sampling` and `fidelity`, `plots` (the PNG files), and
      `summary`, the Markdown tables.
    """
    unknown = set(options.analyses) - set(ANALYSES)
    if unknown or not options.analyses:
        raise ValueError(f'analyses must be some of {ANALYSES}; got {options.analyses}.')
    fidelity = 'fidelity' in options.analyses
    # Checked before the long analyses, not after them.
    for episode_classes in options.episode_classes + ((options.fidelity_classes,) * fidelity):
        check_episode_classes(episode_classes)
    if fidelity and feature_extractor is None and base_class_arrays is None:
        raise ValueError(
            'sample fidelity needs the base classes (base_class_arrays) to train its feature '
            'extractor on, or a feature_extractor.'
        )
    require_support(model, 'few-shot evaluation')
    pool = class_pool(class_arrays, model.image_shape)  # Checks the data before the long runs.
    tf.io.gfile.makedirs(output_dir)
    results = {
        'model': describe(model),
        'num_classes': len(pool.names),
        'options': dataclasses.asdict(options),
        'metadata': dict(metadata or {}),
        'plots': [],
    }
    tables = []
    writer = tf.summary.create_file_writer(output_dir)
    with writer.as_default():
        if 'sweep' in options.analyses:
            sweep = cardinality_sweep(
                model,
                class_arrays,
                options.ks,
                baseline=baseline,
                targets_per_class=options.targets_per_class,
                max_classes=options.max_classes,
                batch_size=options.batch_size,
                seed=options.seed,
            )
            results['sweep'] = sweep
            tables.append(format_sweep_table(sweep))
            _sweep_summaries(sweep)
            results['plots'].append(os.path.join(output_dir, 'plots', 'nll_vs_k.png'))
            plots.plot_nll_vs_k(sweep, results['plots'][-1])
        if 'classification' in options.analyses:
            results['classification'] = _classify(model, class_arrays, options)
            tables.append(format_classification_table(results['classification']))
            results['plots'].append(os.path.join(output_dir, 'plots', 'accuracy_vs_k.png'))
            plots.plot_accuracy_vs_k(results['classification'], results['plots'][-1])
        if 'specificity' in options.analyses:
            specificity = specificity_gap(
                model,
                class_arrays,
                options.ks,
                targets_per_class=options.targets_per_class,
                max_classes=options.max_classes,
                batch_size=options.batch_size,
                seed=options.seed,
            )
            results['specificity'] = specificity
            tables.append(format_specificity_table(specificity))
            for row in specificity['rows']:
                for estimator in specificity['model']['estimators']:
                    gap = row[estimator]['nats_per_image']
                    tf.summary.scalar(f'specificity_gap/{estimator}', gap, step=row['k'])
        if 'sampling' in options.analyses:
            results['sampling'] = _sample_and_write(model, pool, output_dir, options)
        if fidelity:
            if feature_extractor is None:
                feature_extractor, facts = features.load_or_train(
                    os.path.join(output_dir, 'feature_extractor'),
                    base_class_arrays,
                    features.FeatureOptions(epochs=options.feature_epochs, seed=options.seed),
                )
                results['metadata']['feature_extractor'] = facts
            results['fidelity'] = _fidelity(
                model, class_arrays, feature_extractor, output_dir, options
            )
            tables.append(format_fidelity_table(results['fidelity']))
        results['summary'] = '\n\n'.join(tables)
        if tables:
            tf.summary.text('summary', results['summary'], step=0)
    writer.close()
    with tf.io.gfile.GFile(os.path.join(output_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with tf.io.gfile.GFile(os.path.join(output_dir, 'summary.md'), 'w') as f:
        f.write(results['summary'] + '\n')
    return results


def _classify(model: SupportModel, class_arrays, options: EvalOptions) -> list[dict]:
    """Every classification setting with each of `options.episode_classes`, with summaries."""
    results = []
    for episode_classes in options.episode_classes:
        for n_way, k_shot in options.settings:
            result = classify(
                model,
                class_arrays,
                n_way,
                k_shot,
                num_episodes=options.num_episodes,
                queries_per_class=options.queries_per_class,
                batch_size=options.batch_size,
                seed=options.seed,
                episode_classes=episode_classes,
            )
            # Cross-alphabet tags keep the names they had before within-alphabet episodes.
            suffix = '_within_alphabet' if episode_classes == 'within_alphabet' else ''
            for estimator, accuracy in result['accuracy'].items():
                tag = f'classification/{n_way}way_{k_shot}shot{suffix}/{estimator}'
                tf.summary.scalar(tag, accuracy['mean'], step=0)
            results.append(result)
    return results


def _fidelity(model, class_arrays, extractor, output_dir: str, options: EvalOptions) -> dict:
    """Sample fidelity, its grids as PNGs and its rates as summaries."""
    result, grids = sample_fidelity(
        model,
        class_arrays,
        extractor.embed,
        n_way=options.fidelity_ways,
        shots=options.sample_shots,
        samples_per_set=options.samples_per_set,
        num_episodes=options.fidelity_episodes,
        episode_classes=options.fidelity_classes,
        temperatures=options.fidelity_temperatures,
        seed=options.seed,
    )
    result['files'] = []
    for temperature, grid in grids.items():
        path = os.path.join(output_dir, 'fidelity', f'temperature_{temperature:g}.png')
        images.write_png(path, grid)
        tf.summary.image(f'fidelity/temperature_{temperature:g}', grid[None], step=0)
        result['files'].append(path)
    for row in result['rows']:
        tf.summary.scalar('fidelity/samples', row['mean'], step=round(1000 * row['temperature']))
    tf.summary.scalar('fidelity/real', result['real_rate']['mean'], step=0)
    return result


def _sweep_summaries(sweep: dict) -> None:
    """The NLL vs K curves as scalars, step = K; the references repeated at every K."""
    for row in sweep['conditional']:
        sources = {'conditional': row}
        for source in ('no_support', 'baseline_no_support'):
            if sweep[source] is not None:
                sources[source] = sweep[source]
        for source, values in sources.items():
            for estimator, stats in values.items():
                if estimator == 'k':
                    continue
                tf.summary.scalar(
                    f'nll_nats/{source}/{estimator}', stats['nats_per_image'], step=row['k']
                )
                tf.summary.scalar(
                    f'bits_per_dim/{source}/{estimator}', stats['bits_per_dim'], step=row['k']
                )


def _sample_and_write(
    model: SupportModel, pool: ClassPool, output_dir: str, options: EvalOptions
) -> dict:
    """Refined sampling from `options.sample_sets` support sets; one PNG grid per set."""
    names, support = draw_support_sets(
        pool, options.sample_sets, options.sample_shots, options.seed
    )
    refined = refined_sampling(
        model,
        support,
        options.samples_per_set,
        options.rounds,
        temperature=options.temperature,
        seed=options.seed,
    )
    files = []
    for index, name in enumerate(names):
        grid = sample_grid(support[index], refined['samples'][:, index])
        path = os.path.join(output_dir, 'samples', _file_name(index, name))
        images.write_png(path, grid)
        tf.summary.image(f'samples/{os.path.basename(path)[:-4]}', grid[None], step=0)
        files.append(path)
    return {
        'classes': names,
        'support_sizes': refined['support_sizes'],
        'temperature': options.temperature,
        'files': files,
    }


def _file_name(index: int, class_name: str) -> str:
    """`setNN_<class>.png`, the class name made safe for a file name."""
    return f'set{index:02d}_' + re.sub(r'[^A-Za-z0-9_.-]+', '_', class_name) + '.png'
