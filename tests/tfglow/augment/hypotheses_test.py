"""tfglow.augment.hypotheses on synthetic classes whose answers are known."""

import math

import numpy as np
import tensorflow as tf

from tfglow.augment import hypotheses
from tfglow.augment.latent import ClassLatents
from tfglow.augment.methods import BaseStatistics


def _classes(scales: np.ndarray, per_class: int = 20, dim: int = 8, seed: int = 0):
    """Normal classes `scales[c] * N(0, I)` around random means, in groups of 5 (alphabets)."""
    rng = np.random.default_rng(seed)
    latents = [
        rng.standard_normal(dim) * 3 + s * rng.standard_normal([per_class, dim]) for s in scales
    ]
    groups = [f'a{c // 5}' for c in range(len(scales))]
    return ClassLatents(
        names=[f'{g}/c{c}' for c, g in enumerate(groups)],
        groups=groups,
        latents=np.concatenate(latents).astype(np.float32),
        counts=np.full(len(scales), per_class),
    )


class PoolingNormalityTest(tf.test.TestCase):
    def _run(self, scales):
        return hypotheses.pooling_normality(
            _classes(scales),
            (1, 5, 'alphabet', 'all'),
            levels=(slice(0, 4), slice(4, 8)),
            num_projections=40,
            sets_per_size=4,
            null_draws=200,
        )

    def test_one_shared_covariance_is_normal_at_every_pool_size(self):
        with self.assertLogs('absl', 'INFO') as logs:
            result = self._run(np.ones(40))
        self.assertRegex(logs.output[-1], r'hypothesis 1 \(normality\): (\d+)/\1 pools \(100%\)')
        self.assertEqual(result['spaces'], ['all', 'level_0', 'level_1'])
        self.assertEqual([r['pool'] for r in result['rows']], [1, 5, 'alphabet', 'all'])
        for row in result['rows']:
            for space in result['spaces']:
                self.assertBetween(row[space]['ad']['rejection_rate'], 0.0, 0.2)
                # Sample kurtosis is biased low at n = 20; its excess over the null is not.
                self.assertAllClose(row[space]['kurtosis']['excess'], 0.0, atol=0.25)

    def test_a_scale_mixture_departs_from_normal_as_classes_are_pooled(self):
        # Classes of very different spreads: their pool is a scale mixture with heavy tails.
        scales = np.exp(np.random.default_rng(1).uniform(-1.5, 1.5, 40))
        result = self._run(scales)
        first, last = result['rows'][0], result['rows'][-1]
        self.assertEqual(last['mean_rows'], 800)
        self.assertGreater(last['all']['kurtosis']['excess'], 1.0)
        self.assertGreater(last['all']['ad']['rejection_rate'], 0.9)
        self.assertLess(first['all']['ad']['rejection_rate'], 0.2)
        self.assertGreater(last['all']['ks']['excess'], first['all']['ks']['excess'])


class EstimationErrorTest(tf.test.TestCase):
    def test_frobenius_error_from_inner_products(self):
        rng = np.random.default_rng(0)
        k, r, t = (rng.standard_normal([n, 5]) for n in (3, 30, 20))
        dense_r = r.T @ r
        covs = {
            'k': hypotheses._Cov(factor=k),
            'r': hypotheses._Cov(dense=dense_r),
            't': hypotheses._Cov(factor=t),
        }
        inner = {
            'kk': covs['k'].inner(covs['k']),
            'kt': covs['k'].inner(covs['t']),
            'kr': covs['k'].inner(covs['r']),
            'rr': covs['r'].inner(covs['r']),
            'rt': covs['r'].inner(covs['t']),
        }
        truth = t.T @ t
        for a, b in ((1.0, 0.0), (0.0, 1.0), (0.3, 0.7)):
            expected = np.linalg.norm(a * k.T @ k + b * dense_r - truth) / np.linalg.norm(truth)
            error = hypotheses._frobenius_error(a, b, inner, float(np.sum(truth**2)))
            self.assertAllClose(error, expected, rtol=1e-9)
        self.assertAllClose(covs['r'].diagonal(), np.diag(dense_r))

    def test_related_classes_help_few_shots(self):
        # Means close within an alphabet, far across: the alphabet's mean is a good prior.
        rng = np.random.default_rng(2)
        classes = []
        for c in range(30):
            alphabet_mean = np.full(8, 10.0 * (c // 5))
            classes.append(
                alphabet_mean + 0.3 * rng.standard_normal(8) + rng.standard_normal([20, 8])
            )
        groups = [f'a{c // 5}' for c in range(30)]
        latents = ClassLatents(
            names=[f'{g}/c{c}' for c, g in enumerate(groups)],
            groups=groups,
            latents=np.concatenate(classes).astype(np.float32),
            counts=np.full(30, 20),
        )
        base = BaseStatistics(latents)
        with self.assertLogs('absl', 'INFO') as logs:
            result = hypotheses.estimation_error(latents, base, ks=(1, 2, 5), draws=2)
        self.assertRegex(logs.output[-1], r'hypothesis 2 \(K-shot estimates\): 30/30 classes')
        self.assertEqual(result['relations'], ['alphabet', 'nearest', 'all'])
        errors = result['errors']
        self.assertTrue(math.isnan(errors['covariance']['alone']['mean'][0]))
        # One shot: the alphabet prior beats the shot alone by far; all classes do not help.
        self.assertLess(
            errors['mean']['alone+alphabet']['mean'][0], 0.7 * errors['mean']['alone']['mean'][0]
        )
        self.assertGreater(errors['mean']['all']['mean'][0], errors['mean']['alphabet']['mean'][0])
        for k_index in (1, 2):  # Shared covariance: pooling it beats K shots.
            self.assertLess(
                errors['covariance']['alone+alphabet']['mean'][k_index],
                errors['covariance']['alone']['mean'][k_index],
            )
        self.assertGreater(result['kappa']['alphabet'], 1.0)

    def test_leave_one_out_relates_each_class_to_the_others(self):
        # Ten classes sharing one covariance, means close together: the others' covariance is a
        # good prior, and every class is measured once per draw and K.
        latents = _classes(np.ones(10), per_class=30, seed=3)
        with self.assertLogs('absl', 'INFO') as logs:
            result = hypotheses.leave_one_out_error(latents, ks=(1, 2, 5), num_related=3, draws=2)
        self.assertRegex(logs.output[-1], r'leave-one-out estimates\): 10/10 classes')
        self.assertTrue(result['leave_one_out'])
        self.assertEqual(result['relations'], ['nearest', 'all'])
        self.assertEqual(result['num_classes'], 10)
        self.assertEqual(set(result['kappa']), {'nearest', 'all'})
        errors = result['errors']
        self.assertEqual(
            set(errors['mean']),
            {'alone', 'nearest', 'all', 'alone+nearest', 'alone+all'},
        )
        self.assertTrue(math.isnan(errors['covariance']['alone']['mean'][0]))
        for k_index in (1, 2):
            self.assertLess(
                errors['covariance']['alone+all']['mean'][k_index],
                errors['covariance']['alone']['mean'][k_index],
            )
        with self.assertRaisesRegex(ValueError, 'alphabet'):
            hypotheses.leave_one_out_error(latents, ks=(1,), relations=('alphabet',))
        with self.assertRaisesRegex(ValueError, '>= 3 classes'):
            hypotheses.leave_one_out_error(latents.subset([0, 1]), ks=(1,))

    def test_rejects_too_many_shots(self):
        latents = _classes(np.ones(4), per_class=5)
        with self.assertRaisesRegex(ValueError, r'ks must be in \[1, 4\]'):
            hypotheses.estimation_error(latents, BaseStatistics(latents), ks=(5,))


if __name__ == '__main__':
    tf.test.main()
