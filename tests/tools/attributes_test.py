"""End-to-end tests of the `tfglow-attributes` binary."""

import os

import pytest
import tensorflow as tf

from tests.tfglow import export_helpers
from tfglow import attributes


@pytest.mark.slow
class AttributesBinaryTest(tf.test.TestCase):
    def test_writes_directions(self):
        output = os.path.join(self.get_temp_dir(), 'out', 'directions.npz')
        result = export_helpers.run(
            [
                export_helpers.console_script('tfglow-attributes'),
                f'--workdir={export_helpers.trained_workdir()}',
                f'--output={output}',
                '--num_examples=200',
                '--quantile=0.25',
                '--scale=1.6',
            ]
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        self.assertIn('ink: 50 present, 50 absent', result.stdout)
        directions = attributes.load_directions(output)
        self.assertEqual(directions.names, attributes.PROPERTIES)
        self.assertEqual(directions.directions.shape, (5, 784))
        self.assertEqual(directions.scale, 1.6)
        self.assertEqual(directions.metadata['quantile'], 0.25)


if __name__ == '__main__':
    tf.test.main()
