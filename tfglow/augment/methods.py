"""Augmentation of a K-shot support set in latent space, with statistics of related base classes.

`z_1..z_K` are the support's latents, `m_K` their mean, and for each base class `j` (e.g. an
Omniglot background character) `m_j` its mean and `S_j` its within-class covariance. The related
classes `R` are picked by `relation`: the `num_related` base classes whose means are nearest to
`m_K` ('nearest'), the base classes of the support's group ('alphabet'), or all ('all'); `t` is
the strength:

```none
'pooled'      z = m_K + t * delta,                  delta ~ N(0, mean_{j in R} S_j)
'transfer'    z = z_k + t * (z_ji - m_j),           a real deviation of a random j in R, image i
'calibrated'  z ~ N(mu, t^2 * (mean_{j in R_k} S_j + alpha * I)),
              mu = (z_k + sum_{j in R_k} m_j) / (|R_k| + 1),
              R_k: the `calibration_k` classes of the relation nearest to z_k itself
```

'transfer' and 'calibrated' go round the support (`k = i mod K` for sample `i`). 'calibrated' is
Distribution Calibration (Yang et al., 2021) on Glow latents, which are close to normal already,
so without its Tukey transform, with its defaults k = 2 and alpha = 0.21. Covariances are never
formed: a class's covariance is `Y_j^T Y_j` with `Y_j = (z_j - m_j) / sqrt(n_j - 1)`, and `g @ Y`
with `g ~ N(0, I)` is exactly normal with covariance `Y^T Y`.

#### Examples

```python
base = BaseStatistics(encode_classes(codec, background_arrays))
support_z = codec.encode(support_images)                          # [K, D]
z = augment_latents(support_z, base, 20, AugmentOptions('pooled', strength=0.8), seed=0)
images = codec.decode(z)                                          # [20, H, W, C]
```

#### References

[1]: Shuo Yang, Lu Liu, Min Xu. Free Lunch for Few-shot Learning: Distribution Calibration. In
     ICLR, 2021. https://arxiv.org/abs/2101.06395
"""

import dataclasses

import numpy as np

from tfglow import validation
from tfglow.augment.latent import ClassLatents

__all__ = [
    'METHODS',
    'RELATIONS',
    'AugmentOptions',
    'BaseStatistics',
    'augment_latents',
]

METHODS = ('pooled', 'transfer', 'calibrated')
RELATIONS = ('nearest', 'alphabet', 'all')


@dataclasses.dataclass(frozen=True)
class AugmentOptions:
    """How to augment (see the module docstring).

    Attributes:
      method: one of `METHODS`.
      strength: `t`, the scale of the deviations (a temperature), >= 0. Default value: 1.0.
      relation: one of `RELATIONS`. Default value: 'nearest'.
      num_related: base classes of relation 'nearest'. Default value: 10.
      calibration_k: base classes 'calibrated' mixes with each support image (DC's k).
        Default value: 2.
      calibration_alpha: `alpha` of 'calibrated', added to every variance (DC's value).
        Default value: 0.21.
    """

    method: str = 'pooled'
    strength: float = 1.0
    relation: str = 'nearest'
    num_related: int = 10
    calibration_k: int = 2
    calibration_alpha: float = 0.21

    def __post_init__(self):
        if self.method not in METHODS:
            raise ValueError(f'method must be one of {METHODS}; got {self.method!r}.')
        if self.relation not in RELATIONS:
            raise ValueError(f'relation must be one of {RELATIONS}; got {self.relation!r}.')
        if not (np.isfinite(self.strength) and self.strength >= 0):
            raise ValueError(f'strength must be a finite number >= 0; got {self.strength}.')
        for name in ('num_related', 'calibration_k'):
            validation.integer(getattr(self, name), name, 1)
        if not (np.isfinite(self.calibration_alpha) and self.calibration_alpha >= 0):
            raise ValueError(
                f'calibration_alpha must be a finite number >= 0; got {self.calibration_alpha}.'
            )


class BaseStatistics:
    """Per-class means and covariance factors of the base classes' latents.

    Attributes:
      names, groups: of the base classes.
      means: float64 `[C, D]`.
      deviations: float32 `[M, D]`, each row minus its class mean.
      factors: float32 `[M, D]`, `deviations / sqrt(n_c - 1)`: class `c`'s rows `Y_c` give its
        covariance (ddof=1) as `Y_c^T Y_c`. Classes of one image have zero rows.
      class_of_row: int64 `[M]`.
    """

    def __init__(self, latents: ClassLatents):
        if latents.num_classes < 1:
            raise ValueError('the base set holds no classes.')
        self.names = list(latents.names)
        self.groups = list(latents.groups)
        self.means = latents.means()
        self.deviations = latents.deviations().astype(np.float32)
        self.class_of_row = latents.class_of_row
        self.counts = np.asarray(latents.counts)
        self.offsets = latents.offsets
        scale = 1.0 / np.sqrt(np.maximum(self.counts - 1, 1))
        self.factors = self.deviations * scale[self.class_of_row, None].astype(np.float32)
        self._mean_norms = np.sum(self.means**2, axis=1)
        self._group_members = {}
        for c, g in enumerate(self.groups):
            self._group_members.setdefault(g, []).append(c)
        self._group_members = {g: np.array(m, np.int64) for g, m in self._group_members.items()}

    def group_size(self, group: str) -> int:
        """Base classes of `group`."""
        return len(self._group_members.get(group, ()))

    @property
    def num_classes(self) -> int:
        return len(self.names)

    @property
    def latent_size(self) -> int:
        return self.means.shape[1]

    def nearest(self, point: np.ndarray, k: int, exclude=()) -> np.ndarray:
        """Indices of the `k` classes whose means are nearest to `point` `[D]`, nearest first."""
        distances = self._mean_norms - 2.0 * self.means @ np.asarray(point, np.float64)
        if len(exclude):
            distances = distances.copy()
            distances[np.asarray(exclude, np.int64)] = np.inf
        k = min(int(k), self.num_classes - len(exclude))
        if k < 1:
            raise ValueError('no base class left to relate to.')
        nearest = np.argpartition(distances, k - 1)[:k]
        return nearest[np.argsort(distances[nearest], kind='stable')]

    def related(
        self,
        point: np.ndarray,
        relation: str,
        num_related: int = 10,
        group: str | None = None,
        exclude=(),
    ) -> np.ndarray:
        """The base classes related to a class at `point` (its mean latent) of `group`."""
        if relation == 'nearest':
            return self.nearest(point, num_related, exclude)
        if relation == 'all':
            classes = np.setdiff1d(np.arange(self.num_classes), np.asarray(exclude, np.int64))
        elif relation == 'alphabet':
            if not group:
                raise ValueError("relation 'alphabet' needs the support's group (alphabet).")
            members = self._group_members.get(group, np.zeros([0], np.int64))
            classes = np.setdiff1d(members, np.asarray(exclude, np.int64))
        else:
            raise ValueError(f'relation must be one of {RELATIONS}; got {relation!r}.')
        if not len(classes):
            raise ValueError(f'no base class of group {group!r} to relate to.')
        return classes

    def rows(self, classes) -> np.ndarray:
        """Row indices of `classes`."""
        return np.concatenate(
            [np.arange(self.offsets[c], self.offsets[c] + self.counts[c]) for c in classes]
        )

    def pooled_factor(self, classes) -> np.ndarray:
        """`Y` `[rows, D]` with `Y^T Y = mean_{c in classes} S_c`."""
        return self.factors[self.rows(classes)] / np.sqrt(len(classes))


def augment_latents(
    support: np.ndarray,
    base: BaseStatistics,
    num: int,
    options: AugmentOptions = AugmentOptions(),
    *,
    group: str | None = None,
    seed=0,
) -> np.ndarray:
    """`num` new latents for the class of `support` (see the module docstring).

    Args:
      support: float `[K, D]`, the support set's latents, K >= 1.
      base: statistics of the base classes.
      num: latents to make, >= 0.
      options: method, strength, relation.
      group: the support's group (alphabet), for `relation='alphabet'`.
      seed: anything `numpy.random.default_rng` takes; equal seeds give equal latents.

    Returns:
      float32 `[num, D]`.
    """
    support = np.asarray(support, np.float64)
    if support.ndim != 2 or len(support) < 1 or support.shape[1] != base.latent_size:
        raise ValueError(
            f'support must be latents [K >= 1, {base.latent_size}]; got shape {support.shape}.'
        )
    num = validation.integer(num, 'num', 0)
    rng = np.random.default_rng(seed)
    strength = float(options.strength)
    if options.method == 'pooled':
        mean = support.mean(axis=0)
        related = base.related(mean, options.relation, options.num_related, group)
        factor = base.pooled_factor(related).astype(np.float64)
        noise = rng.standard_normal([num, len(factor)])
        return (mean + strength * noise @ factor).astype(np.float32)
    owners = np.arange(num) % len(support)
    out = np.empty([num, base.latent_size])
    if options.method == 'transfer':
        mean = support.mean(axis=0)
        related = base.related(mean, options.relation, options.num_related, group)
        rows = base.rows(related)
        picked = rng.choice(rows, num)
        out = support[owners] + strength * base.deviations[picked].astype(np.float64)
        return out.astype(np.float32)
    # 'calibrated': one calibrated normal per support image, from the relation's classes nearest
    # to it.
    for k in range(len(support)):
        mine = np.flatnonzero(owners == k)
        if not len(mine):
            continue
        candidates = base.related(support[k], options.relation, options.num_related, group)
        distances = np.sum((base.means[candidates] - support[k]) ** 2, axis=1)
        related = candidates[np.argsort(distances, kind='stable')[: options.calibration_k]]
        mu = (support[k] + base.means[related].sum(axis=0)) / (len(related) + 1)
        factor = base.pooled_factor(related).astype(np.float64)
        noise = rng.standard_normal([len(mine), len(factor)]) @ factor
        noise += np.sqrt(options.calibration_alpha) * rng.standard_normal(noise.shape)
        out[mine] = mu + strength * noise
    return out.astype(np.float32)
