"""Posters with real image files for the captioning tests, stored with known vectors."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image

from poster_index.base import PosterIndex
from postersearch.domain import CollectionModel, Poster, PosterVector

MODEL = CollectionModel("test/model", 8)


def write_posters(folder: Path, count: int, seed: int = 0) -> list[Poster]:
    """count small JPEG posters of random pixels (so each gets its own caption)."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    posters = []
    for i in range(count):
        path = folder / f"p{i:04d}.jpg"
        pixels = rng.integers(0, 256, (48, 32, 3), dtype=np.uint8)
        Image.fromarray(pixels).save(path, "JPEG")
        posters.append(Poster(movie_id=f"m{i:04d}", title=f"Movie {i}", poster=str(path)))
    return posters


def vector_of(i: int) -> list[float]:
    """A distinct vector per poster, to check that captioning leaves it as it was."""
    v = np.full(MODEL.dimension, 0.1 * (i % 7 + 1))
    v[i % MODEL.dimension] += 1.0
    return [float(x) for x in v / np.linalg.norm(v)]


def store(index: PosterIndex, posters: list[Poster]) -> None:
    """Creates the collection and stores the posters with vector_of(i)."""
    index.ensure_collection(MODEL)
    index.upsert([PosterVector(p, vector_of(i)) for i, p in enumerate(posters)])
