"""tfglow.augment.methods on synthetic latents with known statistics."""

import numpy as np
import tensorflow as tf
from absl.testing import parameterized

from tfglow.augment.latent import ClassLatents
from tfglow.augment.methods import METHODS, AugmentOptions, BaseStatistics, augment_latents

DIM = 6


def synthetic_classes(num_classes=12, per_class=20, seed=0, groups=3) -> ClassLatents:
    """Class means spread along the first axis; each class's own random covariance."""
    rng = np.random.default_rng(seed)
    latents = []
    for c in range(num_classes):
        mean = np.zeros(DIM)
        mean[0] = 10.0 * c
        scale = rng.uniform(0.5, 2.0, DIM)
        latents.append(mean + scale * rng.standard_normal([per_class, DIM]))
    return ClassLatents(
        names=[f'g{c % groups}/c{c}' for c in range(num_classes)],
        groups=[f'g{c % groups}' for c in range(num_classes)],
        latents=np.concatenate(latents).astype(np.float32),
        counts=np.full(num_classes, per_class),
    )


class BaseStatisticsTest(tf.test.TestCase):
    def test_statistics(self):
        classes = synthetic_classes()
        base = BaseStatistics(classes)
        self.assertAllClose(base.means[3], classes.of(3).mean(axis=0), atol=1e-5)
        factor = base.pooled_factor([2])
        self.assertAllClose(factor.T @ factor, np.cov(classes.of(2).T), atol=1e-4)
        pooled = base.pooled_factor([1, 4])
        expected = (np.cov(classes.of(1).T) + np.cov(classes.of(4).T)) / 2
        self.assertAllClose(pooled.T @ pooled, expected, atol=1e-4)

    def test_relations(self):
        base = BaseStatistics(synthetic_classes())
        point = base.means[5] + 0.1
        self.assertAllEqual(base.related(point, 'nearest', 3)[0], 5)
        self.assertCountEqual(base.related(point, 'nearest', 3), [4, 5, 6])
        self.assertNotIn(5, base.related(point, 'nearest', 3, exclude=[5]))
        self.assertAllEqual(base.related(point, 'alphabet', group='g1'), [1, 4, 7, 10])
        self.assertAllEqual(base.related(point, 'alphabet', group='g1', exclude=[4]), [1, 7, 10])
        self.assertLen(base.related(point, 'all'), 12)
        with self.assertRaisesRegex(ValueError, 'group'):
            base.related(point, 'alphabet')
        with self.assertRaisesRegex(ValueError, "no base class of group 'zz'"):
            base.related(point, 'alphabet', group='zz')


class AugmentTest(parameterized.TestCase, tf.test.TestCase):
    def setUp(self):
        super().setUp()
        self.classes = synthetic_classes()
        self.base = BaseStatistics(self.classes)
        self.support = self.classes.of(5)[:3] + np.float32(0.3)

    @parameterized.parameters(*METHODS)
    def test_shapes_and_determinism(self, method):
        options = AugmentOptions(method, strength=0.7, num_related=3)
        z = augment_latents(self.support, self.base, 11, options, seed=[1, 2])
        self.assertEqual(z.shape, (11, DIM))
        self.assertEqual(z.dtype, np.float32)
        self.assertAllEqual(z, augment_latents(self.support, self.base, 11, options, seed=[1, 2]))
        self.assertNotAllClose(z, augment_latents(self.support, self.base, 11, options, seed=3))
        self.assertEqual(augment_latents(self.support, self.base, 0, options).shape, (0, DIM))

    def test_zero_strength_gives_the_centres(self):
        support = self.support.astype(np.float64)
        zero = lambda method: augment_latents(
            self.support, self.base, 6, AugmentOptions(method, strength=0.0, num_related=2)
        )
        self.assertAllClose(zero('pooled'), np.tile(support.mean(axis=0), [6, 1]), atol=1e-5)
        self.assertAllClose(zero('transfer'), support[np.arange(6) % 3], atol=1e-5)
        # Calibrated: the support image averaged with its 2 nearest base means.
        related = self.base.nearest(support[0], 2)
        mu = (support[0] + self.base.means[related].sum(axis=0)) / 3
        self.assertAllClose(zero('calibrated')[0], mu, atol=1e-4)

    def test_pooled_samples_have_the_pooled_covariance(self):
        options = AugmentOptions('pooled', strength=2.0, num_related=3)
        z = augment_latents(self.support, self.base, 20000, options, seed=0)
        related = self.base.nearest(self.support.mean(axis=0), 3)
        factor = self.base.pooled_factor(related)
        self.assertAllClose(z.mean(axis=0), self.support.mean(axis=0), atol=0.1)
        self.assertAllClose(np.cov(z.T), 4.0 * factor.T @ factor, atol=0.25)

    def test_transfer_adds_real_deviations_of_related_classes(self):
        options = AugmentOptions('transfer', strength=1.0, relation='alphabet')
        z = augment_latents(self.support, self.base, 9, options, group='g2', seed=0)
        deltas = z - self.support[np.arange(9) % 3]
        rows = self.base.rows(self.base.related(None, 'alphabet', group='g2'))
        for delta in deltas:
            distances = np.abs(self.base.deviations[rows] - delta).max(axis=1)
            self.assertLess(distances.min(), 1e-4)

    def test_rejects_bad_input(self):
        with self.assertRaisesRegex(ValueError, 'method must be one of'):
            AugmentOptions('mixup')
        with self.assertRaisesRegex(ValueError, 'strength'):
            AugmentOptions(strength=-1.0)
        with self.assertRaisesRegex(ValueError, 'relation'):
            AugmentOptions(relation='cousins')
        with self.assertRaisesRegex(ValueError, 'num_related'):
            AugmentOptions(num_related=0)
        with self.assertRaisesRegex(ValueError, r'support must be latents \[K >= 1, 6\]'):
            augment_latents(np.zeros([0, DIM]), self.base, 2)
        with self.assertRaisesRegex(ValueError, r'support must be latents'):
            augment_latents(np.zeros([2, 5]), self.base, 2)
        with self.assertRaisesRegex(ValueError, 'num must be'):
            augment_latents(self.support, self.base, -1)


if __name__ == '__main__':
    tf.test.main()
