"""`tfglow-sample`: PNG sample grids and interpolation strips from a trained model.

    tfglow-sample --workdir=workdirs/fashion_mnist_glow [--output_dir=...] \\
        [--temperatures=0,0.5,0.7,1] [--num_samples=16] [--seed=0] [--num_pairs=4] \\
        [--num_steps=8] [--upscale=4]

Writes `samples_T<t>.png` for each temperature (one row per class for class-conditional models)
and `interpolation.png` (one row per pair of eval-split images, the latent path between them) with
the EMA weights, through the same functions the SavedModel export serves (see tfglow.sampling).
The T=0 grid is the decoded prior mean (every level's noise zero), not a sample. Pixels are
upscaled nearest-neighbour (default: each image at least 64 pixels wide; --upscale=1: none).
"""

import os

from absl import app, flags

from tfglow import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir of the model.')
_OUTPUT_DIR = flags.DEFINE_string(
    'output_dir', None, 'Where the PNGs go; default <workdir>/samples.'
)
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', None, "Which checkpoint: 'latest' (default), 'best', a step, or a path."
)
_TEMPERATURES = flags.DEFINE_list(
    'temperatures', ['0.0', '0.5', '0.7', '1.0'], 'Sampling temperatures, one grid each.'
)
_NUM_SAMPLES = flags.DEFINE_integer('num_samples', 16, 'Images per sample grid.')
_SEED = flags.DEFINE_integer('seed', 0, 'Sampling seed (the same for every temperature).')
_NUM_PAIRS = flags.DEFINE_integer(
    'num_pairs', 4, 'Rows of interpolation.png, each between two images (0: none).'
)
_NUM_STEPS = flags.DEFINE_integer('num_steps', 8, 'Images per interpolation row, ends included.')
_SPLIT = flags.DEFINE_string(
    'split', None, 'Split of interpolated images; default: the eval split.'
)
_UPSCALE = flags.DEFINE_integer(
    'upscale', 0, 'Nearest-neighbour pixel upscaling of the PNGs (0: images >= 64 px, 1: none).'
)
flags.mark_flags_as_required(['workdir'])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow import sampling

    try:
        temperatures = [float(t) for t in _TEMPERATURES.value]
    except ValueError:
        raise app.UsageError(
            f'--temperatures must be numbers; got {",".join(_TEMPERATURES.value)}'
        ) from None
    output_dir = _OUTPUT_DIR.value or os.path.join(_WORKDIR.value, 'samples')
    with cli.exit_on_error('tfglow-sample'):
        paths = sampling.write_sample_pngs(
            _WORKDIR.value,
            output_dir,
            _CHECKPOINT.value,
            temperatures=temperatures,
            num_samples=_NUM_SAMPLES.value,
            seed=_SEED.value,
            num_pairs=_NUM_PAIRS.value,
            num_steps=_NUM_STEPS.value,
            split=_SPLIT.value,
            upscale=_UPSCALE.value,
        )
    print('\n'.join(paths))


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
