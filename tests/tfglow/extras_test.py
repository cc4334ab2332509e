"""Tests for tfglow.extras: a missing optional dependency names the extra that installs it."""

import sys
from unittest import mock

import tensorflow as tf

from tests.tfglow.data import testdata
from tfglow import data, extras


class ExtrasTest(tf.test.TestCase):
    def test_require_imports_an_installed_module(self):
        import tensorflow_datasets

        self.assertIs(extras.require('tensorflow_datasets', 'this test'), tensorflow_datasets)

    def test_missing_module_names_the_extra(self):
        # None in sys.modules makes `import tensorflow_datasets` fail as if it were not installed.
        with mock.patch.dict(sys.modules, {'tensorflow_datasets': None}):
            with self.assertRaisesRegex(
                extras.MissingExtraError,
                r'^this feature needs tensorflow-datasets, which is not installed: '
                r"pip install 'tfglow\[tfds\]'",
            ):
                extras.require('tensorflow_datasets', 'this feature')

    def test_tfds_source_without_tensorflow_datasets(self):
        config = testdata.data_config(source='tfds', name='cifar10')
        with mock.patch.dict(sys.modules, {'tensorflow_datasets': None}):
            sys.modules.pop('tfglow.data.tfds_source', None)  # back when the patch ends
            # A ValueError too, so that the binaries report it in one line.
            with self.assertRaisesRegex(ValueError, r"config.data.source 'tfds' needs .*tfds"):
                data.get_info(config)


if __name__ == '__main__':
    tf.test.main()
