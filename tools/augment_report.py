"""`tfglow-augment-report`: the few-shot augmentation report of a trained flow, in one command.

Tests both hypotheses of latent-space augmentation on the run's data (base classes: the train
split, e.g. the 964 Omniglot background characters; new classes: the eval split, the 659
evaluation characters) and measures N-way K-shot accuracy with and without each augmentation
method; writes report.md, results.json and PNG plots to --output_dir (see tfglow.augment.report):

    tfglow-augment-report --workdir=workdirs/omniglot_fewshot_glow_unconditional \\
        --output_dir=/tmp/augment_report
    tfglow-augment-report --workdir=... --output_dir=... --episodes=50 --max_classes=100  # quick

Fashion-MNIST (or --mode=hypotheses): both hypotheses only, on the train split's 10 classes
(no alphabets, no evaluation classes, so no classification; see report.run_hypotheses_report):

    tfglow-augment-report --workdir=workdirs/fashion_mnist_glow --output_dir=/tmp/fashion_report

The defaults are the full protocol (600 episodes per setting, every class). Progress with ETA is
logged to stderr. Encoded latents and the feature extractor are cached in --output_dir, so a rerun
with other classification settings skips them; --rewrite_only regenerates report.md and the plots
from results.json alone.
"""

import dataclasses
import os

from absl import app, flags, logging

from tfglow import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir of the flow.')
_MODE = flags.DEFINE_enum(
    'mode',
    'auto',
    ('auto', 'full', 'hypotheses'),
    "Which report: 'full' (hypotheses and classification; Omniglot), 'hypotheses' (both "
    "hypotheses on the train split's classes, each class left out in turn; Fashion-MNIST), or "
    "'auto': by the run's config.data.name (see report.DATASET_MODES; others are refused).",
)
_IMAGES_PER_CLASS = flags.DEFINE_integer(
    'images_per_class', 500, 'Hypotheses mode: images per class used (0 = all).'
)
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', 'latest', "Which checkpoint: 'latest', 'best', a step, or a path."
)
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', '', 'Where the report goes. Default: <workdir>/augment_report.'
)
_DATA_PATH = flags.DEFINE_string(
    'data_path', '', "Overrides the run's config.data.path (data moved since training)."
)
_EPISODES = flags.DEFINE_integer('episodes', 600, 'Episodes per classification setting.')
_MAX_CLASSES = flags.DEFINE_integer(
    'max_classes', 0, 'Base and evaluation classes used (each drawn with --seed); 0 = all.'
)
_WAYS = flags.DEFINE_list('ways', ['5', '20'], 'N of the N-way settings.')
_SHOTS = flags.DEFINE_list('shots', ['1', '5'], 'K of the K-shot settings.')
_QUERIES = flags.DEFINE_integer('queries_per_class', 10, 'Query images per class per episode.')
_NUM_AUGMENTED = flags.DEFINE_integer(
    'num_augmented', 5, 'Augmented images added per support class.'
)
_STRENGTH = flags.DEFINE_float('strength', 1.0, 'Strength of every augmentation method.')
_RELATION = flags.DEFINE_enum(
    'relation', 'nearest', ('nearest', 'all'), 'Related base classes of the methods.'
)
_NUM_RELATED = flags.DEFINE_integer(
    'num_related', 10, 'Nearest base classes used (hypotheses mode: 3 unless given).'
)
_NUM_PROJECTIONS = flags.DEFINE_integer(
    'num_projections', 200, 'Hypothesis 1: random directions per pool.'
)
_SETS_PER_SIZE = flags.DEFINE_integer('sets_per_size', 10, 'Hypothesis 1: pools per size.')
_H2_CLASSES = flags.DEFINE_integer(
    'h2_classes', 200, 'Hypothesis 2: evaluation classes used (0 = all).'
)
_H2_DRAWS = flags.DEFINE_integer('h2_draws', 2, 'Hypothesis 2: K-subsets per class and K.')
_SWEEP_STRENGTHS = flags.DEFINE_list(
    'sweep_strengths', ['0.25', '0.5', '1.0'], 'Strengths of the strength sweep (empty: none).'
)
_SWEEP_EPISODES = flags.DEFINE_integer(
    'sweep_episodes', 100, 'Episodes per setting and strength of the sweep (5-way 1- and 5-shot).'
)
_FEATURE_EPOCHS = flags.DEFINE_integer(
    'feature_epochs', 8, 'Training epochs of the feature extractor.'
)
_SEED = flags.DEFINE_integer('seed', 0, 'Seeds every random choice.')
_REWRITE_ONLY = flags.DEFINE_boolean(
    'rewrite_only',
    False,
    'Only regenerate report.md and the plots from --output_dir/results.json (no computation).',
)
flags.mark_flag_as_required('workdir')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow import config_lib, data
    from tfglow.augment import features, latent, report

    options = report.ReportOptions(
        episodes=_EPISODES.value,
        max_classes=_MAX_CLASSES.value,
        settings=tuple((n, k) for n in cli.ints(_WAYS) for k in cli.ints(_SHOTS)),
        queries_per_class=_QUERIES.value,
        num_augmented=_NUM_AUGMENTED.value,
        strength=_STRENGTH.value,
        relation=_RELATION.value,
        num_related=_NUM_RELATED.value,
        num_projections=_NUM_PROJECTIONS.value,
        sets_per_size=_SETS_PER_SIZE.value,
        h2_classes=_H2_CLASSES.value,
        h2_draws=_H2_DRAWS.value,
        sweep_strengths=cli.floats(_SWEEP_STRENGTHS),
        sweep_episodes=_SWEEP_EPISODES.value,
        feature_options=features.FeatureOptions(epochs=_FEATURE_EPOCHS.value, seed=_SEED.value),
        images_per_class=_IMAGES_PER_CLASS.value,
        seed=_SEED.value,
    )
    output_dir = _OUTPUT_DIR.value or os.path.join(_WORKDIR.value, 'augment_report')
    with cli.exit_on_error('tfglow-augment-report'):
        if _REWRITE_ONLY.value:
            results = report.rewrite_report(output_dir)
            print(results['markdown'])
            return
        config = config_lib.read_config(_WORKDIR.value)
        mode = _MODE.value
        if mode == 'auto':
            mode = report.report_mode(config.data.get('name', ''))
        codec = latent.load_codec(_WORKDIR.value, _CHECKPOINT.value, data_path=_DATA_PATH.value)
        if _DATA_PATH.value:
            config.data.path = _DATA_PATH.value
        logging.info('Model %s at step %d; %s report.', codec.checkpoint, codec.step, mode)
        base_arrays = data.load_class_arrays(config.data, config.data.train_split)
        if mode == 'hypotheses':
            options = dataclasses.replace(
                options,
                pool_sizes=report.FLAT_POOL_SIZES,
                num_related=_NUM_RELATED.value if _NUM_RELATED.present else 3,
            )
            results = report.run_hypotheses_report(codec, base_arrays, output_dir, options)
        else:
            eval_arrays = data.load_class_arrays(config.data, config.data.eval_split)
            results = report.run_report(codec, base_arrays, eval_arrays, output_dir, options)
    print(results['markdown'])
    print(f'\nReport in {output_dir}.')


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
