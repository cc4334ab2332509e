"""Tests for tfglow.data.pipeline and the shared helpers in tfglow.data.common, on idx files."""

import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow.data import testdata
from tfglow import data

_TRAIN, _TEST = 20, 7


class PipelineTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.directory = os.path.join(self.get_temp_dir(), 'idx')
        self.train_images = testdata.images(_TRAIN, 6, 6, 1)[..., 0]
        self.train_labels = np.arange(_TRAIN) % 3
        self.test_images = testdata.images(_TEST, 6, 6, 1, seed=1)[..., 0]
        testdata.write_idx(self.directory, 'train', self.train_images, self.train_labels, gz=True)
        testdata.write_idx(self.directory, 't10k', self.test_images, np.arange(_TEST) % 3, gz=False)
        self.config = testdata.data_config(path=self.directory, name='tiny')

    def _ids(self, batch_list):
        """Image ids (pixel [0, 0]) of every image in order."""
        return list(testdata.concat(batch_list, 'image')[:, 0, 0, 0])

    def test_get_info(self):
        info = data.get_info(self.config)
        self.assertEqual(info.image_shape, (6, 6, 1))
        self.assertEqual(info.num_classes, 3)
        self.assertEqual(info.split_sizes, {'train': _TRAIN, 'test': _TEST})
        self.assertIsNone(info.class_names)

    def test_training_batches(self):
        dataset = data.make_dataset(self.config, 'train', 8, training=True)
        self.assertEqual(dataset.element_spec['image'].shape, (8, 6, 6, 1))
        self.assertEqual(dataset.element_spec['image'].dtype, tf.uint8)
        self.assertEqual(dataset.element_spec['label'].dtype, tf.int32)
        batch_list = testdata.batches(dataset, 10)  # 80 examples: repeats past one epoch
        self.assertLen(batch_list, 10)
        for batch in batch_list:
            ids = batch['image'][:, 0, 0, 0]
            np.testing.assert_array_equal(batch['label'], self.train_labels[ids])

    def test_eval_is_one_ordered_pass_with_partial_batch(self):
        batch_list = testdata.batches(data.make_dataset(self.config, 'test', 3, training=False))
        self.assertEqual([len(b['label']) for b in batch_list], [3, 3, 1])
        np.testing.assert_array_equal(
            testdata.concat(batch_list, 'image')[..., 0], self.test_images
        )

    def test_shuffle_is_seeded_and_reshuffled_every_epoch(self):
        def epochs(seed):
            dataset = data.make_dataset(self.config, 'train', _TRAIN, training=True, seed=seed)
            return [self._ids([b]) for b in testdata.batches(dataset, 2)]

        first, second = epochs(0)
        self.assertCountEqual(first, range(_TRAIN))  # each epoch is a permutation
        self.assertCountEqual(second, range(_TRAIN))
        self.assertNotEqual(first, second)
        self.assertEqual(epochs(0), [first, second])
        self.assertNotEqual(epochs(1)[0], first)

    def test_checkpointed_iterator_resumes_the_same_batches(self):
        iterator = iter(data.make_dataset(self.config, 'train', 8, training=True, seed=3))
        for _ in range(3):  # into the second epoch
            next(iterator)
        path = tf.train.Checkpoint(iterator=iterator).save(os.path.join(self.get_temp_dir(), 'it'))
        expected = [next(iterator)['image'] for _ in range(3)]
        restored = iter(data.make_dataset(self.config, 'train', 8, training=True, seed=3))
        tf.train.Checkpoint(iterator=restored).restore(path).assert_consumed()
        for batch in expected:
            self.assertAllEqual(next(restored)['image'], batch)

    @parameterized.parameters(True, False)
    def test_shards_are_disjoint_and_cover_the_split(self, training):
        ids = []
        for pipeline in range(2):
            context = tf.distribute.InputContext(
                num_input_pipelines=2, input_pipeline_id=pipeline, num_replicas_in_sync=2
            )
            dataset = data.make_dataset(
                self.config, 'train', 4, training=training, input_context=context
            )
            self.assertEqual(dataset.element_spec['image'].shape[0], 2 if training else None)
            ids.append(set(self._ids(testdata.batches(dataset, 5 if training else None))))
        self.assertEmpty(ids[0] & ids[1])
        if not training:
            self.assertEqual(ids[0] | ids[1], set(range(_TRAIN)))

    def test_image_size_resizes_arrays(self):
        config = testdata.data_config(path=self.directory, name='tiny', image_size=4)
        self.assertEqual(data.get_info(config).image_shape, (4, 4, 1))
        batch = testdata.batches(data.make_dataset(config, 'test', 5, training=False), 1)[0]
        self.assertEqual(batch['image'].shape, (5, 4, 4, 1))
        self.assertEqual(batch['image'].dtype, np.uint8)

    def test_load_class_arrays(self):
        arrays = data.load_class_arrays(self.config, 'train')
        self.assertEqual(list(arrays), ['0', '1', '2'])
        np.testing.assert_array_equal(arrays['1'][..., 0], self.train_images[1::3])

    def test_load_class_arrays_of_a_class_subset(self):
        arrays = data.load_class_arrays(self.config, 'train', classes=(2, 0))
        self.assertEqual(list(arrays), ['0', '2'])
        np.testing.assert_array_equal(arrays['2'][..., 0], self.train_images[2::3])
        with self.assertRaisesRegex(ValueError, r"split 'test', which has 3 classes.*found: \[5\]"):
            data.load_class_arrays(self.config, 'test', classes=(1, 5))
        with self.assertRaisesRegex(ValueError, r'classes \[\] must name labels'):
            data.load_class_arrays(self.config, 'test', classes=())

    @parameterized.named_parameters(
        ('source', {'source': 'csv'}, 'unknown data source .csv.; allowed: tfds, folder'),
        ('image_size', {'image_size': -1}, 'image_size must be an integer >= 0'),
        ('shuffle_buffer', {'shuffle_buffer': 0}, 'shuffle_buffer must be >= 1'),
    )
    def test_bad_config(self, overrides, message):
        config = testdata.data_config(path=self.directory, **overrides)
        with self.assertRaisesRegex(ValueError, message):
            data.make_dataset(config, 'train', 4, training=True)

    def test_unknown_split(self):
        with self.assertRaisesRegex(ValueError, "unknown split 'valid'.*'train', 'test'"):
            data.make_dataset(self.config, 'valid', 4, training=False)

    def test_more_pipelines_than_examples(self):
        context = tf.distribute.InputContext(num_input_pipelines=8, input_pipeline_id=7)
        with self.assertRaisesRegex(ValueError, 'input pipeline 7 of 8 gets no examples'):
            data.make_dataset(self.config, 'test', 1, training=False, input_context=context)


class ResizeTest(tf.test.TestCase):
    def test_scales_shorter_side_and_crops_centre(self):
        # 4 x 8 image: columns 0-1 = 0, 2-5 = 100, 6-7 = 200; the centre 4 x 4 is all 100.
        image = np.repeat([[0, 0, 100, 100, 100, 100, 200, 200]], 4, axis=0)[..., None]
        out = data.resize_and_center_crop(tf.constant(image, tf.uint8), 4)
        self.assertEqual(out.dtype, tf.uint8)
        self.assertAllEqual(out, np.full((4, 4, 1), 100))

    def test_shapes(self):
        batch = tf.zeros((2, 30, 20, 3), tf.uint8)
        self.assertEqual(data.resize_and_center_crop(batch, 8).shape, (2, 8, 8, 3))
        self.assertEqual(data.resize_and_center_crop(batch[0], 64).shape, (64, 64, 3))

    def test_same_size_is_identity(self):
        image = testdata.images(1, 5, 5, 3)[0]
        self.assertAllEqual(data.resize_and_center_crop(tf.constant(image), 5), image)


if __name__ == '__main__':
    tf.test.main()
