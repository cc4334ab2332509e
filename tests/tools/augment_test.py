"""`tfglow-augment` end to end: real Omniglot characters, the smoke model, a fresh process.

The tool is run as a subprocess (its flags share names with the other tools', so it is not
imported here). Its checks of class folders are `tfglow.augment.folders`' (tested there); the
SavedModel it exports with --export_dir is `tfglow.serving.augment`'s (tested there).
"""

import glob
import os
import subprocess

import numpy as np
import tensorflow as tf

from tests.tfglow.augment import helpers
from tests.tools.run_binary import run_binary
from tfglow.augment import folders


def _run(*args: str) -> subprocess.CompletedProcess:
    return run_binary('augment', *args)


class AugmentBinaryTest(tf.test.TestCase):
    def test_augments_class_folders(self):
        root = self.get_temp_dir()
        inputs = {name: images[:3] for name, images in helpers.omniglot('test', 2, seed=5).items()}
        # Black ink on white, as Omniglot's own PNGs: --invert maps them to the model's ink.
        folders.write_class_folders(os.path.join(root, 'in'), inputs, prefix='shot', invert=True)
        folders.write_class_folders(os.path.join(root, 'base'), helpers.omniglot('train', 6))
        result = _run(
            f'--workdir={helpers.smoke_workdir()}',
            f'--input_dir={root}/in',
            f'--output_dir={root}/out',
            f'--base={root}/base',
            '--method=transfer',
            '--num_per_class=4',
            '--num_related=2',
            '--strength=0.5',
            '--invert',
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn('Read 6 images of 2 classes.', result.stdout)
        self.assertIn('[2/2]', result.stdout)
        outputs = sorted(glob.glob(os.path.join(root, 'out', '*', 'aug_*.png')))
        self.assertLen(outputs, 8)
        sheets = sorted(glob.glob(os.path.join(root, 'out_contact_sheets', '*.png')))
        self.assertLen(sheets, 2)
        self.assertIn(f'contact sheet {sheets[0]}', result.stdout)
        written = folders.read_class_folders(os.path.join(root, 'out'), (28, 28, 1))
        for images in written.values():
            self.assertEqual(images.shape, (4, 28, 28, 1))
            # Inverted back: mostly white background.
            self.assertGreater(np.mean(images == 255), 0.5)

    def test_errors_name_the_problem(self):
        root = self.get_temp_dir()
        result = _run(f'--workdir={root}/missing', f'--input_dir={root}', f'--output_dir={root}/o')
        self.assertNotEqual(result.returncode, 0)
        self.assertIn(
            f"tfglow-augment: error: workdir '{root}/missing' does not exist", result.stderr
        )
        self.assertNotIn('Traceback', result.stderr)


if __name__ == '__main__':
    tf.test.main()
