"""Every few-shot analysis at once, written to files and TensorBoard (`tfglow-fewshot-eval`).

```python
loaded = restore.load_workdir('workdirs/omniglot_fewshot_glow')
class_arrays = data.load_class_arrays(loaded.config.data, 'test')
results = run_evaluation(loaded.adapter, class_arrays, '/tmp/eval', EvalOptions(ks=(1, 5)))
print(results['summary'])
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
from tfglow.fewshot.adapters import SupportModel, describe, require_support
from tfglow.fewshot.classification import DEFAULT_SETTINGS, classify, format_classification_table
from tfglow.fewshot.pool import ClassPool, class_pool
from tfglow.fewshot.sampling import draw_support_sets, refined_sampling, sample_grid
from tfglow.fewshot.sweep import DEFAULT_KS, cardinality_sweep, format_sweep_table

__all__ = ['ANALYSES', 'EvalOptions', 'run_evaluation']

ANALYSES = ('sweep', 'classification', 'sampling')


@dataclasses.dataclass(frozen=True)
class EvalOptions:
    """What `run_evaluation` does; the defaults are the issue's protocol.

    Attributes:
      analyses: any of 'sweep', 'classification', 'sampling'.
      ks: support sizes of the sweep.
      targets_per_class: held-out targets per class in the sweep.
      max_classes: classes in the sweep (drawn with `seed`); 0 = all.
      settings: `(N, K)` pairs of the classification.
      num_episodes: episodes per classification setting.
      queries_per_class: queries per class per episode.
      sample_sets: support sets to sample from (one class each, drawn with `seed`).
      sample_shots: images in each sampling support set.
      samples_per_set: samples per set and round.
      rounds: sampling rounds (1 = no refinement).
      temperature: sampling temperature.
      batch_size: images scored per model call.
      seed: seeds every random choice and all noise.
    """

    analyses: tuple[str, ...] = ANALYSES
    ks: tuple[int, ...] = DEFAULT_KS
    targets_per_class: int = 1
    max_classes: int = 0
    settings: tuple[tuple[int, int], ...] = DEFAULT_SETTINGS
    num_episodes: int = 600
    queries_per_class: int = 1
    sample_sets: int = 4
    sample_shots: int = 5
    samples_per_set: int = 8
    rounds: int = 2
    temperature: float = 1.0
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
) -> dict:
    """Runs `options.analyses` and writes their results under `output_dir`.

    Writes `results.json` (every number, with the models' `describe` facts), `summary.md` (the
    tables with the legend of each number), `samples/setNN_<class>.png` (per support set: the
    support row, then one row per sampling round) and TensorBoard events: the NLL vs K curves as
    scalars `nll_nats/<source>/<estimator>` and `bits_per_dim/<source>/<estimator>` with
    step = K (the no-support and baseline values repeated at every K, as reference lines),
    `classification/<N>way_<K>shot/<estimator>` (accuracy), `samples/...` grids and the tables
    as text.

    Args:
      model: a support-conditioned `SupportModel`.
      class_arrays: `{class name: uint8 [n, H, W, C]}` of the evaluation classes.
      output_dir: where the files go (created if missing).
      options: what to run. Default: `EvalOptions()`, the full protocol.
      baseline: an unconditional model to compare with in the sweep. Default value: None.
      metadata: extra facts for `results.json` (workdir, checkpoint, ...). Default value: None.

    Returns:
      The dict written to `results.json`: `model`, `num_classes`, `options`, `metadata`, the
      analyses' results under `sweep`, `classification` (a list, one per setting) and
      `sampling`, and `summary`, the Markdown tables.
    """
    unknown = set(options.analyses) - set(ANALYSES)
    if unknown or not options.analyses:
        raise ValueError(f'analyses must be some of {ANALYSES}; got {options.analyses}.')
    require_support(model, 'few-shot evaluation')
    pool = class_pool(class_arrays, model.image_shape)  # Checks the data before the long runs.
    tf.io.gfile.makedirs(output_dir)
    results = {
        'model': describe(model),
        'num_classes': len(pool.names),
        'options': dataclasses.asdict(options),
        'metadata': dict(metadata or {}),
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
        if 'classification' in options.analyses:
            results['classification'] = [
                classify(
                    model,
                    class_arrays,
                    n_way,
                    k_shot,
                    num_episodes=options.num_episodes,
                    queries_per_class=options.queries_per_class,
                    batch_size=options.batch_size,
                    seed=options.seed,
                )
                for n_way, k_shot in options.settings
            ]
            tables.append(format_classification_table(results['classification']))
            for result in results['classification']:
                for estimator, accuracy in result['accuracy'].items():
                    tag = f'classification/{result["n_way"]}way_{result["k_shot"]}shot/{estimator}'
                    tf.summary.scalar(tag, accuracy['mean'], step=0)
        if 'sampling' in options.analyses:
            results['sampling'] = _sample_and_write(model, pool, output_dir, options)
        results['summary'] = '\n\n'.join(tables)
        if tables:
            tf.summary.text('summary', results['summary'], step=0)
    writer.close()
    with tf.io.gfile.GFile(os.path.join(output_dir, 'results.json'), 'w') as f:
        json.dump(results, f, indent=2)
    with tf.io.gfile.GFile(os.path.join(output_dir, 'summary.md'), 'w') as f:
        f.write(results['summary'] + '\n')
    return results


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
