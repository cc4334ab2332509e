"""tfglow.augment.folders: reading class folders strictly, writing them back."""

import os

import numpy as np
import tensorflow as tf

from tfglow import images as image_files
from tfglow.augment import folders

SHAPE = (6, 5, 1)


def _images(count, seed=0, shape=SHAPE):
    return np.random.default_rng(seed).integers(0, 256, [count, *shape], dtype=np.uint8)


class ClassFoldersTest(tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.root = os.path.join(self.get_temp_dir(), self.id().rsplit('.', 1)[-1])

    def test_round_trip(self):
        written = folders.write_class_folders(
            self.root, {'Alpha/char 1': _images(3), 'b': _images(2, 1)}
        )
        self.assertEqual(os.path.basename(written['Alpha/char 1'][0]), 'aug_0000.png')
        classes = folders.read_class_folders(self.root, SHAPE)
        self.assertEqual(sorted(classes), ['Alpha_char_1', 'b'])
        self.assertAllEqual(classes['Alpha_char_1'], _images(3))
        inverted = folders.read_class_folders(self.root, SHAPE, invert=True)
        self.assertAllEqual(inverted['b'], 255 - _images(2, 1))
        # Colour images are converted to the model's channels.
        image_files.write_png(os.path.join(self.root, 'b', 'rgb.png'), _images(1, 2, (6, 5, 3))[0])
        self.assertEqual(folders.read_class_folders(self.root, SHAPE)['b'].shape, (3, 6, 5, 1))

    def test_contact_sheet_shows_support_then_generated_as_written(self):
        support, generated = _images(3), _images(12, 1)
        path = folders.contact_sheet_path(self.root, 'Alpha/char 1')
        self.assertEqual(path, os.path.join(self.root, 'Alpha_char_1.png'))
        folders.write_contact_sheet(path, 'Alpha/char 1', support, generated, 'test', invert=True)
        sheet = tf.io.decode_png(tf.io.read_file(path)).numpy()[..., 0]
        # Rows: the support, then generated 1-10 and 11-12; 6 x 5 cells upscaled 11 times, as
        # written to the class folders (inverted).
        factor, (height, width) = 11, SHAPE[:2]
        grid = sheet[-factor * (3 * (height + 1) + 1) :, -factor * (10 * (width + 1) + 1) :]
        cell = lambda row, col: grid[
            factor * (1 + row * (height + 1)) : factor * ((row + 1) * (height + 1)) : factor,
            factor * (1 + col * (width + 1)) : factor * ((col + 1) * (width + 1)) : factor,
        ]
        self.assertAllEqual(cell(0, 2), 255 - support[2, ..., 0])
        self.assertAllEqual(cell(1, 0), 255 - generated[0, ..., 0])
        self.assertAllEqual(cell(2, 1), 255 - generated[11, ..., 0])

    def _expect_error(self, regex):
        with self.assertRaisesRegex(ValueError, regex):
            folders.read_class_folders(self.root, SHAPE)

    def test_rejects_bad_folders_naming_the_path(self):
        with self.assertRaisesRegex(FileNotFoundError, 'does not exist'):
            folders.read_class_folders(self.root, SHAPE)
        os.makedirs(self.root)
        self._expect_error('has no class folders')
        os.makedirs(os.path.join(self.root, 'empty'))
        self._expect_error(r'class folder .*empty holds no images')
        folders.write_class_folders(self.root, {'empty': _images(1)})
        with open(os.path.join(self.root, 'empty', 'notes.txt'), 'w') as f:
            f.write('hello')
        self._expect_error(r'notes.txt is not an image file')
        os.remove(os.path.join(self.root, 'empty', 'notes.txt'))
        with open(os.path.join(self.root, 'empty', 'broken.png'), 'wb') as f:
            f.write(b'not a png at all')
        self._expect_error(r'cannot decode image .*broken.png')
        os.remove(os.path.join(self.root, 'empty', 'broken.png'))
        image_files.write_png(
            os.path.join(self.root, 'empty', 'big.png'), _images(1, 0, (7, 5, 1))[0]
        )
        self._expect_error(r'big.png is 5x7 pixels; the model takes 5x6')
        os.remove(os.path.join(self.root, 'empty', 'big.png'))
        image_files.write_png(os.path.join(self.root, 'loose.png'), _images(1)[0])
        self._expect_error(r'loose.png is not in a class folder')


if __name__ == '__main__':
    tf.test.main()
