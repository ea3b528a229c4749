"""Test doubles and seeded data of the search tests: a deterministic encoder, known answers.

The keyword encoder maps each text to a fixed vector, so the expected ranking of every
query over the seeded collection is computed exactly (brute force over the same vectors)
and compared with what the real Qdrant Edge index answers through the service.
"""

from __future__ import annotations

import asyncio
import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter
from postersearch.encoding import (
    EncodedTexts,
    EncoderInfo,
    EncoderUnavailableError,
    ImageErrorCode,
    ImageFailure,
    ImageOutcome,
    Vectors,
    read_whole,
)

DIM = 8
MODEL_ID = "keyword-test-encoder"
GENRES = ("Horror", "Thriller", "Sci-Fi", "Comedy", "Drama", "Family", "Action", "Romance")
IMAGE_PREFIX = b"IMG:"


def text_vector(text: str) -> np.ndarray:
    """A fixed unit vector for a text, the same on every run."""
    seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")
    v = np.random.default_rng(seed).normal(size=DIM).astype(np.float32)
    return v / np.linalg.norm(v)


@dataclass
class KeywordEncoder:
    """An Encoder whose vectors are a pure function of the text (or of image bytes).

    Images are accepted as ``IMG:<text>`` and encoded as that text; anything else is an
    undecodable image. ``down`` makes every call fail as an unreachable encoder would,
    ``fail`` raises the given error, and ``delay_s`` makes text calls slow (``cancelled``
    counts the calls given up on meanwhile). With a ``translator`` id it translates
    Hangul through the ``translations`` table (a text it lacks comes back unchanged), or
    raises ``translation_fails``; ``logit_scale`` and ``logit_bias`` make it report a
    match probability as SigLIP does.
    """

    model_id: str = MODEL_ID
    down: bool = False
    fail: Exception | None = None
    delay_s: float = 0.0
    text_calls: list[list[str]] = field(default_factory=list)
    image_calls: int = 0
    cancelled: int = 0
    translator: str = ""
    translations: dict[str, str] = field(default_factory=dict)
    translation_fails: Exception | None = None
    translate_calls: list[list[str]] = field(default_factory=list)
    logit_scale: float | None = None
    logit_bias: float | None = None

    async def info(self) -> EncoderInfo:
        self._check()
        return EncoderInfo(
            self.model_id, DIM, "cpu", "float32", 64, 1000, 1 << 20, 1 << 24, 1 << 24, 32,
            logit_scale=self.logit_scale, logit_bias=self.logit_bias,
            translator_model_id=self.translator,
            translation_scripts=("Hangul",) if self.translator else (),
        )  # fmt: skip

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        self._check()
        self.text_calls.append(list(texts))
        if self.delay_s:
            try:
                await asyncio.sleep(self.delay_s)
            except asyncio.CancelledError:
                self.cancelled += 1
                raise
        return np.stack([text_vector(t) for t in texts])

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        return EncodedTexts(await self.encode_texts(texts), read_whole(texts))

    async def translate(self, texts: Sequence[str]) -> list[str]:
        self._check()
        self.translate_calls.append(list(texts))
        if self.translation_fails is not None:
            raise self.translation_fails
        return [self.translations.get(t, t) for t in texts]

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        self._check()
        self.image_calls += 1
        out: list[ImageOutcome] = []
        for i, data in enumerate(images):
            if data.startswith(IMAGE_PREFIX):
                out.append(text_vector(data[len(IMAGE_PREFIX) :].decode()))
            else:
                out.append(
                    ImageFailure(i, ImageErrorCode.UNDECODABLE, "cannot identify image file")
                )
        return out

    async def close(self) -> None:
        pass

    def _check(self) -> None:
        if self.fail is not None:
            raise self.fail
        if self.down:
            raise EncoderUnavailableError("connection refused (127.0.0.1:1)")


@dataclass(frozen=True)
class Seeded:
    """The seeded collection: its posters and vectors, for computing expected answers."""

    path: Path
    posters: list[Poster]
    vectors: dict[str, np.ndarray]

    def expected(
        self, vector: np.ndarray, flt: SearchFilter, exclude: str | None = None
    ) -> list[str]:
        """Movie ids passing flt, nearest to vector first (exact cosine)."""
        scored = [
            (float(np.dot(self.vectors[p.movie_id], vector)), p.movie_id)
            for p in self.posters
            if passes(p, flt) and p.movie_id != exclude
        ]
        return [movie_id for _, movie_id in sorted(scored, reverse=True)]

    def by_rating(self, flt: SearchFilter) -> list[Poster]:
        """Posters passing flt, highest rating first (unrated last)."""
        matching = [p for p in self.posters if passes(p, flt)]
        return sorted(matching, key=lambda p: -(p.rating if p.rating is not None else -1.0))


def passes(poster: Poster, flt: SearchFilter) -> bool:
    """What the filter means, written out plainly."""
    genres = set(poster.genres)
    if flt.genres_any and not genres & set(flt.genres_any):
        return False
    if not set(flt.genres_all) <= genres:
        return False
    if genres & set(flt.genres_none):
        return False
    if flt.year_from is not None and (poster.year is None or poster.year < flt.year_from):
        return False
    if flt.year_to is not None and (poster.year is None or poster.year > flt.year_to):
        return False
    return not (
        flt.min_rating is not None and (poster.rating is None or poster.rating < flt.min_rating)
    )


def seeded_posters(count: int = 120, seed: int = 7) -> tuple[list[Poster], dict[str, np.ndarray]]:
    """Posters with varied genres, years and ratings (some unknown), and their vectors."""
    rng = np.random.default_rng(seed)
    posters: list[Poster] = []
    vectors: dict[str, np.ndarray] = {}
    for n in range(count):
        k = int(rng.integers(1, 4))
        genres = tuple(str(g) for g in rng.choice(GENRES, size=k, replace=False))
        year = None if n % 17 == 5 else int(rng.integers(1970, 2025))
        # Distinct ratings, so browsing by rating has one right order.
        rating = None if n % 13 == 3 else round(1.0 + 8.9 * n / count, 3)
        movie_id = f"m{n:03d}"
        posters.append(
            Poster(movie_id, f"Title {n}", genres, year, rating, f"/posters/{movie_id}.jpg")
        )
        v = rng.normal(size=DIM).astype(np.float32)
        vectors[movie_id] = v / np.linalg.norm(v)
    return posters, vectors


def build_index(
    path: Path, posters: Sequence[Poster], vectors: dict[str, np.ndarray]
) -> EdgePosterIndex:
    """An Edge collection at path holding posters with the keyword encoder's model."""
    index = EdgePosterIndex(path)
    index.ensure_collection(CollectionModel(MODEL_ID, DIM))
    index.upsert([PosterVector(p, vectors[p.movie_id].tolist()) for p in posters])
    return index


@dataclass(frozen=True)
class TinyCollection:
    """Synthetic posters ingested with the tiny SigLIP: where, with which model, which posters."""

    index_dir: Path
    model_id: str
    posters: list[Poster]
