"""The two hypotheses behind latent-space augmentation, measured on encoded classes.

Hypothesis 1 (`pooling_normality`): the within-class deviations `z - m_c`, pooled over P classes
of a category, look more and more normal as P grows. For each P, random sets of P classes are
pooled; each pool is projected on `num_projections` random unit directions (of the whole latent,
and of each Glow level alone), and each projection's KS and Anderson-Darling statistics against
its own normal and its excess kurtosis are computed. Since KS and A^2 depend on the sample size,
each is compared with its value on normal data of exactly the pool's shape (`stats.grouped_null`):
the *excess* (median statistic minus the null's median) and the *rejection rate* (share of
projections beyond the null's 95th percentile; 5% for normal data) are comparable across P.

Hypothesis 2 (`estimation_error`): with K shots a class's mean and covariance estimates are poor,
and statistics of related classes improve them. For each class and K, K images are drawn; the
estimates are compared with the class's all-image truth (20 images for Omniglot, the K included):

```none
mean        alone: m_K                 related: m_R = mean of related means
            combined: (K m_K + kappa m_R) / (K + kappa)
covariance  alone: S_K (ddof 1, K >= 2)  related: S_R = mean of related covariances
            combined: ((K - 1) S_K + nu S_R) / (K - 1 + nu)
errors      mean: ||m - m_true|| / ||m_true||;  covariance: ||S - S_true||_F / ||S_true||_F;
            variance: the same on the diagonals (per-dimension variances)
```

Relations: 'alphabet' (the other classes of the class's own alphabet, from the same split, leave
one out), 'nearest' (the `num_related` base classes nearest to m_K) and 'all' (every base class).
`kappa = sigma_w^2 / tau^2` is the normal-normal posterior weight of the related mean, estimated on
the base classes (`sigma_w^2`: within-class variance, `tau^2`: spread of class means around their
relation's mean); `nu` (`prior_dof`) is fixed. `leave_one_out_error` is the same measure on a
set without an evaluation split (Fashion-MNIST): each class against the statistics of the others.
"""

import math
from collections.abc import Sequence

import numpy as np

from tfglow.augment import stats
from tfglow.augment.latent import ClassLatents
from tfglow.augment.methods import BaseStatistics
from tfglow.progress import Progress

__all__ = [
    'DEFAULT_KS',
    'DEFAULT_POOL_SIZES',
    'H2_RELATIONS',
    'estimation_error',
    'leave_one_out_error',
    'mean_prior_strength',
    'pooling_normality',
]

DEFAULT_POOL_SIZES = (1, 2, 5, 10, 20, 50, 'alphabet', 'all')
DEFAULT_KS = tuple(range(1, 11))
H2_RELATIONS = ('alphabet', 'nearest', 'all')


def _pools(latents: ClassLatents, size, sets: int, rng) -> list[np.ndarray]:
    """Class index sets of one pool size."""
    classes = latents.num_classes
    if size == 'all':
        return [np.arange(classes)]
    if size == 'alphabet':
        groups = sorted({g for g in latents.groups if g})
        members = [np.flatnonzero(np.array(latents.groups) == g) for g in groups]
        members = [m for m in members if len(m) >= 2]
        if len(members) > sets:
            members = [members[i] for i in np.sort(rng.choice(len(members), sets, replace=False))]
        return members
    size = int(size)
    if size > classes:
        return []
    if size == classes:
        return [np.arange(classes)]  # Every draw would be the same pool.
    return [np.sort(rng.choice(classes, size, replace=False)) for _ in range(sets)]


def pooling_normality(
    latents: ClassLatents,
    pool_sizes: Sequence = DEFAULT_POOL_SIZES,
    *,
    levels: Sequence[slice] = (),
    num_projections: int = 200,
    sets_per_size: int = 10,
    null_draws: int = 200,
    seed: int = 0,
) -> dict:
    """Hypothesis 1: normality of pooled within-class deviations vs the number of classes P.

    Args:
      latents: the classes (e.g. the background set), >= 3 images in all per pool.
      pool_sizes: ints P, 'alphabet' (each group is one pool) and 'all' (one pool of every class).
      levels: column slices of the Glow levels (`LatentCodec.level_slices`), each measured alone
        besides the whole latent; none to measure only the whole.
      num_projections: random directions per pool and space.
      sets_per_size: pools drawn per int P (and at most this many alphabets).
      null_draws: normal samples per pool for the null distribution.
      seed: seeds the pools, directions and null samples.

    Returns:
      `{'spaces': [...], 'rows': [{'pool': P, 'num_pools', 'mean_rows' (pooled images),
      'classes' (mean classes per pool), space: {statistic: {'median', 'null_median',
      'excess', 'rejection_rate'}}}]}` with statistics 'ks', 'ad', 'kurtosis'.
    """
    deviations = latents.deviations()
    dim = deviations.shape[1]
    spaces = {'all': slice(0, dim)}
    spaces.update({f'level_{i}': s for i, s in enumerate(levels)})
    offsets, counts = latents.offsets, latents.counts
    rows_out = []
    # Drawn first, so that the progress lines know the number of pools to test.
    pools_by_size = []
    for size_index, size in enumerate(pool_sizes):
        pools = _pools(latents, size, sets_per_size, np.random.default_rng([seed, size_index]))
        pools_by_size.append([p for p in pools if counts[p].sum() >= 3])
    num_pools = sum(len(pools) for pools in pools_by_size)
    progress = Progress('hypothesis 1 (normality)', num_pools, 'pools') if num_pools else None
    for size_index, (size, pools) in enumerate(zip(pool_sizes, pools_by_size, strict=True)):
        if not pools:
            continue
        values = {s: {k: [] for k in stats.STATISTICS} for s in spaces}
        rejected = {s: {k: [] for k in ('ks', 'ad')} for s in spaces}
        null_values = {k: [] for k in stats.STATISTICS}
        for pool_index, pool in enumerate(pools):
            rows = np.concatenate([np.arange(offsets[c], offsets[c] + counts[c]) for c in pool])
            null = stats.grouped_null(counts[pool], null_draws, [seed, size_index, pool_index, 1])
            for key in stats.STATISTICS:
                null_values[key].append(null[key])
            for space_index, (space, columns) in enumerate(spaces.items()):
                directions = stats.random_directions(
                    dim, num_projections, [seed, size_index, pool_index, 2, space_index], columns
                )
                measured = stats.normality_statistics(stats.project(deviations[rows], directions))
                for key in stats.STATISTICS:
                    values[space][key].append(measured[key])
                for key in ('ks', 'ad'):
                    threshold = np.quantile(null[key], 0.95)
                    rejected[space][key].append(measured[key] > threshold)
            progress.advance(1)
        row = {
            'pool': size,
            'num_pools': len(pools),
            'mean_rows': float(np.mean([counts[p].sum() for p in pools])),
            'classes': float(np.mean([len(p) for p in pools])),
        }
        for space in spaces:
            row[space] = {}
            for key in stats.STATISTICS:
                median = float(np.median(np.concatenate(values[space][key])))
                null_median = float(np.median(np.concatenate(null_values[key])))
                entry = {
                    'median': median,
                    'null_median': null_median,
                    'excess': median - null_median,
                }
                if key in rejected[space]:
                    entry['rejection_rate'] = float(np.mean(np.concatenate(rejected[space][key])))
                row[space][key] = entry
        rows_out.append(row)
    return {
        'spaces': list(spaces),
        'num_projections': num_projections,
        'sets_per_size': sets_per_size,
        'null_draws': null_draws,
        'seed': seed,
        'rows': rows_out,
    }


class _Cov:
    """A covariance as a factor `Y` (`S = Y^T Y`) or a dense `[D, D]` matrix."""

    def __init__(self, factor: np.ndarray | None = None, dense: np.ndarray | None = None):
        self.factor = None if factor is None else np.asarray(factor, np.float64)
        self.dense = None if dense is None else np.asarray(dense, np.float64)

    def diagonal(self) -> np.ndarray:
        if self.dense is not None:
            return np.diag(self.dense).copy()
        return np.sum(self.factor**2, axis=0)

    def inner(self, other: '_Cov') -> float:
        if self.dense is not None and other.dense is not None:
            return float(np.sum(self.dense * other.dense))
        if self.dense is not None:
            return float(np.sum((other.factor @ self.dense) * other.factor))
        if other.dense is not None:
            return other.inner(self)
        return stats.frobenius_inner(self.factor, other.factor)


def _frobenius_error(a: float, b: float, inner: dict, truth_norm2: float) -> float:
    """`||a S_K + b S_R - S_true||_F / ||S_true||_F` from the inner products of the three.

    `inner` holds 'kk', 'kt', 'kr' (the K-shot covariance with itself, the truth and the related
    one; unused when `a` is 0), 'rr' and 'rt' (unused when `b` is 0).
    """
    total = truth_norm2
    if a:
        total += a * a * inner['kk'] - 2.0 * a * inner['kt']
    if b:
        total += b * b * inner['rr'] - 2.0 * b * inner['rt']
    if a and b:
        total += 2.0 * a * b * inner['kr']
    return math.sqrt(max(total, 0.0) / truth_norm2)


def _relative(estimate: np.ndarray, truth: np.ndarray) -> float:
    return float(np.linalg.norm(estimate - truth) / np.linalg.norm(truth))


def mean_prior_strength(base: BaseStatistics, relation: str, num_related: int = 10) -> float:
    """`kappa = sigma_w^2 / tau^2` of a relation, measured on the base classes (leave one out)."""
    variances = np.sum(base.factors.astype(np.float64) ** 2, axis=0) / base.num_classes
    sigma2 = float(np.mean(variances))  # Mean within-class variance per dimension.
    n = float(np.mean(base.counts))
    squared = []
    for c in range(base.num_classes):
        if relation == 'alphabet' and (not base.groups[c] or base.group_size(base.groups[c]) < 2):
            continue
        related = base.related(base.means[c], relation, num_related, base.groups[c], exclude=[c])
        prior = base.means[related].mean(axis=0)
        squared.append(np.mean((base.means[c] - prior) ** 2))
    tau2 = max(float(np.mean(squared)) - sigma2 / n, 1e-3 * sigma2)
    return sigma2 / tau2


def estimation_error(
    targets: ClassLatents,
    base: BaseStatistics,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    relations: Sequence[str] = H2_RELATIONS,
    num_related: int = 10,
    draws: int = 2,
    max_classes: int = 0,
    prior_dof: float = 10.0,
    seed: int = 0,
) -> dict:
    """Hypothesis 2: errors of K-shot mean and covariance estimates, alone and with relations.

    Args:
      targets: the classes whose statistics are estimated (e.g. the evaluation set); 'alphabet'
        relates each to the other targets of its group.
      base: statistics of the base classes, for 'nearest' and 'all'.
      ks: shot counts, each below every target class's size.
      relations: any of 'alphabet', 'nearest', 'all'.
      num_related: base classes of 'nearest'.
      draws: random K-subsets per class and K.
      max_classes: targets used (drawn with `seed`); 0 = all.
      prior_dof: `nu` of the combined covariance.
      seed: seeds the choices.

    Returns:
      `{'ks', 'relations', 'kappa': {relation: kappa}, 'prior_dof', 'num_classes', 'errors':
      {'mean' | 'variance' | 'covariance': {estimator: {'mean': [per K], 'stderr': [per K]}}}}`
      with estimators 'alone', '<relation>' and 'alone+<relation>'; 'alone' covariance errors are
      NaN at K = 1 (no estimate).
    """
    ks = sorted({int(k) for k in ks})
    errors, relations, kappa, num_classes = _raw_errors(
        targets,
        base,
        ks,
        relations,
        num_related,
        draws,
        max_classes,
        prior_dof,
        seed,
        label='hypothesis 2 (K-shot estimates)',
    )
    return {
        'ks': ks,
        'relations': relations,
        'kappa': kappa,
        'prior_dof': prior_dof,
        'num_related': num_related,
        'num_classes': num_classes,
        'draws': draws,
        'seed': seed,
        'errors': _summarize(errors),
    }


def leave_one_out_error(
    latents: ClassLatents,
    ks: Sequence[int] = DEFAULT_KS,
    *,
    relations: Sequence[str] = ('nearest', 'all'),
    num_related: int = 3,
    draws: int = 2,
    prior_dof: float = 10.0,
    seed: int = 0,
) -> dict:
    """Hypothesis 2 on one labelled set: each class against the statistics of all the others.

    For a dataset with a handful of classes and no separate evaluation split (Fashion-MNIST), class
    `c`'s K-shot estimates are combined with the statistics of the other classes (`base` of
    `estimation_error` is every class but `c`; kappa is measured on those). Args as
    `estimation_error`; 'alphabet' is not a relation here.

    Returns:
      As `estimation_error`, with 'kappa' the mean over the left-out classes and
      'leave_one_out': True.
    """
    if latents.num_classes < 3:
        raise ValueError(f'leave-one-out needs >= 3 classes; got {latents.num_classes}.')
    if 'alphabet' in relations:
        raise ValueError("relation 'alphabet' needs groups of classes; use 'nearest' or 'all'.")
    ks = sorted({int(k) for k in ks})
    errors, kappas = None, []
    progress = Progress('hypothesis 2 (leave-one-out estimates)', latents.num_classes, 'classes')
    for c in range(latents.num_classes):
        others = [j for j in range(latents.num_classes) if j != c]
        raw, relations, kappa, _ = _raw_errors(
            latents.subset([c]),
            BaseStatistics(latents.subset(others)),
            ks,
            relations,
            num_related,
            draws,
            0,
            prior_dof,
            seed + c,  # Other K-subsets per class (each call sees its class as index 0).
        )
        progress.advance(1)
        kappas.append(kappa)
        if errors is None:
            errors = raw
        else:
            for quantity, by_estimator in raw.items():
                for estimator, per_k in by_estimator.items():
                    for merged, values in zip(errors[quantity][estimator], per_k, strict=True):
                        merged.extend(values)
    return {
        'ks': ks,
        'relations': list(relations),
        'kappa': {r: float(np.mean([k[r] for k in kappas])) for r in relations},
        'prior_dof': prior_dof,
        'num_related': num_related,
        'num_classes': latents.num_classes,
        'draws': draws,
        'seed': seed,
        'leave_one_out': True,
        'errors': _summarize(errors),
    }


def _raw_errors(
    targets, base, ks, relations, num_related, draws, max_classes, prior_dof, seed, label=''
):
    """`estimation_error`'s loop: `(errors {quantity: {estimator: [[values] per K]}}, relations,
    kappa, number of target classes)`; logs progress over the classes under `label`."""
    if not ks or ks[0] < 1 or ks[-1] >= int(np.min(targets.counts)):
        raise ValueError(
            f'ks must be in [1, {int(np.min(targets.counts)) - 1}] (below the smallest class); '
            f'got {ks}.'
        )
    unknown = set(relations) - set(H2_RELATIONS)
    if unknown:
        raise ValueError(f'relations must be some of {H2_RELATIONS}; got {list(relations)}.')
    rng = np.random.default_rng([seed, 0])
    classes = np.arange(targets.num_classes)
    if max_classes and max_classes < len(classes):
        classes = np.sort(rng.choice(classes, max_classes, replace=False))
    relations = list(relations)
    target_stats = BaseStatistics(targets)
    if 'alphabet' in relations:
        group_sizes = {g: targets.groups.count(g) for g in set(targets.groups)}
        if not any(g and group_sizes[g] >= 2 for g in targets.groups):
            relations.remove('alphabet')
    kappa = {}
    for relation in relations:
        # Measured on the base classes (their own alphabets for 'alphabet'), not on the targets.
        source = base
        if relation == 'alphabet' and not any(base.group_size(g) >= 2 for g in base.groups if g):
            source = target_stats
        kappa[relation] = mean_prior_strength(source, relation, num_related)
    # Dense sums of covariances per group (alphabet) and of all base classes: leave-one-out and
    # 'all' are then differences and scalings of D x D matrices.
    group_sums = {}
    if 'alphabet' in relations:
        for group in set(targets.groups):
            rows = target_stats.rows([c for c, g in enumerate(targets.groups) if g == group])
            factor = target_stats.factors[rows].astype(np.float64)
            group_sums[group] = factor.T @ factor
    all_base = None
    if 'all' in relations:
        factor = base.factors.astype(np.float64)
        all_base = _Cov(dense=factor.T @ factor / base.num_classes)
        all_base_mean = base.means.mean(axis=0)

    quantities = ('mean', 'variance', 'covariance')
    estimators = ['alone'] + relations + [f'alone+{r}' for r in relations]
    errors = {q: {e: [[] for _ in ks] for e in estimators} for q in quantities}
    progress = Progress(label, len(classes), 'classes') if label else None
    for c in classes:
        z = targets.of(c).astype(np.float64)
        n = len(z)
        true_mean = z.mean(axis=0)
        truth = _Cov(factor=(z - true_mean) / math.sqrt(n - 1))
        truth_norm2 = truth.inner(truth)
        true_var = truth.diagonal()
        group = targets.groups[c]
        # Relations that do not depend on the shots: (mean, covariance, its diagonal, its inner
        # products with itself and the truth).
        fixed = {}
        if 'alphabet' in relations and group and targets.groups.count(group) >= 2:
            others = [j for j, g in enumerate(targets.groups) if g == group and j != c]
            own = target_stats.factors[target_stats.rows([c])].astype(np.float64)
            cov = _Cov(dense=(group_sums[group] - own.T @ own) / len(others))
            fixed['alphabet'] = (target_stats.means[others].mean(axis=0), cov)
        if all_base is not None:
            fixed['all'] = (all_base_mean, all_base)
        fixed = {
            r: (m, cov, cov.diagonal(), {'rr': cov.inner(cov), 'rt': cov.inner(truth)})
            for r, (m, cov) in fixed.items()
        }
        for k_index, k in enumerate(ks):
            for draw in range(draws):
                pick = np.random.default_rng([seed, 1, int(c), k, draw]).choice(n, k, replace=False)
                shots = z[pick]
                mean_k = shots.mean(axis=0)
                alone = _Cov(factor=(shots - mean_k) / math.sqrt(max(k - 1, 1)))
                alone_var = alone.diagonal()
                alone_inner = {'kk': alone.inner(alone), 'kt': alone.inner(truth)}
                record = lambda q, e, value, i=k_index: errors[q][e][i].append(value)
                record('mean', 'alone', _relative(mean_k, true_mean))
                if k >= 2:
                    record('variance', 'alone', _relative(alone_var, true_var))
                    record('covariance', 'alone', _frobenius_error(1, 0, alone_inner, truth_norm2))
                for relation in relations:
                    if relation in fixed:
                        prior_mean, prior_cov, prior_var, inner = fixed[relation]
                    elif relation == 'nearest':
                        related = base.nearest(mean_k, num_related)
                        prior_mean = base.means[related].mean(axis=0)
                        prior_cov = _Cov(factor=base.pooled_factor(related))
                        prior_var = prior_cov.diagonal()
                        inner = {'rr': prior_cov.inner(prior_cov), 'rt': prior_cov.inner(truth)}
                    else:
                        continue  # A class alone in its alphabet.
                    inner = {**inner, **alone_inner}
                    w = kappa[relation]
                    combined_mean = (k * mean_k + w * prior_mean) / (k + w)
                    record('mean', relation, _relative(prior_mean, true_mean))
                    record('mean', f'alone+{relation}', _relative(combined_mean, true_mean))
                    record('variance', relation, _relative(prior_var, true_var))
                    record('covariance', relation, _frobenius_error(0, 1, inner, truth_norm2))
                    a, b = (k - 1) / (k - 1 + prior_dof), prior_dof / (k - 1 + prior_dof)
                    if a:
                        inner['kr'] = alone.inner(prior_cov)
                    record(
                        'variance',
                        f'alone+{relation}',
                        _relative(a * alone_var + b * prior_var, true_var),
                    )
                    record(
                        'covariance',
                        f'alone+{relation}',
                        _frobenius_error(a, b, inner, truth_norm2),
                    )
        if progress:
            progress.advance(1)
    return errors, relations, kappa, len(classes)


def _summarize(errors: dict) -> dict:
    """Mean and standard error per K of `_raw_errors`' values."""
    summary = {}
    for quantity, by_estimator in errors.items():
        summary[quantity] = {}
        for estimator, per_k in by_estimator.items():
            means = [float(np.mean(v)) if v else float('nan') for v in per_k]
            stderrs = [
                float(np.std(v, ddof=1) / math.sqrt(len(v))) if len(v) > 1 else float('nan')
                for v in per_k
            ]
            summary[quantity][estimator] = {'mean': means, 'stderr': stderrs}
    return summary
