"""`tfglow-attributes`: latent attribute directions of a trained model, for `tfglow-export`.

    tfglow-attributes --workdir=workdirs/fashion_mnist_glow --output=directions.npz \\
        [--source=properties|labels|tfds_attributes] [--num_examples=10000] [--quantile=0.2] \\
        [--scale=1.6]

Encodes the first --num_examples images of the run's training split (all latent levels) and writes
one direction per attribute, `scale * (mean z[present] - mean z[absent])` (see tfglow.attributes):
measured image properties (ink, thickness, slant, width, height; top vs bottom --quantile), class
labels, or a tfds dataset's boolean attributes (celeb_a's 40). --scale=1.6 is openai/glow's.
"""

import numpy as np
from absl import app, flags

from tfglow import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir of the model.')
_OUTPUT = flags.DEFINE_string('output', None, 'The .npz file to write.')
_SOURCE = flags.DEFINE_enum(
    'source',
    'properties',
    ('properties', 'labels', 'tfds_attributes'),
    'Where presence/absence comes from.',
)
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', None, "Which checkpoint: 'latest' (default), 'best', a step, or a path."
)
_SPLIT = flags.DEFINE_string('split', None, "Data split; default: the run's training split.")
_NUM_EXAMPLES = flags.DEFINE_integer(
    'num_examples', 10_000, 'Images to encode, from the start of the split (0: all).'
)
_QUANTILE = flags.DEFINE_float(
    'quantile', 0.2, 'properties: present = top quantile, absent = bottom quantile.'
)
_SCALE = flags.DEFINE_float('scale', 1.0, "Factor on the mean difference (1.6 is openai/glow's).")
_BATCH_SIZE = flags.DEFINE_integer('batch_size', 256, 'Images encoded at a time.')
flags.mark_flags_as_required(['workdir', 'output'])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow import attributes, trained

    with cli.exit_on_error('tfglow-attributes'):
        model = trained.load_trained_glow(_WORKDIR.value, _CHECKPOINT.value)
        directions = attributes.directions_for_model(
            model,
            _SOURCE.value,
            split=_SPLIT.value,
            num_examples=_NUM_EXAMPLES.value,
            quantile=_QUANTILE.value,
            scale=_SCALE.value,
            batch_size=_BATCH_SIZE.value,
        )
        directions.save(_OUTPUT.value)
    norms = np.linalg.norm(directions.directions, axis=1)
    for name, present, absent, norm in zip(
        directions.names, directions.present_counts, directions.absent_counts, norms, strict=True
    ):
        print(f'{name}: {present} present, {absent} absent, |z_delta| {norm:.3f}')
    print(_OUTPUT.value)


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
