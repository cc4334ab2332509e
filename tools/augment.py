"""`tfglow-augment`: new images of few-shot classes, made in a Glow's latent space.

Reads `--input_dir/<class>/<image>.png` (a few images per class), encodes them with the flow of a
`tfglow-train` workdir (a 'glow' run, or 'fewshot_glow' with context 'none') or of a SavedModel,
moves their latents with the statistics of related base classes (see tfglow.augment.methods) and
writes the decoded images to `--output_dir/<class>/aug_NNNN.png`, and one labelled contact sheet per
class (its support images above the generated ones) to `--contact_sheet_dir/<class>.png`:

    tfglow-augment --workdir=workdirs/omniglot_fewshot_glow_unconditional --input_dir=my_chars \\
        --output_dir=/tmp/augmented --method=pooled --num_per_class=20 --strength=0.8

Methods: 'pooled' (K-shot mean + a normal deviation with the pooled covariance of the nearest
base classes), 'transfer' (a support latent + a real deviation of a related base image),
'calibrated' (Distribution Calibration). The base classes default to the Omniglot background set
(`--base=omniglot_background`, the npz files of ../shared/data/omniglot or --data_path), or any
folder of class subfolders (`--base=/path`). Images are taken as the model saw them in training
(tfglow's Omniglot: white ink on black); `--invert` flips inputs and outputs (black on white).

`--export_dir` also writes a SavedModel for TF Serving with signatures `augment` (method
'pooled', the base statistics stored as variables), `encode` and `decode` (see
tfglow.serving.augment); --input_dir is then optional:

    tfglow-augment --workdir=workdirs/omniglot_fewshot_glow_unconditional \\
        --export_dir=/tmp/augment_export
"""

import os
import time

import ml_collections
from absl import app, flags

from tfglow import cli

_WORKDIR = flags.DEFINE_string('workdir', '', 'Training workdir of the flow.')
_CHECKPOINT = flags.DEFINE_string(
    'checkpoint', 'latest', "Which checkpoint of --workdir: 'latest', 'best', a step, a path."
)
_SAVED_MODEL = flags.DEFINE_string(
    'saved_model',
    '',
    'Instead of --workdir: a SavedModel version directory with encode and decode signatures.',
)
_INPUT_DIR = flags.DEFINE_string('input_dir', '', 'Folder of class subfolders of images.')
_OUTPUT_DIR = flags.DEFINE_string('output_dir', '', 'Where the augmented class folders go.')
_METHOD = flags.DEFINE_enum(
    'method', 'pooled', ('pooled', 'transfer', 'calibrated'), 'Augmentation method.'
)
_NUM_PER_CLASS = flags.DEFINE_integer('num_per_class', 10, 'Images to make per class.')
_STRENGTH = flags.DEFINE_float('strength', 1.0, 'Scale of the latent deviations (>= 0).')
_SEED = flags.DEFINE_integer('seed', 0, 'Seed of the augmentation noise.')
_RELATION = flags.DEFINE_enum(
    'relation', 'nearest', ('nearest', 'all'), 'Which base classes are related to a class.'
)
_NUM_RELATED = flags.DEFINE_integer('num_related', 10, "Base classes of 'nearest'.")
_BASE = flags.DEFINE_string(
    'base',
    'omniglot_background',
    "Base classes: 'omniglot_background' or a folder of class subfolders of images.",
)
_DATA_PATH = flags.DEFINE_string(
    'data_path', '', 'Folder of the Omniglot npz files for --base=omniglot_background.'
)
_INVERT = flags.DEFINE_boolean(
    'invert', False, 'Invert input, base-folder and output images (black ink on white).'
)
_CONTACT_SHEET_DIR = flags.DEFINE_string(
    'contact_sheet_dir',
    '',
    'Where the per-class contact sheets go; default <output_dir>_contact_sheets (outside '
    '--output_dir, which stays a folder of class folders only).',
)
_EXPORT_DIR = flags.DEFINE_string(
    'export_dir', '', 'If set, also export the augmentation SavedModel to <export_dir>/<version>.'
)


def _base_arrays(image_shape) -> dict:
    from tfglow import data
    from tfglow.augment import folders

    if _BASE.value == 'omniglot_background':
        data_config = ml_collections.ConfigDict(
            {
                'source': 'omniglot_npz',
                'name': 'omniglot',
                'path': _DATA_PATH.value,
                'image_size': 0,
                'train_split': 'train',
                'eval_split': 'test',
                'shuffle_buffer': 1000,
            }
        )
        arrays = data.load_class_arrays(data_config, 'train')
        shape = next(iter(arrays.values())).shape[1:]
        if tuple(shape) != tuple(image_shape):
            raise ValueError(
                f'the Omniglot background images are {list(shape)} but the model takes '
                f'{list(image_shape)}: pass --base=<folder of class subfolders> for this model.'
            )
        return arrays
    return folders.read_class_folders(_BASE.value, image_shape, invert=_INVERT.value)


def augment_folders() -> None:
    """Everything `main` does, raising OSError / ValueError with a message on bad input."""
    # Imported here, not at the top: they load TensorFlow, which --help does without.
    from tfglow.augment import folders, latent, methods
    from tfglow.serving import augment as serving

    if bool(_WORKDIR.value) == bool(_SAVED_MODEL.value):
        raise ValueError('pass exactly one of --workdir and --saved_model.')
    if not _INPUT_DIR.value and not _EXPORT_DIR.value:
        raise ValueError('nothing to do: pass --input_dir (with --output_dir) or --export_dir.')
    if _INPUT_DIR.value and not _OUTPUT_DIR.value:
        raise ValueError('--input_dir needs --output_dir.')
    if _EXPORT_DIR.value and _SAVED_MODEL.value:
        raise ValueError('--export_dir needs the flow itself: use --workdir, not --saved_model.')
    if _NUM_PER_CLASS.value < 1:
        raise ValueError(f'--num_per_class must be >= 1; got {_NUM_PER_CLASS.value}.')
    options = methods.AugmentOptions(
        _METHOD.value,
        strength=_STRENGTH.value,
        relation=_RELATION.value,
        num_related=_NUM_RELATED.value,
    )
    if _WORKDIR.value:
        codec = latent.load_codec(_WORKDIR.value, _CHECKPOINT.value)
    else:
        codec = latent.SavedModelCodec(_SAVED_MODEL.value)
    print(f'Model: {codec.name} ({codec.checkpoint or "SavedModel"}), images {codec.image_shape}.')
    inputs = {}
    if _INPUT_DIR.value:
        # Checked before the base set is encoded, so bad input fails fast.
        inputs = folders.read_class_folders(_INPUT_DIR.value, codec.image_shape, _INVERT.value)
        print(f'Read {sum(len(v) for v in inputs.values())} images of {len(inputs)} classes.')
    start = time.monotonic()
    base_arrays = _base_arrays(codec.image_shape)
    print(
        f'Encoding {sum(len(v) for v in base_arrays.values())} images of {len(base_arrays)} base '
        'classes...',
        flush=True,
    )
    base = methods.BaseStatistics(latent.encode_classes(codec, base_arrays))
    print(f'Base statistics ready in {time.monotonic() - start:.0f} s.', flush=True)
    sheet_dir = _CONTACT_SHEET_DIR.value or _OUTPUT_DIR.value.rstrip('/') + '_contact_sheets'
    how = f'method {_METHOD.value!r}, strength {_STRENGTH.value:g}'
    for index, (name, images) in enumerate(inputs.items()):
        support = codec.encode(images)
        z = methods.augment_latents(
            support, base, _NUM_PER_CLASS.value, options, seed=[_SEED.value, index]
        )
        generated = codec.decode(z)
        paths = folders.write_class_folders(
            _OUTPUT_DIR.value, {name: generated}, invert=_INVERT.value
        )
        sheet = folders.contact_sheet_path(sheet_dir, name)
        folders.write_contact_sheet(sheet, name, images, generated, how, invert=_INVERT.value)
        print(
            f'[{index + 1}/{len(inputs)}] {name}: {len(images)} images -> {len(paths[name])} '
            f'augmented in {os.path.dirname(paths[name][0])}; contact sheet {sheet}',
            flush=True,
        )
    if _EXPORT_DIR.value:
        path = serving.export_augment_saved_model(
            codec, base, _EXPORT_DIR.value, num_related=_NUM_RELATED.value
        )
        print(f'Exported the augmentation SavedModel to {path}')


def main(argv: list[str]) -> None:
    if len(argv) > 1:
        raise app.UsageError(f'Unexpected arguments: {" ".join(argv[1:])}')
    with cli.exit_on_error('tfglow-augment'):
        augment_folders()


def run() -> None:
    """Console-script entry point."""
    cli.run(main, __name__)


if __name__ == '__main__':
    run()
