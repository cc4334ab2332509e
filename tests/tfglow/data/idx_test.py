"""Tests for tfglow.data.idx on tiny idx files and on Debian's Fashion-MNIST."""

import gzip
import os
import shutil
import unittest

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow.data import testdata
from tfglow import data
from tfglow.data import idx


class IdxTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.directory = os.path.join(self.get_temp_dir(), self.id().split('.')[-1])
        self.images = testdata.images(12, 4, 5, 1)[..., 0]
        self.labels = np.arange(12) % 10
        testdata.write_idx(self.directory, 'train', self.images, self.labels, gz=False)
        self.config = testdata.data_config(path=self.directory, name='mnist')

    def _file(self, name='train-images-idx3-ubyte'):
        return os.path.join(self.directory, name)

    def _rewrite(self, transform, name='train-images-idx3-ubyte'):
        with open(self._file(name), 'rb') as f:
            content = f.read()
        with open(self._file(name), 'wb') as f:
            f.write(transform(content))

    def test_reads_raw_files_and_names_mnist_classes(self):
        info = data.get_info(self.config)
        self.assertEqual(info.image_shape, (4, 5, 1))
        self.assertEqual(info.split_sizes, {'train': 12})  # no t10k files: no test split
        self.assertEqual(info.class_names, [str(d) for d in range(10)])
        arrays = idx.load(self.config, 'train')
        np.testing.assert_array_equal(arrays.images[..., 0], self.images)
        np.testing.assert_array_equal(arrays.labels, self.labels)
        self.assertEqual(arrays.labels.dtype, np.int32)

    def test_reads_gzipped_files(self):
        testdata.write_idx(self.directory, 't10k', self.images[:3], self.labels[:3], gz=True)
        batch = testdata.batches(data.make_dataset(self.config, 'test', 8, training=False))[0]
        np.testing.assert_array_equal(batch['image'][..., 0], self.images[:3])

    def test_bad_magic(self):
        self._rewrite(lambda content: b'\0\0\x08\x02' + content[4:])
        with self.assertRaisesRegex(ValueError, 'train-images-idx3-ubyte is not an idx file'):
            data.get_info(self.config)

    def test_truncated(self):
        self._rewrite(lambda content: content[:-7])
        with self.assertRaisesRegex(ValueError, 'train-images-idx3-ubyte has .* bytes .*truncated'):
            data.get_info(self.config)

    def test_truncated_gzip(self):
        testdata.write_idx(self.directory, 't10k', self.images, self.labels, gz=True)
        self._rewrite(lambda content: content[: len(content) // 2], 't10k-images-idx3-ubyte.gz')
        with self.assertRaisesRegex(ValueError, 'cannot read idx file .*t10k-images'):
            data.make_dataset(self.config, 'test', 4, training=False)

    def test_counts_disagree(self):
        testdata.write_idx(self.directory, 'train', self.images, self.labels[:-1], gz=False)
        with self.assertRaisesRegex(ValueError, 'holds 12 images but .* holds 11 labels'):
            data.get_info(self.config)

    def test_missing_files(self):
        os.remove(self._file('train-labels-idx1-ubyte'))
        with self.assertRaisesRegex(FileNotFoundError, 'train-labels-idx1-ubyte.gz'):
            data.get_info(self.config)

    def test_missing_folder(self):
        config = testdata.data_config(path=os.path.join(self.directory, 'nope'))
        with self.assertRaisesRegex(FileNotFoundError, 'nope.*does not exist'):
            data.get_info(config)

    def test_empty_path_only_finds_fashion_mnist(self):
        with self.assertRaisesRegex(ValueError, 'set config.data.path'):
            data.get_info(testdata.data_config(name='mnist'))


@unittest.skipUnless(
    os.path.isdir(testdata.FASHION_MNIST_DIR),
    f'Fashion-MNIST not installed in {testdata.FASHION_MNIST_DIR} '
    '(apt-get install -y dataset-fashion-mnist)',
)
class FashionMnistTest(tf.test.TestCase):
    def test_found_automatically(self):
        config = testdata.data_config()  # path '' and name 'fashion_mnist'
        info = data.get_info(config)
        self.assertEqual(info.image_shape, (28, 28, 1))
        self.assertEqual(info.num_classes, 10)
        self.assertEqual(info.split_sizes, {'train': 60000, 'test': 10000})
        self.assertEqual(info.class_names[0], 'T-shirt/top')
        batch_list = testdata.batches(data.make_dataset(config, 'test', 2500, training=False))
        labels = testdata.concat(batch_list, 'label')
        self.assertLen(labels, 10000)
        np.testing.assert_array_equal(np.bincount(labels), np.full(10, 1000))
        batch = testdata.batches(data.make_dataset(config, 'train', 32, training=True), 1)[0]
        self.assertEqual(batch['image'].shape, (32, 28, 28, 1))
        self.assertGreater(batch['image'].max(), 200)  # real pixels, not zeros

    def test_uncompressed_copy_reads_the_same(self):
        gzipped = os.path.join(testdata.FASHION_MNIST_DIR, 't10k-images-idx3-ubyte.gz')
        raw = os.path.join(self.get_temp_dir(), 't10k-images-idx3-ubyte')
        with gzip.open(gzipped) as f, open(raw, 'wb') as out:
            shutil.copyfileobj(f, out)
        np.testing.assert_array_equal(idx.read_idx(raw, 3), idx.read_idx(gzipped, 3))


if __name__ == '__main__':
    tf.test.main()
