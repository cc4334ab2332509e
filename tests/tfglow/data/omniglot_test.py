"""Tests for tfglow.data.omniglot on a tiny npz and on ../shared/data/omniglot."""

import os
import unittest

import numpy as np
import tensorflow as tf

from tests.tfglow.data import testdata
from tfglow import data
from tfglow.data import omniglot


def _drawings(value: int, count: int = 2) -> np.ndarray:
    return np.full((count, 784), value, np.uint8)


class OmniglotNpzTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.directory = os.path.join(self.get_temp_dir(), self.id().split('.')[-1])
        os.makedirs(self.directory)
        self._write(
            'train_small.npz',
            {
                'images_background/Latin/character02': _drawings(0),
                'images_background/Greek/character01': _drawings(255),
                'images_background/Latin/character01': _drawings(5),
            },
        )
        self._write('test_small.npz', {'images_evaluation/Angelic/character01': _drawings(0, 3)})
        self.config = testdata.data_config(source='omniglot_npz', path=self.directory)

    def _write(self, name, arrays):
        np.savez(os.path.join(self.directory, name), **arrays)

    def test_info_per_split(self):
        info = data.get_info(self.config)
        self.assertEqual(info.image_shape, (28, 28, 1))
        self.assertEqual(info.split_sizes, {'train': 6, 'test': 3})
        self.assertEqual(
            info.class_names, ['Greek/character01', 'Latin/character01', 'Latin/character02']
        )
        self.assertEqual(info.class_groups, ['Greek', 'Latin', 'Latin'])
        test_info = data.get_info(self.config, 'test')
        self.assertEqual(test_info.num_classes, 1)
        self.assertEqual(test_info.class_groups, ['Angelic'])

    def test_images_are_inverted_and_labelled_by_sorted_class(self):
        arrays = omniglot.load(self.config, 'train')
        self.assertEqual(arrays.images.shape, (6, 28, 28, 1))
        np.testing.assert_array_equal(arrays.labels, [0, 0, 1, 1, 2, 2])
        np.testing.assert_array_equal(arrays.images[:, 0, 0, 0], [0, 0, 250, 250, 255, 255])

    def test_load_class_arrays(self):
        arrays = data.load_class_arrays(self.config, 'test')
        self.assertEqual(list(arrays), ['Angelic/character01'])
        self.assertAllEqual(arrays['Angelic/character01'], np.full((3, 28, 28, 1), 255))

    def test_unknown_split(self):
        with self.assertRaisesRegex(ValueError, "unknown split 'evaluation'.*'train', 'test'"):
            data.get_info(self.config, 'evaluation')

    def test_missing_folder(self):
        config = testdata.data_config(source='omniglot_npz', path='/nonexistent/omniglot')
        with self.assertRaisesRegex(FileNotFoundError, '/nonexistent/omniglot'):
            data.get_info(config)

    def test_corrupt_file(self):
        testdata.write_file(os.path.join(self.directory, 'test_small.npz'), b'PK\x03\x04junk')
        with self.assertRaisesRegex(ValueError, 'cannot read Omniglot file .*test_small.npz'):
            data.make_dataset(self.config, 'test', 2, training=False)

    def test_bad_key(self):
        self._write('test_small.npz', {'images_background/Latin/character01': _drawings(0)})
        with self.assertRaisesRegex(ValueError, 'is not images_evaluation/<Alphabet>'):
            data.make_dataset(self.config, 'test', 2, training=False)

    def test_bad_shape(self):
        self._write('test_small.npz', {'images_evaluation/A/character01': np.zeros((2, 10))})
        with self.assertRaisesRegex(ValueError, r'float64 \(2, 10\), expected uint8 \(n, 784\)'):
            data.make_dataset(self.config, 'test', 2, training=False)


class SearchDirsTest(tf.test.TestCase):
    def test_only_shared_beside_the_repo_and_the_working_directory(self):
        repo_root = os.path.dirname(os.path.dirname(os.path.dirname(os.path.dirname(__file__))))
        relative = os.path.join('..', 'shared', 'data', 'omniglot')
        self.assertEqual(
            omniglot.search_dirs(),
            [
                os.path.normpath(os.path.join(os.path.realpath(repo_root), relative)),
                os.path.normpath(os.path.join(os.getcwd(), relative)),
            ],
        )


@unittest.skipUnless(
    any(os.path.isfile(os.path.join(d, 'train_small.npz')) for d in omniglot.search_dirs()),
    f'Omniglot npz files not in {", ".join(omniglot.search_dirs())}',
)
class SharedOmniglotTest(tf.test.TestCase):
    def test_found_automatically(self):
        config = testdata.data_config(source='omniglot_npz', name='omniglot')
        info = data.get_info(config)
        self.assertEqual(info.num_classes, 964)
        self.assertEqual(info.split_sizes, {'train': 19280, 'test': 13180})
        self.assertLen(set(info.class_groups), 30)
        self.assertEqual(data.get_info(config, 'test').num_classes, 659)
        batch = testdata.batches(data.make_dataset(config, 'train', 64, training=True), 1)[0]
        self.assertEqual(batch['image'].shape, (64, 28, 28, 1))
        self.assertLess(batch['image'].mean(), 80)  # mostly background = 0 after inversion
        arrays = data.load_class_arrays(config, 'test')
        self.assertLen(arrays, 659)
        self.assertEqual(arrays['Angelic/character01'].shape, (20, 28, 28, 1))


if __name__ == '__main__':
    tf.test.main()
