"""Tests for tfglow.data.tfrecord: the writer, split discovery, reading and errors."""

import os
import re
from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow.data import testdata
from tfglow import data
from tfglow.data import common, tfrecord


def _write_examples(path: str, features: list[dict[str, tf.train.Feature]]) -> str:
    with tf.io.TFRecordWriter(path) as writer:
        for feature in features:
            example = tf.train.Example(features=tf.train.Features(feature=feature))
            writer.write(example.SerializeToString())
    return path


def _bytes(value: bytes) -> tf.train.Feature:
    return tf.train.Feature(bytes_list=tf.train.BytesList(value=[value]))


def _int(value: int) -> tf.train.Feature:
    return tf.train.Feature(int64_list=tf.train.Int64List(value=[value]))


class TfrecordTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.get_temp_dir(), self.id().split('.')[-1])
        self.images = testdata.images(9, 5, 4, 3)
        self.labels = np.arange(9) % 4
        self.test_images = testdata.images(2, 5, 4, 3, seed=1)
        self.files = data.write_tfrecords(
            self.images, self.labels, os.path.join(self.root, 'train.tfrecord'), num_shards=3
        )
        data.write_tfrecords(self.test_images, [0, 3], os.path.join(self.root, 'test.tfrecord'))
        self.config = testdata.data_config(source='tfrecord', path=self.root)

    def test_writer_names_shards(self):
        self.assertEqual(
            [os.path.basename(f) for f in self.files],
            [f'train.tfrecord-0000{i}-of-00003' for i in range(3)],
        )

    def test_round_trip(self):
        info = data.get_info(self.config)
        self.assertEqual(info.image_shape, (5, 4, 3))
        self.assertEqual(info.num_classes, 4)
        self.assertEqual(info.split_sizes, {'train': 9, 'test': 2})
        batch_list = testdata.batches(data.make_dataset(self.config, 'train', 4, training=False))
        # Shard k holds examples k, k + 3, ...; files are read in order.
        order = [0, 3, 6, 1, 4, 7, 2, 5, 8]
        np.testing.assert_array_equal(testdata.concat(batch_list, 'image'), self.images[order])
        np.testing.assert_array_equal(testdata.concat(batch_list, 'label'), self.labels[order])

    @parameterized.named_parameters(
        ('placeholder', '{split}.tfrecord*'),
        ('glob', '*.tfrecord*'),
        ('split_subfolder', None),
    )
    def test_split_discovery(self, pattern):
        if pattern is None:  # <root>/test/ holds the test files, whatever their names
            data.write_tfrecords(self.test_images, None, os.path.join(self.root, 'test', 'x.rec'))
            files = tfrecord.split_files(self.root, 'test')
            self.assertEqual([os.path.basename(f) for f in files], ['x.rec'])
        else:
            path = os.path.join(self.root, pattern)
            self.assertEqual(tfrecord.split_files(path, 'train'), self.files)
            self.assertLen(tfrecord.split_files(path, 'test'), 1)

    def test_missing_path(self):
        config = testdata.data_config(source='tfrecord', path=os.path.join(self.root, 'nope*'))
        with self.assertRaisesRegex(FileNotFoundError, 'nothing matches the TFRecord path'):
            data.get_info(config)

    def test_no_files_for_split(self):
        with self.assertRaisesRegex(ValueError, "no TFRecord files for split 'valid'"):
            data.make_dataset(self.config, 'valid', 2, training=False)

    def test_other_feature_keys_and_no_label(self):
        path = os.path.join(self.root, 'other', 'train.rec')
        os.makedirs(os.path.dirname(path))
        _write_examples(
            path,
            [
                {'image/encoded': _bytes(testdata.jpeg(image)), 'image/class/label': _int(i)}
                for i, image in enumerate(self.images[:3])
            ],
        )
        config = testdata.data_config(source='tfrecord', path=path)
        self.assertEqual(data.get_info(config).num_classes, 3)
        data.write_tfrecords(self.images[:2], None, path)
        info = data.get_info(config)
        self.assertEqual((info.num_classes, info.split_sizes), (1, {'train': 2}))
        batch = testdata.batches(data.make_dataset(config, 'train', 2, training=True), 1)[0]
        np.testing.assert_array_equal(batch['label'], [0, 0])

    def test_streaming(self):
        with mock.patch.object(common, 'IN_MEMORY_BYTES', 0):
            streamed = testdata.batches(data.make_dataset(self.config, 'train', 4, training=False))
            self.assertLen(testdata.concat(streamed, 'label'), 9)
            runs = [
                testdata.batches(
                    data.make_dataset(self.config, 'train', 9, training=True, seed=seed), 2
                )
                for seed in (3, 3, 4)
            ]
            ids = {}
            for shards in (2, 4):  # by file (3 files >= 2 shards), by record (3 < 4)
                ids[shards] = []
                for pipeline in range(shards):
                    context = tf.distribute.InputContext(shards, pipeline, shards)
                    dataset = data.make_dataset(
                        self.config, 'train', shards, training=False, input_context=context
                    )
                    ids[shards] += list(
                        testdata.concat(testdata.batches(dataset), 'image')[:, 0, 0, 0]
                    )
        self.assertAllEqual(runs[0][0]['image'], runs[1][0]['image'])
        self.assertNotAllEqual(runs[0][0]['image'], runs[2][0]['image'])
        self.assertCountEqual(runs[0][0]['image'][:, 0, 0, 0], range(9))  # buffer holds the split
        for shards in (2, 4):
            self.assertCountEqual(ids[shards], range(9))  # disjoint and complete

    def test_resize(self):
        config = testdata.data_config(source='tfrecord', path=self.root, image_size=3)
        self.assertEqual(data.get_info(config).image_shape, (3, 3, 3))
        batch = testdata.batches(data.make_dataset(config, 'test', 2, training=False))[0]
        self.assertEqual(batch['image'].shape, (2, 3, 3, 3))

    def test_corrupt_file_is_named(self):
        with open(self.files[1], 'rb') as f:
            content = bytearray(f.read())
        content[20:30] = b'\xff' * 10  # inside the first record's data: its CRC fails
        testdata.write_file(self.files[1], bytes(content))
        with self.assertRaisesRegex(
            ValueError, f'corrupt TFRecord file {re.escape(self.files[1])}'
        ):
            data.get_info(self.config)

    def test_truncated_file_is_named(self):
        with open(self.files[2], 'rb') as f:
            content = f.read()
        testdata.write_file(self.files[2], content[:-10])
        with self.assertRaisesRegex(
            ValueError, f'corrupt TFRecord file {re.escape(self.files[2])}'
        ):
            data.make_dataset(self.config, 'train', 2, training=True)

    @parameterized.named_parameters(
        ('not_an_example', b'\xff\xff\xff', 'record 0 is not a tf.train.Example'),
        ('no_image', {'pixels': _bytes(b'x')}, 'record 0 has no image feature .*it has pixels'),
        ('bad_image', {'image': _bytes(b'not an image')}, 'record 0 holds a bad image: not a PNG'),
    )
    def test_bad_records(self, record, message):
        path = os.path.join(self.root, 'bad', 'train.rec')
        os.makedirs(os.path.dirname(path))
        if isinstance(record, bytes):
            with tf.io.TFRecordWriter(path) as writer:
                writer.write(record)
        else:
            _write_examples(path, [record])
        with self.assertRaisesRegex(ValueError, f'{re.escape(path)}: {message}'):
            data.get_info(testdata.data_config(source='tfrecord', path=path))

    def test_mixed_sizes_name_two_records(self):
        other = data.write_tfrecords(
            testdata.images(1, 7, 7, 3), [0], os.path.join(self.root, 'test.tfrecord')
        )[0]
        with self.assertRaisesRegex(
            ValueError, f'record 0 is 5x4, {re.escape(other)} record 0 is 7x7.*image_size'
        ):
            data.get_info(self.config)

    def test_empty_split(self):
        data.write_tfrecords(
            np.zeros((0, 5, 4, 3), np.uint8), [], os.path.join(self.root, 'test.tfrecord')
        )
        self.assertEqual(data.get_info(self.config).split_sizes['test'], 0)
        with self.assertRaisesRegex(ValueError, "split 'test' hold no records"):
            data.make_dataset(self.config, 'test', 2, training=False)

    def test_writer_rejects_bad_input(self):
        with self.assertRaisesRegex(ValueError, r'uint8 \[N, H, W, 1 or 3\]'):
            data.write_tfrecords(np.zeros((2, 4, 4, 2), np.uint8), None, self.root + '/x')
        with self.assertRaisesRegex(ValueError, '2 images but 1 labels'):
            data.write_tfrecords(np.zeros((2, 4, 4, 1), np.uint8), [0], self.root + '/x')
        with self.assertRaisesRegex(ValueError, 'num_shards must be an integer >= 1; got 0'):
            data.write_tfrecords(
                np.zeros((2, 4, 4, 1), np.uint8), None, self.root + '/x', num_shards=0
            )


if __name__ == '__main__':
    tf.test.main()
