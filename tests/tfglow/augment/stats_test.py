"""tfglow.augment.stats: the normality statistics against direct formulas and known behaviour."""

import math

import numpy as np
import tensorflow as tf

from tfglow.augment import stats


def _phi(x: float) -> float:
    return 0.5 * math.erfc(-x / math.sqrt(2.0))


def _reference(sample: np.ndarray) -> tuple[float, float]:
    """KS and A^2 of one column, written out with Python floats and math.erf."""
    mean = sum(sample) / len(sample)
    std = math.sqrt(sum((v - mean) ** 2 for v in sample) / (len(sample) - 1))
    u = [_phi((v - mean) / std) for v in sorted(sample)]
    n = len(u)
    ks = max(max((i + 1) / n - u[i], u[i] - i / n) for i in range(n))
    ad = -n - sum((2 * i + 1) * (math.log(u[i]) + math.log(1 - u[n - 1 - i])) for i in range(n)) / n
    return ks, ad


class StatisticsTest(tf.test.TestCase):
    def test_match_the_direct_formulas(self):
        rng = np.random.default_rng(0)
        samples = np.stack([rng.standard_normal(37), rng.exponential(size=37)], axis=1)
        ks, ad = stats.ks_statistic(samples), stats.anderson_darling(samples)
        for column in range(2):
            expected_ks, expected_ad = _reference(samples[:, column].tolist())
            self.assertAllClose(ks[column], expected_ks, rtol=1e-10)
            self.assertAllClose(ad[column], expected_ad, rtol=1e-10)

    def test_invariant_to_location_and_scale(self):
        rng = np.random.default_rng(1)
        samples = rng.standard_normal([50, 3])
        for fn in (stats.ks_statistic, stats.anderson_darling, stats.excess_kurtosis):
            self.assertAllClose(fn(samples), fn(3.0 * samples - 7.0), rtol=1e-9)

    def test_separate_normal_from_non_normal_samples(self):
        rng = np.random.default_rng(2)
        n, columns = 500, 50
        normal = stats.normality_statistics(rng.standard_normal([n, columns]))
        # Known large-sample 5% critical values with estimated parameters: Lilliefors'
        # 0.886 / sqrt(n) and Stephens' 0.752 / (1 + 0.75 / n + 2.25 / n^2) for A^2.
        ks_critical = 0.886 / math.sqrt(n)
        ad_critical = 0.752 / (1 + 0.75 / n + 2.25 / n**2)
        self.assertBetween(np.mean(normal['ks'] > ks_critical), 0.0, 0.15)
        self.assertBetween(np.mean(normal['ad'] > ad_critical), 0.0, 0.15)
        self.assertAllClose(np.median(normal['kurtosis']), 0.0, atol=0.15)
        for name, draws, kurtosis in (
            ('uniform', rng.uniform(size=[n, columns]), -1.2),
            ('laplace', rng.laplace(size=[n, columns]), 3.0),
            ('exponential', rng.exponential(size=[n, columns]), 6.0),
        ):
            measured = stats.normality_statistics(draws)
            self.assertGreater(np.mean(measured['ad'] > ad_critical), 0.9, name)
            self.assertGreater(np.median(measured['ks']), np.median(normal['ks']), name)
            self.assertAllClose(np.median(measured['kurtosis']), kurtosis, atol=0.6 + kurtosis / 4)

    def test_log_normal_cdf_is_accurate_in_the_tails(self):
        values = stats.log_normal_cdf(np.array([-40.0, -5.0, 0.0, 5.0]))
        # log Phi(-40) = log(erfc(40 / sqrt 2) / 2), from the asymptotic series.
        x = 40.0
        asymptotic = -x * x / 2 - math.log(x) - 0.5 * math.log(2 * math.pi) + math.log1p(-1 / x**2)
        self.assertAllClose(values[0], asymptotic, rtol=1e-6)
        self.assertAllClose(values[1:], [math.log(_phi(v)) for v in (-5.0, 0.0, 5.0)], rtol=1e-9)

    def test_grouped_null_rejects_five_percent_of_its_own_kind(self):
        counts = np.full(10, 20)
        null = stats.grouped_null(counts, 400, seed=0)
        other = stats.grouped_null(counts, 400, seed=1)
        for key in ('ks', 'ad'):
            rate = np.mean(other[key] > np.quantile(null[key], 0.95))
            self.assertBetween(rate, 0.02, 0.09)

    def test_random_directions(self):
        directions = stats.random_directions(10, 7, seed=0, columns=slice(3, 6))
        self.assertEqual(directions.shape, (10, 7))
        self.assertAllClose(np.linalg.norm(directions, axis=0), np.ones(7))
        self.assertAllEqual(directions[:3], np.zeros([3, 7]))
        self.assertAllEqual(directions[6:], np.zeros([4, 7]))
        self.assertAllEqual(directions, stats.random_directions(10, 7, 0, slice(3, 6)))

    def test_frobenius_inner(self):
        rng = np.random.default_rng(3)
        a, b = rng.standard_normal([4, 6]), rng.standard_normal([9, 6])
        self.assertAllClose(stats.frobenius_inner(a, b), np.sum((a.T @ a) * (b.T @ b)))

    def test_rejects_degenerate_samples(self):
        with self.assertRaisesRegex(ValueError, 'constant'):
            stats.ks_statistic(np.ones([10, 2]))
        with self.assertRaisesRegex(ValueError, r'n >= 3'):
            stats.anderson_darling(np.ones([2, 2]))


if __name__ == '__main__':
    tf.test.main()
