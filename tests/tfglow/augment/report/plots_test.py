"""The report's example grid: support and augmented images, each row labelled."""

import os

import numpy as np
import tensorflow as tf

from tfglow.augment.latent import ClassLatents
from tfglow.augment.methods import AugmentOptions, BaseStatistics
from tfglow.augment.report import plots


class _PixelCodec:
    """Latents are the pixels: decode clips them to uint8."""

    image_shape = (4, 4, 1)

    def decode(self, z):
        return np.clip(np.asarray(z), 0, 255).astype(np.uint8).reshape(-1, *self.image_shape)


class WriteExamplesTest(tf.test.TestCase):
    def test_rows_are_labelled_by_class_and_method(self):
        rng = np.random.default_rng(0)
        names = ['alpha/a', 'alpha/b', 'beta/c']
        latents = ClassLatents(
            names=names,
            groups=['alpha', 'alpha', 'beta'],
            latents=rng.uniform(0, 255, [3 * 6, 16]).astype(np.float32),
            counts=np.full(3, 6),
        )
        arrays = {
            name: latents.of(c).astype(np.uint8).reshape(-1, 4, 4, 1)
            for c, name in enumerate(names)
        }
        methods = {m: AugmentOptions(m, num_related=2) for m in ('pooled', 'transfer')}
        path = os.path.join(self.get_temp_dir(), 'augment_examples.png')
        labels = plots.write_examples(
            path, _PixelCodec(), latents, arrays, BaseStatistics(latents), methods, num_classes=2
        )
        self.assertLen(labels, 4)
        self.assertRegex(labels[0], r'^(alpha/a|alpha/b|beta/c): pooled$')
        self.assertEqual(labels[1], labels[0].replace('pooled', 'transfer'))
        self.assertTrue(os.path.exists(path))


if __name__ == '__main__':
    tf.test.main()
