"""`tfglow-fewshot-eval`: evaluates a support-conditioned model trained by `tfglow-train`.

Runs the few-shot protocol of `tfglow.fewshot` on the evaluation classes of the run's data
(Omniglot: the 659 "images_evaluation" classes): the NLL vs support size K curve against the
no-support and (optionally) an unconditional baseline, likelihood-based N-way K-shot
classification with 95% intervals (episodes of classes from any alphabet, or all from one with
--episode_classes=within_alphabet), the specificity gap (log P(x | its class's support) minus
log P(x | another class of its alphabet's support)), refined sampling grids (support | samples),
and, with --analyses=fidelity, sample fidelity: how often a classifier trained on the training
split's classes puts a sample in its support's class, beside the rate of real images. Writes
results.json, summary.md, samples/*.png, plots/*.png, fidelity/*.png and TensorBoard events to
--output_dir, and prints the tables.

    tfglow-fewshot-eval --workdir=/tmp/omniglot_fewshot_glow \\
        --baseline_workdir=/tmp/omniglot_glow
    tfglow-fewshot-eval --workdir=/tmp/run --analyses=sweep --ks=1,5 --max_classes=50
    tfglow-fewshot-eval --workdir=/tmp/run --analyses=classification --ways=5 --shots=1 \\
        --episodes=1000 --seed=1
    tfglow-fewshot-eval --workdir=/tmp/run --analyses=classification,specificity,fidelity \\
        --ways=20 --shots=1 --episode_classes=cross_alphabet,within_alphabet

Numbers (see tfglow.fewshot.adapters): 'exact' is the exact discrete NLL of an autoregressive model;
for flows 'dequantized' is the standard dequantisation bound (the bits/dim training reports) and
'dequantized_iw' the tighter importance-weighted bound over the same --noise_samples draws; both
are upper bounds on the NLL in expectation. Two runs with the same --seed see the same episodes,
targets and support sets, so models can be compared run by run.
"""

import os

from absl import app, flags, logging

from tfglow import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir of the model to evaluate.')
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', 'latest', "Which checkpoint: 'latest', 'best', a step, or a path."
)
_BASELINE_WORKDIR = flags.DEFINE_string(
    'baseline_workdir', '', 'Optional workdir of an unconditional model to compare with.'
)
_BASELINE_CHECKPOINT = flags.DEFINE_string(
    'baseline_checkpoint', 'latest', 'Which checkpoint of --baseline_workdir.'
)
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', '', 'Where results go. Default: <workdir>/fewshot_eval.'
)
_SPLIT = flags.DEFINE_string(
    'split',
    '',
    "Split of the evaluation classes. Default: the run's config.data.eval_split, restricted to "
    'config.episodes.eval_classes where the run has them.',
)
_DATA_PATH = flags.DEFINE_string(
    'data_path', '', "Overrides the run's config.data.path (data moved since training)."
)
_ANALYSES = flags.DEFINE_list(
    'analyses',
    ['sweep', 'classification', 'specificity', 'sampling'],
    'Any of sweep, classification, specificity, sampling, fidelity (sample fidelity trains a '
    "classifier on the run's training split once, cached in --output_dir).",
)
_KS = flags.DEFINE_list(
    'ks', ['1', '2', '5', '10', '19'], 'Support sizes of the NLL sweep and the specificity gap.'
)
_TARGETS_PER_CLASS = flags.DEFINE_integer(
    'targets_per_class', 1, 'Held-out target images per class in the sweep and specificity gap.'
)
_MAX_CLASSES = flags.DEFINE_integer(
    'max_classes', 0, 'Classes in the sweep and the specificity gap, drawn with --seed; 0 = all.'
)
_WAYS = flags.DEFINE_list('ways', ['5', '20'], 'N of the N-way classification settings.')
_SHOTS = flags.DEFINE_list('shots', ['1', '5'], 'K of the K-shot classification settings.')
_EPISODES = flags.DEFINE_integer('episodes', 600, 'Episodes per classification setting.')
_EPISODE_CLASSES = flags.DEFINE_list(
    'episode_classes',
    ['cross_alphabet'],
    'Classification episodes: cross_alphabet (N classes from any alphabets), within_alphabet '
    '(all N from one alphabet; alphabets with fewer than N classes are skipped), or both.',
)
_QUERIES_PER_CLASS = flags.DEFINE_integer(
    'queries_per_class', 1, 'Query images per class per episode.'
)
_NOISE_SAMPLES = flags.DEFINE_integer(
    'noise_samples', 8, 'Dequantisation noise draws per image (flows only).'
)
_SAMPLE_SETS = flags.DEFINE_integer('sample_sets', 4, 'Support sets to sample from.')
_SAMPLE_SHOTS = flags.DEFINE_integer('sample_shots', 5, 'Images in each sampling support set.')
_SAMPLES_PER_SET = flags.DEFINE_integer('samples_per_set', 8, 'Samples per set and round.')
_ROUNDS = flags.DEFINE_integer(
    'rounds', 2, 'Sampling rounds; each adds its samples to the support set (1 = plain).'
)
_TEMPERATURE = flags.DEFINE_float(
    'temperature', 1.0, 'Sampling temperature (1 samples the model exactly).'
)
_FIDELITY_WAYS = flags.DEFINE_integer('fidelity_ways', 20, 'N of the sample-fidelity episodes.')
_FIDELITY_EPISODES = flags.DEFINE_integer('fidelity_episodes', 10, 'Sample-fidelity episodes.')
_FIDELITY_CLASSES = flags.DEFINE_string(
    'fidelity_classes', 'within_alphabet', 'within_alphabet or cross_alphabet fidelity episodes.'
)
_FIDELITY_TEMPERATURES = flags.DEFINE_list(
    'fidelity_temperatures',
    ['0.6', '0.8'],
    'Sample-fidelity temperatures besides 1.',
)
_FEATURE_EPOCHS = flags.DEFINE_integer(
    'feature_epochs', 8, "Epochs of the sample-fidelity classifier on the run's training split."
)
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 64, 'Images scored per model call.')
_SEED = flags.DEFINE_integer('seed', 0, 'Seeds episodes, targets, support sets and noise.')
flags.mark_flag_as_required('workdir')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow import data
    from tfglow.fewshot.restore import load_workdir
    from tfglow.fewshot.run import EvalOptions, run_evaluation

    options = EvalOptions(
        analyses=tuple(_ANALYSES.value),
        ks=cli.ints(_KS),
        targets_per_class=_TARGETS_PER_CLASS.value,
        max_classes=_MAX_CLASSES.value,
        settings=tuple((n, k) for n in cli.ints(_WAYS) for k in cli.ints(_SHOTS)),
        episode_classes=tuple(_EPISODE_CLASSES.value),
        num_episodes=_EPISODES.value,
        queries_per_class=_QUERIES_PER_CLASS.value,
        sample_sets=_SAMPLE_SETS.value,
        sample_shots=_SAMPLE_SHOTS.value,
        samples_per_set=_SAMPLES_PER_SET.value,
        rounds=_ROUNDS.value,
        temperature=_TEMPERATURE.value,
        fidelity_ways=_FIDELITY_WAYS.value,
        fidelity_episodes=_FIDELITY_EPISODES.value,
        fidelity_classes=_FIDELITY_CLASSES.value,
        fidelity_temperatures=cli.floats(_FIDELITY_TEMPERATURES),
        feature_epochs=_FEATURE_EPOCHS.value,
        batch_size=_BATCH_SIZE.value,
        seed=_SEED.value,
    )
    with cli.exit_on_error('tfglow-fewshot-eval'):
        loaded = load_workdir(
            _WORKDIR.value,
            _CHECKPOINT.value,
            num_noise_samples=_NOISE_SAMPLES.value,
            data_path=_DATA_PATH.value,
        )
        logging.info('Evaluating %s at step %d.', loaded.checkpoint, loaded.step)
        metadata = {'workdir': _WORKDIR.value, 'checkpoint': loaded.checkpoint, 'step': loaded.step}
        baseline = None
        if _BASELINE_WORKDIR.value:
            loaded_baseline = load_workdir(
                _BASELINE_WORKDIR.value,
                _BASELINE_CHECKPOINT.value,
                num_noise_samples=_NOISE_SAMPLES.value,
                data_path=_DATA_PATH.value,
            )
            baseline = loaded_baseline.adapter
            metadata['baseline_workdir'] = _BASELINE_WORKDIR.value
            metadata['baseline_checkpoint'] = loaded_baseline.checkpoint
        data_config, episodes = loaded.config.data, loaded.config.get('episodes')
        metadata['split'] = split = _SPLIT.value or data_config.eval_split
        # Episodic runs may evaluate on some classes only (config.episodes.eval_classes; () = all).
        classes = None
        if not _SPLIT.value and episodes is not None:
            classes = tuple(episodes.eval_classes) or None
        class_arrays = data.load_class_arrays(data_config, split, classes)
        base_class_arrays = None
        if 'fidelity' in options.analyses:
            # The fidelity classifier learns the run's training classes only, never these.
            train_classes = None if episodes is None else tuple(episodes.train_classes) or None
            base_class_arrays = data.load_class_arrays(
                data_config, data_config.train_split, train_classes
            )
        output_dir = _OUTPUT_DIR.value or os.path.join(_WORKDIR.value, 'fewshot_eval')
        results = run_evaluation(
            loaded.adapter,
            class_arrays,
            output_dir,
            options,
            baseline=baseline,
            metadata=metadata,
            base_class_arrays=base_class_arrays,
        )
    print(results['summary'])
    print(f'\nResults in {output_dir}.')


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
