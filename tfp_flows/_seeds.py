"""Seeds for parameter initialisation: one integer seed fans out to every layer."""

import numpy as np

__all__ = ['rng', 'spawn']


def _sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


def rng(seed) -> np.random.Generator:
    """A numpy generator from an int, a `np.random.SeedSequence`, or None (fresh entropy).

    A `np.random.Generator` is returned as is, so that layers handed one draw from it in turn.
    """
    if isinstance(seed, np.random.Generator):
        return seed
    return np.random.default_rng(_sequence(seed))


def spawn(seed, n: int) -> list:
    """`n` seeds for `n` layers: independent children of an int, a SeedSequence or None.

    A `np.random.Generator` is not split: each of the `n` layers draws from it in turn, which is
    how a module that owns one stream for all of its weights (e.g. `SetEncoder`) seeds its parts.
    """
    if isinstance(seed, np.random.Generator):
        return [seed] * n
    return _sequence(seed).spawn(n)
