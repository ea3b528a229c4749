"""Known posters and vectors for the index tests, with answers that can be worked out by hand."""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from poster_index.base import PosterIndex
from postersearch.domain import CollectionModel

DIM = 8
MODEL = CollectionModel("test/tiny-siglip", DIM)

# movie_id: (genres, year, rating); vectors make search order follow the id (see unit_vector).
KNOWN: dict[str, tuple[tuple[str, ...], int | None, float | None]] = {
    "1": (("Drama",), 1995, 7.5),
    "2": (("Comedy", "Romance"), 2001, 6.0),
    "3": (("Horror",), 1980, 5.5),
    "4": (("Drama", "Comedy"), 2010, 8.2),
    "5": (("Action", "Sci-Fi"), 2015, None),
    "6": (("Romance",), None, 9.0),
    "7": (("Comedy",), 1999, 6.5),
    "8": ((), 2005, 4.0),
}


def unit_vector(n: int) -> list[float]:
    """Basis vector n-1 plus a little of every axis, normalised."""
    v = np.full(DIM, 0.1)
    v[n - 1] += 1.0
    return [float(x) for x in v / np.linalg.norm(v)]


def descending_query() -> list[float]:
    """A query whose cosine similarity to unit_vector(n) falls as n grows."""
    q = np.arange(DIM, 0, -1, dtype=float)
    return [float(x) for x in q / np.linalg.norm(q)]


IndexFactory = Callable[[], PosterIndex]
"""Opens the test collection (again) on each call."""
