"""A small real poster collection for the web tests: poster files, an Edge index, PosterSearch.

The encoder is deterministic and meaningful: an image's vector is its mean colour (centred
on grey) and a text's vector is the colour its words name, in English or Korean. So "red"
really finds the red posters, and the whole chain (page, API, PosterSearch, Qdrant Edge)
is exercised with results that can be checked.
"""

from __future__ import annotations

import asyncio
import hashlib
import io
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pytest
from PIL import Image, ImageDraw, ImageFont

from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster, PosterVector
from postersearch.encoding import (
    EncoderInfo,
    ImageErrorCode,
    ImageFailure,
    ImageOutcome,
    InvalidInputError,
    Vectors,
)
from search_service.core import PosterSearch
from search_service.settings import SearchSettings

MODEL_ID = "test/mean-colour"
DIMENSION = 4

COLOURS: dict[str, tuple[int, int, int]] = {
    "red": (200, 30, 40),
    "orange": (230, 120, 30),
    "yellow": (225, 200, 40),
    "green": (40, 160, 70),
    "teal": (30, 150, 150),
    "blue": (40, 70, 200),
    "purple": (130, 50, 180),
    "pink": (230, 90, 160),
}
_WORDS = {
    "빨간": "red", "빨간색": "red", "주황": "orange", "노란": "yellow", "초록": "green",
    "파란": "blue", "파란색": "blue", "보라": "purple", "분홍": "pink",
}  # fmt: skip


def _colour_vector(rgb: Sequence[float]) -> np.ndarray:
    # Centred on grey so red and blue point apart; the constant keeps grey non-zero.
    v = np.array([c / 255.0 - 0.5 for c in rgb] + [0.05], dtype=np.float32)
    return v / np.linalg.norm(v)


class ColourEncoder:
    """A deterministic Encoder: image -> mean colour, text -> the colour its words name."""

    async def info(self) -> EncoderInfo:
        return EncoderInfo(
            model_id=MODEL_ID,
            dimension=DIMENSION,
            device="cpu",
            dtype="float32",
            max_batch_size=64,
            max_text_chars=500,
            max_image_bytes=4 * 1024 * 1024,
            max_image_pixels=20_000_000,
            max_message_bytes=16 * 1024 * 1024,
            image_size=32,
        )

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        if not texts:
            raise InvalidInputError("empty batch")
        rows = []
        for text in texts:
            words = [_WORDS.get(w, w) for w in text.lower().replace(",", " ").split()]
            named = [COLOURS[w] for w in words if w in COLOURS]
            if named:
                rgb = np.mean(np.array(named, dtype=np.float32), axis=0)
            else:
                digest = hashlib.sha256(text.encode()).digest()
                rgb = np.array(list(digest[:3]), dtype=np.float32)
            rows.append(_colour_vector(rgb))
        return np.stack(rows)

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        if not images:
            raise InvalidInputError("empty batch")
        out: list[ImageOutcome] = []
        for i, data in enumerate(images):
            try:
                with Image.open(io.BytesIO(data)) as img:
                    rgb = np.asarray(img.convert("RGB").resize((16, 24))).reshape(-1, 3)
            except Exception as exc:
                out.append(ImageFailure(i, ImageErrorCode.UNDECODABLE, f"not an image: {exc}"))
                continue
            out.append(_colour_vector(rgb.mean(axis=0)))
        return out

    async def close(self) -> None:
        return None


def draw_poster(title: str, colour: tuple[int, int, int], seed: int) -> bytes:
    """A 200x300 poster: a gradient of colour, a large shape, and the title."""
    width, height = 200, 300
    img = Image.new("RGB", (width, height))
    draw = ImageDraw.Draw(img)
    r, g, b = colour
    for y in range(height):
        k = 1.0 - 0.55 * y / height
        draw.line([(0, y), (width, y)], fill=(int(r * k), int(g * k), int(b * k)))
    light = tuple(min(255, c + 70) for c in colour)
    cx, cy, radius = 60 + (seed * 37) % 80, 80 + (seed * 53) % 70, 38 + (seed * 11) % 30
    if seed % 2:
        draw.ellipse([cx - radius, cy - radius, cx + radius, cy + radius], fill=light)
    else:
        draw.polygon([(cx, cy - radius), (cx + radius, cy + radius), (cx - radius, cy + radius)],
                     fill=light)  # fmt: skip
    font = ImageFont.load_default(size=20)
    draw.rectangle([0, 236, width, height], fill=(12, 12, 16))
    draw.text((12, 248), title.upper(), fill=(240, 240, 240), font=font)
    small = ImageFont.load_default(size=11)
    draw.text((12, 276), "A FILM BY NOBODY IN PARTICULAR", fill=(170, 170, 170), font=small)
    buffer = io.BytesIO()
    img.save(buffer, "JPEG", quality=85)
    return buffer.getvalue()


# (title, colour, genres, year, rating)
_CATALOGUE: list[tuple[str, str, tuple[str, ...], int, float]] = [
    ("Crimson Hour", "red", ("Horror", "Thriller"), 1982, 7.1),
    ("Blood Orange", "orange", ("Drama",), 1999, 6.4),
    ("Red Room", "red", ("Horror",), 2011, 5.9),
    ("Scarlet Line", "red", ("Thriller", "Crime"), 1994, 7.8),
    ("Sunflower Road", "yellow", ("Comedy", "Drama"), 2004, 7.3),
    ("Lemon Days", "yellow", ("Comedy",), 2016, 6.1),
    ("Green Valley", "green", ("Drama", "Family"), 1988, 7.6),
    ("Forest Law", "green", ("Crime",), 2008, 6.8),
    ("Deep Blue", "blue", ("Sci-Fi", "Thriller"), 2019, 8.2),
    ("Cold Harbour", "blue", ("Crime", "Drama"), 1975, 7.9),
    ("Neon Azure", "blue", ("Sci-Fi",), 2023, 6.6),
    ("Violet Static", "purple", ("Sci-Fi", "Horror"), 1997, 5.4),
    ("Royal Dusk", "purple", ("Drama",), 2001, 7.0),
    ("Teal Tides", "teal", ("Family", "Comedy"), 2013, 6.9),
    ("Harbour Lights", "teal", ("Drama",), 1969, 8.0),
    ("Pink Parade", "pink", ("Comedy", "Family"), 2021, 6.2),
    ("Rose Garden", "pink", ("Drama",), 1992, 7.4),
    ("Amber Trail", "orange", ("Thriller",), 2006, 6.5),
]


@dataclass
class WebCollection:
    """The collection the web tests search: its files, index and PosterSearch."""

    root: Path
    posters: list[Poster]
    index: EdgePosterIndex
    search: PosterSearch

    def by_title(self, title: str) -> Poster:
        return next(p for p in self.posters if p.title == title)


@pytest.fixture(scope="session")
def web_collection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebCollection]:
    """Eighteen coloured posters on disk, ingested into a Qdrant Edge shard."""
    base = tmp_path_factory.mktemp("web")
    root = base / "posters"
    (root / "covers").mkdir(parents=True)
    posters: list[Poster] = []
    images: list[bytes] = []
    for n, (title, colour, genres, year, rating) in enumerate(_CATALOGUE, start=1):
        data = draw_poster(title, COLOURS[colour], n)
        path = root / "covers" / f"{n}.jpg"
        path.write_bytes(data)
        images.append(data)
        posters.append(Poster(str(n), title, genres, year, rating, str(path)))
    # One poster lives outside the roots: the page must show it without its file.
    outside = base / "elsewhere.jpg"
    outside.write_bytes(draw_poster("Far Away", COLOURS["green"], 99))
    images.append(outside.read_bytes())
    posters.append(Poster("99", "Far Away", ("Family",), 1950, 6.0, str(outside)))
    # And one is only a URL.
    images.append(draw_poster("Web Only", COLOURS["teal"], 98))
    posters.append(
        Poster("98", "Web Only", ("Drama",), 1960, 5.0, "https://posters.example/98.jpg")
    )

    encoder = ColourEncoder()
    vectors = asyncio.run(encoder.encode_images(images))
    index = EdgePosterIndex(base / "index")
    index.ensure_collection(CollectionModel(MODEL_ID, DIMENSION))
    index.upsert(
        [PosterVector(p, list(map(float, v))) for p, v in zip(posters, vectors, strict=True)]  # type: ignore[arg-type]
    )
    search = PosterSearch(encoder, index, SearchSettings(cache_size=64, genre_cache_s=0))
    yield WebCollection(root, posters, index, search)
    index.close()


@pytest.fixture
def colour_encoder() -> ColourEncoder:
    """A fresh deterministic encoder of the test collection's model."""
    return ColourEncoder()


@pytest.fixture
def poster_image() -> Callable[[str], bytes]:
    """Draws a JPEG poster of a named colour (a key of COLOURS), for image queries."""
    return lambda colour: draw_poster("Query", COLOURS[colour], 7)
