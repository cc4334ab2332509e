"""End-to-end tests of the `tfglow-export` binary."""

import ast
import json
import os
import re

import numpy as np
import pytest
import tensorflow as tf

from tests.tfglow import export_helpers
from tfglow import attributes
from tfglow.serving import checks, glow, versions


@pytest.mark.slow
class ExportBinaryTest(tf.test.TestCase):
    def test_exports_a_conditional_model_with_attributes(self):
        workdir = export_helpers.conditional_workdir()
        directions_path = os.path.join(self.get_temp_dir(), 'directions.npz')
        attributes.AttributeDirections(
            names=('up', 'down'),
            directions=np.ones([2, 784], np.float32),
            present_counts=np.ones(2),
            absent_counts=np.ones(2),
        ).save(directions_path)
        base = os.path.join(self.get_temp_dir(), 'exports')
        os.makedirs(os.path.join(base, '4'))  # Versions continue after the largest present.
        result = export_helpers.run(
            [
                export_helpers.console_script('tfglow-export'),
                f'--workdir={workdir}',
                f'--export_dir={base}',
                '--checkpoint=best',
                f'--attributes={directions_path}',
            ]
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        path = os.path.join(base, '5')
        self.assertEqual(result.stdout.strip().splitlines()[-1], path)
        with open(os.path.join(path, versions.METADATA_PATH)) as f:
            metadata = json.load(f)
        self.assertEqual(metadata['attributes'], ['up', 'down'])
        self.assertEqual(metadata['checkpoint'], os.path.join(workdir, 'best', 'ckpt-2'))
        self.assertEqual(metadata['num_classes'], 10)
        self.assertEqual(len(metadata['class_names']), 10)
        # Class-conditional: every signature takes one label per image.
        for name in glow.SIGNATURES:
            self.assertEqual(
                metadata['signatures'][name]['inputs']['label'], {'dtype': 'int32', 'shape': [-1]}
            )
        signatures = tf.saved_model.load(path).signatures
        images = signatures['serving_default'](
            num=tf.constant(2),
            temperature=tf.constant(0.7),
            seed=tf.constant(0, tf.int64),
            label=tf.constant([3, 4]),
        )['images']
        self.assertEqual(images.shape, (2, 28, 28, 1))

    def test_exports_a_few_shot_model(self):
        workdir = export_helpers.untrained_workdir(
            'configs/omniglot_fewshot_glow.py:smoke,unconditional'
        )
        base = os.path.join(self.get_temp_dir(), 'fewshot_exports')
        result = export_helpers.run(
            [
                export_helpers.console_script('tfglow-export'),
                f'--workdir={workdir}',
                f'--export_dir={base}',
                '--num_noise_samples=2',
                '--max_batch=4',
            ]
        )
        self.assertEqual(result.returncode, 0, result.stderr[-3000:])
        path = os.path.join(base, '1')
        self.assertEqual(result.stdout.strip().splitlines()[-1], path)
        with open(os.path.join(path, versions.METADATA_PATH)) as f:
            metadata = json.load(f)
        self.assertEqual(metadata['model_family'], 'fewshot_glow')
        self.assertEqual(metadata['num_noise_samples'], 2)
        self.assertEqual(metadata['max_batch'], 4)
        signatures = tf.saved_model.load(path).signatures
        self.assertEqual(
            set(signatures),
            {'serving_default', 'fewshot_log_prob', 'fewshot_sample', 'encode', 'decode'},
        )
        images = signatures['fewshot_sample'](
            support=tf.zeros([2, 1, 28, 28, 1], tf.uint8),
            num=tf.constant(2),
            temperature=tf.constant(0.7),
            seed=tf.constant(0, tf.int64),
        )['images']
        self.assertEqual(images.shape, (2, 2, 28, 28, 1))
        latents = signatures['encode'](images=images[0])['latents']
        self.assertAllEqual(signatures['decode'](latents=latents)['images'], images[0])
        # num * B = 6 images > --max_batch=4.
        with self.assertRaisesRegex(
            tf.errors.InvalidArgumentError, re.escape('num * B must be <= 4')
        ):
            signatures['fewshot_sample'](
                support=tf.zeros([3, 1, 28, 28, 1], tf.uint8),
                num=tf.constant(2),
                temperature=tf.constant(0.7),
                seed=tf.constant(0, tf.int64),
            )

    def test_default_max_batch_is_the_librarys(self):
        # Read from the source: the binary spells it out so that --help needs no TensorFlow, and
        # importing it would define flags that other binaries' tests define too.
        with open(os.path.join(export_helpers.REPO_ROOT, 'tools', 'export.py')) as f:
            tree = ast.parse(f.read())
        defaults = {
            node.args[0].value: node.args[1].value
            for node in ast.walk(tree)
            if isinstance(node, ast.Call) and getattr(node.func, 'attr', '') == 'DEFINE_integer'
        }
        self.assertEqual(defaults['max_batch'], checks.DEFAULT_MAX_BATCH)

    def test_errors_end_with_a_message(self):
        result = export_helpers.run(
            [
                export_helpers.console_script('tfglow-export'),
                f'--workdir={self.get_temp_dir()}',
                f'--export_dir={self.get_temp_dir()}',
            ]
        )
        self.assertEqual(result.returncode, 1)
        self.assertIn('tfglow-export: error: no training run in', result.stderr)
        self.assertNotIn('Traceback', result.stderr)


if __name__ == '__main__':
    tf.test.main()
