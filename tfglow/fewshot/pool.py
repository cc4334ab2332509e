"""The evaluation classes as one array of images, and scoring rows of it with a model.

Each analysis draws from one evaluation seed through its own stream (`SWEEP_STREAM`, ...), so
that running one analysis, or changing its options, leaves the draws of the others as they were.
"""

import dataclasses
from collections.abc import Mapping

import numpy as np

from tfglow.data.episodic import group_of
from tfglow.fewshot.adapters import SupportModel
from tfglow.progress import Progress

__all__ = [
    'CLASSIFY_STREAM',
    'FIDELITY_STREAM',
    'SAMPLE_STREAM',
    'SETS_STREAM',
    'SPECIFICITY_STREAM',
    'SWEEP_STREAM',
    'ClassPool',
    'class_pool',
    'noise_seeds',
    'score_rows',
]

# Independent seed streams of one evaluation seed: noise of the sweep, of the classification
# queries, the choice of sampling support sets, the sampling noise, the specificity gap's draws
# and noise, and the sample-fidelity samples.
SWEEP_STREAM, CLASSIFY_STREAM, SETS_STREAM, SAMPLE_STREAM, SPECIFICITY_STREAM, FIDELITY_STREAM = (
    range(6)
)


@dataclasses.dataclass(frozen=True)
class ClassPool:
    """Every image of the evaluation classes in one array, class after class.

    Attributes:
      names: the class names, in `class_arrays` order.
      images: uint8 `[M, H, W, C]`.
      offsets: int64 `[C]`, the row of each class's first image.
      counts: int64 `[C]`, the images of each class.
      groups: the group of each class (`tfglow.data.episodic.group_of`; Omniglot: the alphabet).
    """

    names: list[str]
    images: np.ndarray
    offsets: np.ndarray
    counts: np.ndarray

    @property
    def groups(self) -> list[str]:
        return [group_of(name) for name in self.names]


def class_pool(class_arrays: Mapping[str, np.ndarray], image_shape) -> ClassPool:
    """`class_arrays` (`{class name: uint8 [n, H, W, C]}`) as one `ClassPool`.

    Raises:
      ValueError: for no classes, or a class that is not uint8 images of `image_shape`.
    """
    if not class_arrays:
        raise ValueError('class_arrays holds no classes.')
    arrays = []
    for name, array in class_arrays.items():
        array = np.asarray(array)
        if array.dtype != np.uint8 or array.ndim != 4 or array.shape[1:] != tuple(image_shape):
            raise ValueError(
                f'class {name!r}: expected uint8 images [n, {", ".join(map(str, image_shape))}] '
                f"(the model's image shape); got {array.dtype} {array.shape}."
            )
        arrays.append(array)
    counts = np.array([len(a) for a in arrays], np.int64)
    offsets = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
    return ClassPool(list(class_arrays), np.concatenate(arrays), offsets, counts)


def noise_seeds(seed: int, stream: int, count: int) -> np.ndarray:
    """`count` dequantisation-noise seeds of `stream` of the evaluation `seed`."""
    return np.random.default_rng([seed, stream]).integers(0, 2**62, size=count)


def score_rows(
    model: SupportModel,
    pool: ClassPool,
    queries: np.ndarray,
    supports: np.ndarray | None,
    seeds: np.ndarray,
    batch_size: int,
    progress: Progress,
) -> dict[str, np.ndarray]:
    """`log P(pool[queries[r]] | pool[supports[r]])` for every row `r`, per estimator.

    Args:
      model: scores the rows.
      pool: the images.
      queries: int `[R]`, rows of `pool.images`.
      supports: int `[R, K]`, rows of `pool.images`; None for no support.
      seeds: int `[R]`, each row's noise seed.
      batch_size: rows per model call.
      progress: advanced by the rows scored.

    Raises:
      ValueError: if the model returns a non-finite log-likelihood.
    """
    scores = {e: np.empty(len(queries)) for e in model.estimators}
    for start in range(0, len(queries), batch_size):
        rows = slice(start, start + batch_size)
        support = None if supports is None else pool.images[supports[rows]]
        result = model.log_prob_discrete(pool.images[queries[rows]], support, None, seeds[rows])
        for estimator in model.estimators:
            values = np.asarray(result[estimator], np.float64)
            if not np.isfinite(values).all():
                raise ValueError(
                    f'{model.name} returned non-finite log-likelihoods ({estimator}); is the '
                    'checkpoint diverged?'
                )
            scores[estimator][rows] = values
        progress.advance(len(queries[rows]))
    return scores
