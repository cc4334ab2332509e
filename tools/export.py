"""`tfglow-export`: a training workdir's EMA model as a SavedModel for TF Serving.

    tfglow-export --workdir=workdirs/fashion_mnist_glow --export_dir=exports/fashion_mnist_glow \\
        [--checkpoint=best] [--attributes=directions.npz] [--version=3] [--max_batch=1024]
    tfglow-export --workdir=workdirs/omniglot_fewshot_glow \\
        --export_dir=exports/omniglot_fewshot_glow [--num_noise_samples=8]

Writes `<export_dir>/<version>/` (the next free version by default) and prints its path. The
run's `config.model.name` decides the signatures: a 'glow' run gets serving_default,
bits_per_dim, encode, decode, interpolate and manipulate (see tfglow.serving.glow); `--attributes`
takes the file written by `tfglow-attributes`. A 'fewshot_glow' run gets fewshot_log_prob and
fewshot_sample (plus encode and decode for `context='none'`), an 'attention_pixelcnn' or
'pixelcnn' run log_prob and sample (see tfglow.serving.fewshot), a 'meta_pixelcnn' run the same
(tfglow.serving.meta_pixel_cnn); `--num_noise_samples` sets the
dequantisation draws of fewshot_log_prob. `--max_batch` caps the images one request may make
(`num`, `B * num_steps`, `num * B`; stored in the metadata), so one request cannot exhaust the
server's memory.
"""

from absl import app, flags

from tfglow import cli

_WORKDIR = flags.DEFINE_string('workdir', None, 'Training workdir of the model to export.')
_EXPORT_DIR = flags.DEFINE_string(
    'export_dir', None, "Base directory of the model's versions (TF Serving's model_base_path)."
)
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', None, "Which checkpoint: 'latest' (default), 'best', a step, or a path."
)
_ATTRIBUTES = flags.DEFINE_string(
    'attributes', None, 'Attribute directions from tfglow-attributes, for the manipulate signature.'
)
_NUM_NOISE_SAMPLES = flags.DEFINE_integer(
    'num_noise_samples',
    8,
    "Dequantisation noise draws of a few-shot Glow's fewshot_log_prob (other models ignore it).",
)
_MAX_BATCH = flags.DEFINE_integer(
    'max_batch',
    1024,
    'The most images one request may make (num, B * num_steps, num * B); larger ones are '
    'refused with InvalidArgument.',
)
_VERSION = flags.DEFINE_integer(
    'version', None, 'Version number to write; default: one more than the largest present.'
)
flags.mark_flags_as_required(['workdir', 'export_dir'])


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow.serving import export

    with cli.exit_on_error('tfglow-export'):
        path = export.export_saved_model(
            _WORKDIR.value,
            _EXPORT_DIR.value,
            _CHECKPOINT.value,
            attributes=_ATTRIBUTES.value,
            version=_VERSION.value,
            num_noise_samples=_NUM_NOISE_SAMPLES.value,
            max_batch=_MAX_BATCH.value,
        )
    print(path)


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
