"""Tests for tfglow.images."""

import os

import numpy as np
import tensorflow as tf

from tfglow import images


class ImagesTest(tf.test.TestCase):
    def test_make_grid_places_images_row_by_row(self):
        tiles = np.stack([np.full((2, 3, 1), i + 1, np.uint8) for i in range(5)])
        grid = images.make_grid(tiles, num_rows=2, padding=1)
        # 2 rows x 3 columns of 2x3 images with 1-pixel borders.
        self.assertEqual(grid.shape, (2 * 3 + 1, 3 * 4 + 1, 1))
        self.assertEqual(grid[1, 1, 0], 1)  # image 0: row 0, column 0
        self.assertEqual(grid[1, 9, 0], 3)  # image 2: row 0, column 2
        self.assertEqual(grid[4, 5, 0], 5)  # image 4: row 1, column 1
        self.assertEqual(grid[4, 9, 0], 0)  # the sixth cell is empty
        self.assertEqual(grid[0, 0, 0], 0)  # padding

    def test_make_grid_errors(self):
        with self.assertRaisesRegex(ValueError, 'uint8'):
            images.make_grid(np.zeros((2, 4, 4, 3), np.float32), 1)
        with self.assertRaisesRegex(ValueError, 'non-empty'):
            images.make_grid(np.zeros((0, 4, 4, 3), np.uint8), 1)
        with self.assertRaisesRegex(ValueError, 'num_rows'):
            images.make_grid(np.zeros((2, 4, 4, 3), np.uint8), 0)

    def test_write_png_round_trip(self):
        image = np.random.default_rng(0).integers(0, 256, (5, 7, 3), dtype=np.uint8)
        path = os.path.join(self.get_temp_dir(), 'sub', 'grid.png')
        images.write_png(path, image)
        self.assertAllEqual(tf.io.decode_png(tf.io.read_file(path)), image)

    def test_upscale_repeats_each_pixel(self):
        image = np.arange(6, dtype=np.uint8).reshape(2, 3, 1)
        big = images.upscale(image, 2)
        self.assertEqual(big.shape, (4, 6, 1))
        self.assertAllEqual(big[::2, ::2], image)
        self.assertAllEqual(big[1::2, 1::2], image)
        with self.assertRaisesRegex(ValueError, 'upscale factor must be >= 1; got 0'):
            images.upscale(image, 0)

    def test_automatic_upscale_shows_images_at_least_64_pixels_wide(self):
        self.assertEqual(images.upscale_factor(0, 28), 3)
        self.assertEqual(images.upscale_factor(0, 32), 2)
        self.assertEqual(images.upscale_factor(0, 64), 1)
        self.assertEqual(images.upscale_factor(5, 28), 5)
        with self.assertRaisesRegex(ValueError, r'upscale must be >= 0 \(0: automatic\); got -1'):
            images.upscale_factor(-1, 28)

    def test_labelled_grid_shows_the_images_beside_their_labels(self):
        rng = np.random.default_rng(0)
        rows = [rng.integers(0, 256, (n, 8, 8, 1), dtype=np.uint8) for n in (2, 3)]
        path = os.path.join(self.get_temp_dir(), 'sheet.png')
        images.write_labelled_grid(path, rows, ['support', 'generated'], 'a title', upscale_by=2)
        sheet = tf.io.decode_png(tf.io.read_file(path)).numpy()[..., :3].astype(int)
        grid = images.upscale(
            images.make_grid(
                np.concatenate([rows[0], np.full_like(rows[0][:1], 64), rows[1]]), 2, pad_value=64
            ),
            2,
        )
        height, width = grid.shape[:2]
        # The grid sits in the bottom-right corner, pixel for pixel; labels and title are text
        # (dark pixels) in the white margins.
        self.assertAllEqual(sheet[-height:, -width:, 0], grid[..., 0])
        self.assertLess(sheet[-height:, :-width].min(), 100)
        self.assertLess(sheet[:-height].min(), 100)
        with self.assertRaisesRegex(ValueError, 'one label per row; got 2 rows, 1 labels'):
            images.write_labelled_grid(path, rows, ['support'], 'a title')


if __name__ == '__main__':
    tf.test.main()
