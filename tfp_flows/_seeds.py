"""Seeds for parameter initialisation: one integer seed fans out to every layer."""

import numpy as np

__all__ = ['rng', 'spawn']


def _sequence(seed) -> np.random.SeedSequence:
    if isinstance(seed, np.random.SeedSequence):
        return seed
    return np.random.SeedSequence(seed)


def rng(seed) -> np.random.Generator:
    """A numpy generator from an int, a `np.random.SeedSequence`, or None (fresh entropy)."""
    return np.random.default_rng(_sequence(seed))


def spawn(seed, n: int) -> list[np.random.SeedSequence]:
    """`n` independent child seeds of `seed` (an int, a SeedSequence, or None)."""
    return _sequence(seed).spawn(n)
