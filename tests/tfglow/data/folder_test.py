"""Tests for tfglow.data.folder on tiny image folders."""

import os
import re
from unittest import mock

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow.data import testdata
from tfglow import data
from tfglow.data import common


class FolderTest(tf.test.TestCase, parameterized.TestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.get_temp_dir(), self.id().split('.')[-1])
        self.cats = testdata.images(3, 6, 6, 1)
        self.dogs = testdata.images(5, 6, 6, 1, seed=1)

    def _class_folders(self, root):
        testdata.write_pngs(os.path.join(root, 'dog'), self.dogs)
        testdata.write_pngs(os.path.join(root, 'cat'), self.cats)
        testdata.write_file(os.path.join(root, 'cat', 'notes.txt'), b'not an image')
        testdata.write_file(os.path.join(root, 'cat', '.hidden.png'), b'macOS metadata')
        return testdata.data_config(source='folder', path=root)

    def test_class_subfolders(self):
        config = self._class_folders(self.root)
        info = data.get_info(config)
        self.assertEqual(info.image_shape, (6, 6, 1))
        self.assertEqual(info.class_names, ['cat', 'dog'])
        self.assertEqual(info.split_sizes, {'train': 8})
        batch = testdata.batches(data.make_dataset(config, 'train', 10, training=False))[0]
        np.testing.assert_array_equal(batch['image'], np.concatenate([self.cats, self.dogs]))
        np.testing.assert_array_equal(batch['label'], [0] * 3 + [1] * 5)

    def test_flat_folder_is_one_class(self):
        testdata.write_pngs(self.root, self.dogs)
        config = testdata.data_config(source='folder', path=self.root)
        info = data.get_info(config)
        self.assertEqual((info.num_classes, info.class_names), (1, None))
        dataset = data.make_dataset(config, 'train', 2, training=True)
        np.testing.assert_array_equal(testdata.batches(dataset, 1)[0]['label'], [0, 0])

    def test_split_subfolders(self):
        self._class_folders(os.path.join(self.root, 'train'))
        testdata.write_pngs(os.path.join(self.root, 'test', 'dog'), self.dogs[:2])
        config = testdata.data_config(source='folder', path=self.root)
        info = data.get_info(config)
        self.assertEqual(info.split_sizes, {'test': 2, 'train': 8})
        self.assertEqual(info.class_names, ['cat', 'dog'])
        batch = testdata.batches(data.make_dataset(config, 'test', 4, training=False))[0]
        np.testing.assert_array_equal(batch['label'], [1, 1])  # 'dog' is label 1 in every split
        with self.assertRaisesRegex(ValueError, "unknown split 'validation'.*'test', 'train'"):
            data.make_dataset(config, 'validation', 4, training=False)

    def test_formats_and_resize(self):
        colour = testdata.images(3, 8, 12, 3)
        folder = os.path.join(self.root, 'mixed')
        testdata.write_file(os.path.join(folder, 'a.PNG'), testdata.png(colour[0]))
        testdata.write_file(os.path.join(folder, 'b.jpeg'), testdata.jpeg(colour[1]))
        testdata.write_file(os.path.join(folder, 'c.bmp'), testdata.bmp(colour[2]))
        testdata.write_file(os.path.join(folder, 'd.gif'), testdata.GIF_1X1)
        config = testdata.data_config(source='folder', path=self.root, image_size=4)
        self.assertEqual(data.get_info(config).image_shape, (4, 4, 3))
        batch = testdata.batches(data.make_dataset(config, 'train', 8, training=False))[0]
        self.assertEqual(batch['image'].shape, (4, 4, 4, 3))
        self.assertEqual(batch['image'].dtype, np.uint8)
        # Away from the crop's border, resizing 8x12 to 4x6 and cropping the centre 4x4 equals
        # resizing the centre 8x8 crop (the antialiasing filter reaches past the border).
        expected = data.resize_and_center_crop(tf.constant(colour[0][:, 2:10]), 4).numpy()
        self.assertAllClose(batch['image'][0, 1:3, 1:3], expected[1:3, 1:3], atol=1)

    def test_streaming_matches_in_memory(self):
        config = self._class_folders(self.root)
        in_memory = testdata.batches(data.make_dataset(config, 'train', 3, training=False))
        train_in_memory = testdata.batches(data.make_dataset(config, 'train', 8, training=True), 1)
        with mock.patch.object(common, 'IN_MEMORY_BYTES', 0):
            streamed = testdata.batches(data.make_dataset(config, 'train', 3, training=False))
            train_streamed = [
                testdata.batches(data.make_dataset(config, 'train', 8, training=True, seed=s), 2)
                for s in (0, 0, 1)
            ]
        for key in ('image', 'label'):
            self.assertAllEqual(testdata.concat(streamed, key), testdata.concat(in_memory, key))
        first_epoch = train_streamed[0][0]['image']
        self.assertAllEqual(np.sort(first_epoch, 0), np.sort(train_in_memory[0]['image'], 0))
        self.assertAllEqual(train_streamed[0][1]['image'], train_streamed[1][1]['image'])
        self.assertNotAllEqual(first_epoch, train_streamed[0][1]['image'])  # reshuffled
        self.assertNotAllEqual(first_epoch, train_streamed[2][0]['image'])  # other seed

    def test_streaming_shards_are_disjoint(self):
        config = self._class_folders(self.root)
        ids = []
        with mock.patch.object(common, 'IN_MEMORY_BYTES', 0):
            for pipeline in range(2):
                context = tf.distribute.InputContext(2, pipeline, 2)
                dataset = data.make_dataset(
                    config, 'train', 2, training=False, input_context=context
                )
                images = testdata.concat(testdata.batches(dataset), 'image')
                ids.append({image.tobytes() for image in images})
        self.assertEmpty(ids[0] & ids[1])
        self.assertLen(ids[0] | ids[1], 8)

    def test_missing_path(self):
        config = testdata.data_config(source='folder', path=os.path.join(self.root, 'nope'))
        with self.assertRaisesRegex(FileNotFoundError, "image folder '.*nope'.*does not exist"):
            data.get_info(config)

    def test_no_images(self):
        testdata.write_file(os.path.join(self.root, 'readme.txt'), b'hello')
        with self.assertRaisesRegex(ValueError, r'no images \(.png, .jpg.*found under'):
            data.get_info(testdata.data_config(source='folder', path=self.root))

    def test_empty_class_folder_is_named(self):
        config = self._class_folders(self.root)
        bird = os.path.join(self.root, 'bird')
        testdata.write_file(os.path.join(bird, 'notes.txt'), b'no images here')
        os.makedirs(os.path.join(self.root, 'eel', '.thumbnails'))
        eel = os.path.join(self.root, 'eel')
        with self.assertRaisesRegex(
            ValueError, f'class folder.* without images .*{re.escape(bird)}, {re.escape(eel)};'
        ):
            data.get_info(config)

    def test_class_empty_in_every_split_is_named(self):
        self._class_folders(os.path.join(self.root, 'train'))
        testdata.write_pngs(os.path.join(self.root, 'test', 'dog'), self.dogs[:2])
        for split in ('train', 'test'):
            os.makedirs(os.path.join(self.root, split, 'bird'))
        config = testdata.data_config(source='folder', path=self.root)
        birds = ', '.join(os.path.join(self.root, split, 'bird') for split in ('test', 'train'))
        with self.assertRaisesRegex(ValueError, f'without images .*{re.escape(birds)};'):
            data.make_dataset(config, 'train', 2, training=True)

    def test_empty_split(self):
        self._class_folders(os.path.join(self.root, 'train'))
        os.makedirs(os.path.join(self.root, 'test', 'cat'))
        config = testdata.data_config(source='folder', path=self.root)
        self.assertEqual(data.get_info(config).split_sizes['test'], 0)
        with self.assertRaisesRegex(ValueError, "split 'test' has no images"):
            data.make_dataset(config, 'test', 2, training=False)

    @parameterized.named_parameters(
        ('garbage', lambda png: b'this is not an image at all', 'not a PNG, JPEG'),
        ('truncated', lambda png: png[: len(png) // 2], 'truncated PNG'),
    )
    def test_corrupt_header_names_file(self, corrupt, message):
        config = self._class_folders(self.root)
        bad = os.path.join(self.root, 'dog', 'img001.png')
        with open(bad, 'rb') as f:
            content = f.read()
        testdata.write_file(bad, corrupt(content))
        with self.assertRaisesRegex(ValueError, f'{re.escape(bad)}.*{message}'):
            data.get_info(config)

    def test_corrupt_pixels_name_file(self):
        config = self._class_folders(self.root)
        bad = os.path.join(self.root, 'dog', 'img003.png')
        with open(bad, 'rb') as f:
            content = bytearray(f.read())
        start = content.index(b'IDAT') + 8
        content[start : start + 16] = b'\x55' * 16  # header and IEND intact, pixel data broken
        testdata.write_file(bad, bytes(content))
        data.get_info(config)  # headers are fine
        with self.assertRaisesRegex(ValueError, f'cannot decode image file {re.escape(bad)}'):
            data.make_dataset(config, 'train', 2, training=True)

    def test_mixed_sizes_name_two_files(self):
        config = self._class_folders(self.root)
        big = testdata.write_file(
            os.path.join(self.root, 'dog', 'big.png'), testdata.png(np.zeros((7, 9, 1), np.uint8))
        )
        first = os.path.join(self.root, 'cat', 'img000.png')
        with self.assertRaisesRegex(
            ValueError, f'{re.escape(first)} is 6x6, {re.escape(big)} is 7x9.*image_size'
        ):
            data.get_info(config)
        config.image_size = 5  # resizing makes them compatible
        self.assertEqual(data.get_info(config).image_shape, (5, 5, 1))

    def test_grey_and_colour_name_two_files(self):
        config = self._class_folders(self.root)
        colour = testdata.write_file(
            os.path.join(self.root, 'dog', 'rgb.jpg'), testdata.jpeg(np.zeros((6, 6, 3), np.uint8))
        )
        grey = os.path.join(self.root, 'cat', 'img000.png')
        with self.assertRaisesRegex(
            ValueError, f'colour images: {re.escape(grey)} has 1 .* {re.escape(colour)} has 3'
        ):
            data.get_info(config)

    def test_images_beside_class_folders(self):
        config = self._class_folders(self.root)
        testdata.write_pngs(self.root, self.cats[:1], prefix='stray')
        with self.assertRaisesRegex(ValueError, 'holds both images .*stray000.png.* subfolders'):
            data.get_info(config)


if __name__ == '__main__':
    tf.test.main()
