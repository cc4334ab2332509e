"""Tests for tfglow.config_lib.io: loading config files, writing and reading config.json and
its history."""

import json
import os
import tempfile

import ml_collections
import tensorflow as tf

from tfglow import config_lib


class LoadWriteTest(tf.test.TestCase):
    def _new_tempdir(self):
        # A fresh directory per call; absl's create_tempdir needs parsed flags, which pytest lacks.
        return tempfile.mkdtemp(dir=self.get_temp_dir())

    def test_load_with_variant(self):
        config = config_lib.load_config('configs/fashion_mnist_glow.py:smoke')
        self.assertEqual(config.num_train_steps, 4)

    def test_load_missing_file_lists_configs(self):
        with self.assertRaisesRegex(FileNotFoundError, r'configs/nope\.py.*fashion_mnist_glow'):
            config_lib.load_config('configs/nope.py')

    def test_load_file_without_get_config(self):
        path = os.path.join(self._new_tempdir(), 'empty.py')
        with open(path, 'w') as f:
            f.write('VARIANTS = ()\n')
        with self.assertRaisesRegex(ValueError, 'defines no get_config'):
            config_lib.load_config(path)

    def test_load_validates(self):
        path = os.path.join(self._new_tempdir(), 'bad.py')
        with open(path, 'w') as f:
            f.write(
                'from tfglow import config_lib\n\n\n'
                'def get_config(arg=None):\n'
                '    config = config_lib.base_config()\n'
                '    config.model.n_bits_x = 9\n'
                '    return config\n'
            )
        with self.assertRaisesRegex(ValueError, r'config\.model\.n_bits_x'):
            config_lib.load_config(path)
        self.assertEqual(config_lib.load_config(path, validate=False).model.n_bits_x, 9)

    def test_write_then_read_round_trips(self):
        config = config_lib.load_config('configs/cifar10_glow.py:shuffle_additive')
        workdir = os.path.join(self._new_tempdir(), 'run')
        path = config_lib.write_config(config, workdir)
        self.assertEqual(path, os.path.join(workdir, 'config.json'))
        with open(path) as f:
            self.assertEqual(json.load(f)['model']['permutation'], 'shuffle')
        for source in (workdir, path):
            restored = config_lib.read_config(source)
            self.assertIsInstance(restored, ml_collections.ConfigDict)
            self.assertEqual(restored, config)
            config_lib.validate_config(restored)

    def test_read_missing_says_there_is_no_run(self):
        empty = self._new_tempdir()
        missing = os.path.join(empty, 'missing')
        for path, reason in (
            (empty, 'it has no config.json'),
            (os.path.join(empty, 'config.json'), 'it has no config.json'),
            (missing, 'the directory does not exist'),
        ):
            workdir = missing if path == missing else empty
            with self.assertRaises(FileNotFoundError) as raised:
                config_lib.read_config(path)
            self.assertEqual(
                str(raised.exception),
                f'no training run in {workdir}: {reason}; train with '
                f'tfglow-train --config=<config file> --workdir={workdir} first',
            )

    def test_config_history_appends(self):
        workdir = self._new_tempdir()
        config_lib.append_config_history(workdir, 4, {'num_train_steps': (4, 8)})
        path = config_lib.append_config_history(workdir, 8, {'batch_size': (64, 32)})
        self.assertEqual(path, os.path.join(workdir, 'config_history.json'))
        with open(path) as f:
            self.assertEqual(
                json.load(f),
                [
                    {'step': 4, 'changes': {'num_train_steps': [4, 8]}},
                    {'step': 8, 'changes': {'batch_size': [64, 32]}},
                ],
            )


if __name__ == '__main__':
    tf.test.main()
