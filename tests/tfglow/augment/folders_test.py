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
