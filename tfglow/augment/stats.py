"""Normality statistics of 1-D samples, random projections, and covariance distances via Grams.

Each statistic compares the columns of `samples` `[n, P]` with a normal of the column's own mean
and standard deviation (ddof=1), i.e. the composite hypothesis "some normal":

```none
u_i  = Phi((x_(i) - mean) / std)                  x_(1) <= ... <= x_(n), Phi the N(0, 1) CDF
KS   = max_i max(i / n - u_i, u_i - (i - 1) / n)  (Lilliefors' statistic)
A^2  = -n - 1/n sum_i (2i - 1) (log u_i + log(1 - u_(n+1-i)))        (Anderson-Darling)
kurt = mean(((x - mean) / std_ml)^4) - 3          excess kurtosis, 0 for a normal
```

With estimated parameters the statistics' null distributions do not depend on the normal's
parameters, but they do depend on `n` (KS shrinks like `1/sqrt(n)`), so comparisons between
sample sizes go through `grouped_null`, which computes the same statistics on normal samples
with the same group structure.

`frobenius_inner(a, b)` is `<a^T a, b^T b>_F = ||a b^T||_F^2`, so the Frobenius distance between
two covariances given as factors (`S = Y^T Y`, `Y` `[rows, D]`) needs only `rows x rows` matrices,
never `D x D` ones.
"""

import numpy as np
import tensorflow_probability as tfp

__all__ = [
    'STATISTICS',
    'anderson_darling',
    'excess_kurtosis',
    'frobenius_inner',
    'grouped_null',
    'ks_statistic',
    'log_normal_cdf',
    'normality_statistics',
    'project',
    'random_directions',
]

STATISTICS = ('ks', 'ad', 'kurtosis')
_STANDARD_NORMAL = tfp.distributions.Normal(np.float64(0.0), np.float64(1.0))


def log_normal_cdf(x: np.ndarray) -> np.ndarray:
    """`log Phi(x)`, float64, accurate in both tails (TFP's `log_ndtr`: an asymptotic series
    where `Phi` itself underflows, e.g. `log Phi(-40) = -804.6`)."""
    x = np.asarray(x, np.float64)
    return _STANDARD_NORMAL.log_cdf(x).numpy()


def _standardized_sorted(samples: np.ndarray) -> np.ndarray:
    samples = np.asarray(samples, np.float64)
    if samples.ndim == 1:
        samples = samples[:, None]
    if samples.ndim != 2 or len(samples) < 3:
        raise ValueError(f'samples must be [n >= 3, P]; got shape {samples.shape}.')
    std = samples.std(axis=0, ddof=1)
    if (std <= 0).any():
        raise ValueError('a column of samples is constant: no normal to compare it with.')
    return np.sort((samples - samples.mean(axis=0)) / std, axis=0)


def ks_statistic(samples: np.ndarray) -> np.ndarray:
    """Kolmogorov-Smirnov (Lilliefors) statistic of each column of `[n, P]`, `[P]`."""
    z = _standardized_sorted(samples)
    n = len(z)
    u = np.exp(log_normal_cdf(z))
    i = np.arange(1, n + 1)[:, None]
    return np.maximum((i / n - u).max(axis=0), (u - (i - 1) / n).max(axis=0))


def anderson_darling(samples: np.ndarray) -> np.ndarray:
    """Anderson-Darling `A^2` of each column of `[n, P]` against its own normal, `[P]`."""
    z = _standardized_sorted(samples)
    n = len(z)
    log_u = log_normal_cdf(z)
    # log(1 - Phi(z_(n+1-i))) = log Phi(-z_(n+1-i)): no cancellation in the upper tail.
    log_upper = log_normal_cdf(-z[::-1])
    weights = (2 * np.arange(1, n + 1) - 1)[:, None]
    return -n - (weights * (log_u + log_upper)).sum(axis=0) / n


def excess_kurtosis(samples: np.ndarray) -> np.ndarray:
    """Excess kurtosis of each column of `[n, P]` (0 for a normal, > 0 for heavy tails)."""
    samples = np.asarray(samples, np.float64)
    centred = samples - samples.mean(axis=0)
    variance = (centred**2).mean(axis=0)
    return (centred**4).mean(axis=0) / variance**2 - 3.0


def normality_statistics(samples: np.ndarray) -> dict[str, np.ndarray]:
    """`{'ks', 'ad', 'kurtosis'}`, each `[P]`, of the columns of `samples` `[n, P]`."""
    return {
        'ks': ks_statistic(samples),
        'ad': anderson_darling(samples),
        'kurtosis': excess_kurtosis(samples),
    }


def random_directions(dim: int, num: int, seed, columns: slice | None = None) -> np.ndarray:
    """`num` random unit vectors in R^dim, `[dim, num]`, uniform on the sphere.

    With `columns`, the vectors are uniform on the unit sphere of those coordinates (zero
    elsewhere): projections of one Glow level.
    """
    rng = np.random.default_rng(seed)
    directions = np.zeros([dim, num])
    columns = columns or slice(0, dim)
    block = rng.standard_normal([len(range(dim)[columns]), num])
    directions[columns] = block / np.linalg.norm(block, axis=0)
    return directions


def project(samples: np.ndarray, directions: np.ndarray) -> np.ndarray:
    """`samples [n, D] @ directions [D, P]` in float64."""
    return np.asarray(samples, np.float64) @ directions


def grouped_null(counts, num: int, seed, centre_groups: bool = True) -> dict[str, np.ndarray]:
    """The statistics of `num` normal samples shaped like pooled within-class deviations.

    Each column holds `sum(counts)` N(0, 1) draws in groups of `counts`; with `centre_groups` each
    group's mean is subtracted, as `ClassLatents.deviations` does. A normal with one covariance
    for every class gives exactly this distribution of the statistics, whatever that covariance.
    """
    rng = np.random.default_rng(seed)
    counts = np.asarray(counts, np.int64)
    draws = rng.standard_normal([int(counts.sum()), num])
    if centre_groups:
        offsets = np.concatenate([[0], np.cumsum(counts)[:-1]])
        means = np.add.reduceat(draws, offsets, axis=0) / counts[:, None]
        draws -= np.repeat(means, counts, axis=0)
    return normality_statistics(draws)


def frobenius_inner(a: np.ndarray, b: np.ndarray) -> float:
    """`<a^T a, b^T b>_F = ||a b^T||_F^2` for factors `a` `[m, D]` and `b` `[n, D]`."""
    gram = np.asarray(a, np.float64) @ np.asarray(b, np.float64).T
    return float(np.sum(gram**2))
