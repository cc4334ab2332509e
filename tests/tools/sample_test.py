"""End-to-end tests of the `tfglow-sample` binary."""

import os

import pytest
import tensorflow as tf

from tests.tfglow import export_helpers


def _png_shape(path: str) -> tuple[int, ...]:
    return tuple(tf.io.decode_png(tf.io.read_file(path)).shape)


@pytest.mark.slow
class SampleBinaryTest(tf.test.TestCase):
    def test_writes_grids(self):
        output_dir = os.path.join(self.get_temp_dir(), 'pngs')
        result = export_helpers.run(
            [
                export_helpers.console_script('tfglow-sample'),
                f'--workdir={export_helpers.trained_workdir()}',
                f'--output_dir={output_dir}',
                '--temperatures=0,0.5,1',
                '--num_samples=6',
                '--num_pairs=3',
                '--num_steps=4',
            ]
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        names = ['samples_T0.0.png', 'samples_T0.5.png', 'samples_T1.0.png', 'interpolation.png']
        self.assertEqual(result.stdout.split(), [os.path.join(output_dir, name) for name in names])
        self.assertIn("T=0: the decoded prior mean (mode of each level's prior)", result.stderr)
        # 6 samples: 2 rows of 3 images of 28 x 28, 1 px padding; interpolation: 3 rows of 4;
        # upscaled 3 times by default (84-pixel images).
        self.assertEqual(_png_shape(os.path.join(output_dir, names[0])), (3 * 59, 3 * 88, 1))
        self.assertEqual(_png_shape(os.path.join(output_dir, names[3])), (3 * 88, 3 * 117, 1))

    def test_errors_end_with_a_message(self):
        result = export_helpers.run(
            [
                export_helpers.console_script('tfglow-sample'),
                f'--workdir={export_helpers.trained_workdir()}',
                '--temperatures=warm',
            ]
        )
        self.assertNotEqual(result.returncode, 0)
        self.assertIn('--temperatures must be numbers; got warm', result.stderr)


if __name__ == '__main__':
    tf.test.main()
