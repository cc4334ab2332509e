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


if __name__ == '__main__':
    tf.test.main()
