"""SupportEncoder: scales and shapes, independence of images, masking, seeds, errors."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfp_flows.networks.attention import support_memory
from tfp_flows.networks.support_encoder import SupportEncoder

SHAPE = (8, 4, 2)


def _support(batch=2, size=3, seed=0):
    rng = np.random.default_rng(seed)
    return tf.constant(rng.uniform(-0.5, 0.5, size=(batch, size, *SHAPE)), tf.float32)


class SupportEncoderTest(tf.test.TestCase, parameterized.TestCase):
    def test_one_feature_map_per_scale(self):
        encoder = SupportEncoder(SHAPE, width=5, num_layers=2, num_downsamples=2, seed=0)
        self.assertEqual(encoder.resolutions, ((8, 4), (4, 2), (2, 1)))
        features = encoder(_support())
        self.assertEqual(
            [f.shape for f in features], [(2, 3, h, w, 5) for h, w in encoder.resolutions]
        )
        self.assertEqual(len(encoder.trainable_variables), 2 * (2 + 2))

    def test_positional_channels_go_in_and_come_out_with_the_memory(self):
        encoder = SupportEncoder(SHAPE, width=5, num_layers=1, num_frequencies=2, seed=0)
        self.assertEqual(encoder.positional.shape, (8, 4, 8))
        self.assertEqual(encoder.convs[0].kernel.shape, (3, 3, 2 + 8, 5))
        features = encoder(_support())[0]
        self.assertEqual(support_memory(features, encoder.positional).shape, (2, 3 * 32, 13))
        self.assertEqual(support_memory(features, encoder.positional, 2).shape, (2, 3 * 8, 13))

    def test_each_image_is_encoded_alone_and_padding_is_blank(self):
        encoder = SupportEncoder(SHAPE, width=4, num_downsamples=1, seed=0)
        support = _support(size=3).numpy()
        mask = np.array([[True, False, True], [True, True, False]])
        garbage = support.copy()
        garbage[~mask] = np.nan
        padded = encoder(garbage, mask)
        for full, alone in zip(padded, encoder(support[:1, :1])):
            self.assertAllEqual(full[:1, :1], alone)
        blank = encoder(np.zeros_like(support[:1, :1]))
        for full, zeros in zip(padded, blank):
            self.assertAllEqual(full[0, 1], zeros[0, 0])
            self.assertAllEqual(full[1, 2], zeros[0, 0])

    def test_seeds(self):
        support = _support()

        def features(seed):
            return SupportEncoder(SHAPE, width=4, num_downsamples=1, seed=seed)(support)[1]

        self.assertAllEqual(features(3), features(3))
        self.assertNotAllClose(features(3), features(4))
        # A generator is drawn from in turn: the same weights as drawing them one by one.
        rng = np.random.default_rng(7)
        encoder = SupportEncoder(SHAPE, width=4, num_downsamples=1, seed=rng)
        expected = np.random.default_rng(7).normal(0.0, np.sqrt(2.0 / 18), (3, 3, 2, 4))
        self.assertAllEqual(encoder.convs[0].kernel, expected.astype(np.float32))

    @parameterized.named_parameters(
        ('width', dict(width=0), 'width must be an integer >= 1'),
        ('layers', dict(num_layers=0), 'num_layers must be an integer >= 1'),
        ('downsamples', dict(num_downsamples=3), 'divisible by 2\\*\\*3'),
        ('frequencies', dict(num_frequencies=-1), 'num_frequencies must be an integer >= 0'),
        ('shape', dict(image_shape=(8, 4)), r'image_shape must be \(H, W, C\)'),
    )
    def test_bad_construction_raises_clear_value_error(self, overrides, message):
        options = dict(image_shape=SHAPE)
        options.update(overrides)
        with self.assertRaisesRegex(ValueError, message):
            SupportEncoder(**options)


if __name__ == '__main__':
    tf.test.main()
