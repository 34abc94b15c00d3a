"""Independent, reproducible random streams: one per component (and day).

Each part of the simulation draws from its own stream keyed by the seed, its
name and the day, so changing how one table is made leaves the others as they
were, and the same seed always gives the same city.
"""

from __future__ import annotations

import zlib

import numpy as np


def rng_for(seed: int, component: str, *keys: int) -> np.random.Generator:
    """The random stream of ``component`` (e.g. "telecom") for ``keys`` (e.g. the day)."""
    entropy = [seed & 0xFFFFFFFF, seed >> 32 & 0xFFFFFFFF, zlib.crc32(component.encode()), *keys]
    return np.random.default_rng(np.random.SeedSequence(entropy))
