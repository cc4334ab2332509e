"""The report runs: encode the classes (cached), test both hypotheses, classify, write files.

`run_report` is the full report (Omniglot: base and evaluation classes, alphabets);
`run_hypotheses_report` the one of a labelled set of a few classes of one category
(Fashion-MNIST). Both end in `write_report`, which `rewrite_report` reruns from results.json.
"""

import dataclasses
import json
import os
import time
from collections.abc import Mapping

import numpy as np
import tensorflow as tf
from absl import logging

from tfglow.augment import evaluate, features, hypotheses
from tfglow.augment.latent import ClassLatents, LatentCodec, encode_classes
from tfglow.augment.methods import METHODS, AugmentOptions, BaseStatistics
from tfglow.augment.report.markdown import report_markdown
from tfglow.augment.report.options import (
    DEFAULT_OPTIONS,
    HYPOTHESES_DEFAULT_OPTIONS,
    ReportOptions,
)
from tfglow.augment.report.plots import plot_estimation, plot_normality, write_examples
from tfglow.data.episodic import group_of

__all__ = ['rewrite_report', 'run_hypotheses_report', 'run_report', 'write_report']


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
        _since(start),
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


def run_report(
    codec: LatentCodec,
    base_arrays: Mapping[str, np.ndarray],
    eval_arrays: Mapping[str, np.ndarray],
    output_dir: str,
    options: ReportOptions = DEFAULT_OPTIONS,
) -> dict:
    """Runs both hypotheses and the classification; writes the files the package doc lists.

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
    write_examples(
        os.path.join(output_dir, 'augment_examples.png'),
        codec,
        eval_latents,
        eval_arrays,
        base,
        methods,
        seed=options.seed,
    )

    def classify(methods: dict, settings, num_episodes: int, seed: int) -> dict:
        return evaluate.classify_with_augmentation(
            codec,
            extractor,
            eval_latents,
            eval_features,
            base,
            methods,
            evaluate.ClassificationOptions(
                settings=tuple(settings),
                num_episodes=num_episodes,
                queries_per_class=options.queries_per_class,
                num_augmented=options.num_augmented,
                seed=seed,
            ),
        )

    logging.info('Classification (%d episodes per setting).', options.episodes)
    classification = classify(methods, options.settings, options.episodes, options.seed)
    sweep = []
    for strength in options.sweep_strengths:
        logging.info('Strength sweep: %g.', strength)
        swept = {
            name: dataclasses.replace(method, strength=float(strength))
            for name, method in methods.items()
        }
        # Seed + 1: other episodes than the main table's.
        swept_classification = classify(
            swept, options.sweep_settings, options.sweep_episodes, options.seed + 1
        )
        sweep.append({'strength': float(strength), 'classification': swept_classification})
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
    options: ReportOptions = HYPOTHESES_DEFAULT_OPTIONS,
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
    results['markdown'] = report_markdown(results)
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
