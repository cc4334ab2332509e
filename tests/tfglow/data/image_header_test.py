"""Tests for tfglow.data.image_header."""

import os

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tests.tfglow.data import testdata
from tfglow.data import image_header


class ImageHeaderTest(tf.test.TestCase, parameterized.TestCase):
    @parameterized.parameters((1, 1), (2, 1), (3, 3), (4, 3))
    def test_png_size_and_decoded_channels(self, stored_channels, channels):
        image = testdata.images(1, 5, 7, stored_channels)[0]
        self.assertEqual(
            image_header.parse_bytes(testdata.png(image)), image_header.Header(5, 7, channels)
        )

    @parameterized.parameters(1, 3)
    def test_jpeg(self, channels):
        image = testdata.images(1, 9, 4, channels)[0]
        self.assertEqual(
            image_header.parse_bytes(testdata.jpeg(image)), image_header.Header(9, 4, channels)
        )

    @parameterized.parameters(24, 32)
    def test_bmp(self, bits):
        data = testdata.bmp(testdata.images(1, 3, 5, 3)[0], bits)
        self.assertEqual(image_header.parse_bytes(data), image_header.Header(3, 5, 3))

    def test_gif(self):
        self.assertEqual(image_header.parse_bytes(testdata.GIF_1X1), image_header.Header(1, 1, 3))

    @parameterized.named_parameters(
        ('not_an_image', b'hello world, not an image', 'not a PNG, JPEG, GIF or BMP'),
        ('empty', b'', 'not a PNG'),
        ('png_header_cut', testdata.png(np.zeros((4, 4, 1), np.uint8))[:20], 'ends inside'),
        ('png_truncated', testdata.png(np.zeros((4, 4, 1), np.uint8))[:-5], 'truncated PNG'),
        ('jpeg_truncated', testdata.jpeg(np.zeros((8, 8, 3), np.uint8))[:-40], 'truncated JPEG'),
        ('bmp_truncated', testdata.bmp(np.zeros((4, 4, 3), np.uint8))[:-9], 'truncated BMP'),
        ('gif_truncated', testdata.GIF_1X1[:-1], 'truncated GIF'),
    )
    def test_bad_data(self, data, message):
        with self.assertRaisesRegex(ValueError, message):
            image_header.parse_bytes(data)

    def test_read_names_the_file(self):
        path = testdata.write_file(os.path.join(self.get_temp_dir(), 'bad.png'), b'garbage!')
        with self.assertRaisesRegex(ValueError, 'bad.png'):
            image_header.read(path)
        with self.assertRaisesRegex(OSError, 'missing.png'):
            image_header.read(os.path.join(self.get_temp_dir(), 'missing.png'))


if __name__ == '__main__':
    tf.test.main()
