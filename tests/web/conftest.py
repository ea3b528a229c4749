"""A small real poster collection for the web tests: poster files, an Edge index, PosterSearch.

The encoder is deterministic and meaningful: an image's vector is its mean colour (centred
on grey) and a text's vector is the colour its words name, in English or Korean. So "red"
really finds the red posters, and the whole chain (page, API, PosterSearch, Qdrant Edge)
is exercised with results that can be checked.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import contextlib
import hashlib
import io
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pytest
import uvicorn
from PIL import Image, ImageDraw, ImageFont

from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster, PosterVector
from postersearch.encoding import (
    EncodedTexts,
    EncoderInfo,
    ImageErrorCode,
    ImageFailure,
    ImageOutcome,
    InvalidInputError,
    Vectors,
    read_whole,
)
from search_service.core import PosterSearch
from search_service.settings import SearchSettings
from web_ui.app import create_app

MODEL_ID = "test/mean-colour"
TRANSLATOR_ID = "test/colour-words"
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
            # A SigLIP-like calibration, so that hits carry a match probability.
            logit_scale=10.0,
            logit_bias=-5.0,
            translator_model_id=TRANSLATOR_ID,
            translation_scripts=("Hangul",),
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

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        return EncodedTexts(await self.encode_texts(texts), read_whole(texts))

    async def translate(self, texts: Sequence[str]) -> list[str]:
        # Word by word through the colour table: "빨간 포스터" becomes "red 포스터".
        return [" ".join(_WORDS.get(w, w) for w in text.split()) for text in texts]

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


def _build_collection(
    base: Path,
    catalogue: Sequence[tuple[str, str, tuple[str, ...], int, float]],
    extra: Callable[[Path, list[Poster], list[bytes]], None] | None = None,
) -> WebCollection:
    root = base / "posters"
    (root / "covers").mkdir(parents=True)
    posters: list[Poster] = []
    images: list[bytes] = []
    for n, (title, colour, genres, year, rating) in enumerate(catalogue, start=1):
        data = draw_poster(title, COLOURS[colour], n)
        path = root / "covers" / f"{n}.jpg"
        path.write_bytes(data)
        images.append(data)
        posters.append(Poster(str(n), title, genres, year, rating, str(path)))
    if extra is not None:
        extra(base, posters, images)
    encoder = ColourEncoder()
    # In a thread of its own: playwright's sync API may already run an event loop here.
    with concurrent.futures.ThreadPoolExecutor(1) as pool:
        vectors = pool.submit(asyncio.run, encoder.encode_images(images)).result()
    index = EdgePosterIndex(base / "index")
    index.ensure_collection(CollectionModel(MODEL_ID, DIMENSION))
    index.upsert(
        [PosterVector(p, list(map(float, v))) for p, v in zip(posters, vectors, strict=True)]  # type: ignore[arg-type]
    )
    search = PosterSearch(encoder, index, SearchSettings(cache_size=64, genre_cache_s=0))
    return WebCollection(root, posters, index, search)


def _outside_and_url_posters(base: Path, posters: list[Poster], images: list[bytes]) -> None:
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


@pytest.fixture(scope="session")
def web_collection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebCollection]:
    """Eighteen coloured posters on disk, ingested into a Qdrant Edge shard."""
    collection = _build_collection(
        tmp_path_factory.mktemp("web"), _CATALOGUE, _outside_and_url_posters
    )
    yield collection
    collection.index.close()


@pytest.fixture(scope="session")
def big_collection(tmp_path_factory: pytest.TempPathFactory) -> Iterator[WebCollection]:
    """Ninety posters, enough for several pages: "Poster 1" .. "Poster 90", rated 1.1 .. 10."""
    colours = list(COLOURS)
    kinds = [("Drama",), ("Comedy",), ("Horror", "Drama")]
    catalogue = [
        (f"Poster {n}", colours[n % len(colours)], kinds[n % 3], 1950 + n, 1 + n / 10)
        for n in range(1, 91)
    ]
    collection = _build_collection(tmp_path_factory.mktemp("web-big"), catalogue)
    yield collection
    collection.index.close()


@pytest.fixture
def colour_encoder() -> ColourEncoder:
    """A fresh deterministic encoder of the test collection's model."""
    return ColourEncoder()


@pytest.fixture
def poster_image() -> Callable[[str], bytes]:
    """Draws a JPEG poster of a named colour (a key of COLOURS), for image queries."""
    return lambda colour: draw_poster("Query", COLOURS[colour], 7)


# ---- The page in a real browser ----------------------------------------------------------

# Debian's chromium; another path (another distribution's name for it) through the env.
CHROMIUM = Path(os.environ.get("POSTER_SEARCH_CHROMIUM", "/usr/bin/chromium"))
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 10_000
DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}


def _browser_unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; run scripts/install_browser.sh (CI must run the browser tests)")
    pytest.skip(reason)


@contextlib.contextmanager
def serve_app(app: Any) -> Iterator[str]:
    """Serves an ASGI app with uvicorn in a thread, on a port the OS picked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield f"http://127.0.0.1:{port}"
    finally:
        server.should_exit = True
        thread.join(timeout=10)
        sock.close()


@pytest.fixture(scope="session")
def base_url(web_collection: WebCollection) -> Iterator[str]:
    """The app over the eighteen-poster collection, served on 127.0.0.1."""
    with serve_app(create_app(web_collection.search, [web_collection.root])) as url:
        yield url


@pytest.fixture(scope="session")
def big_url(big_collection: WebCollection) -> Iterator[str]:
    """The app over the ninety-poster collection, served on 127.0.0.1."""
    with serve_app(create_app(big_collection.search, [big_collection.root])) as url:
        yield url


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    """Debian's chromium, driven by playwright (which never downloads a browser).

    One per test module: playwright's sync API runs an event loop in this thread while the
    browser is open, which asyncio tests of other modules must not find running.
    """
    if not CHROMIUM.exists():
        _browser_unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _browser_unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@dataclass
class PageWatch:
    """What a page did that a test did not ask for: script errors, requests elsewhere."""

    errors: list[str] = field(default_factory=list)
    elsewhere: list[str] = field(default_factory=list)
    api_calls: list[str] = field(default_factory=list)


@pytest.fixture
def open_page(browser: Any) -> Iterator[Callable[..., Any]]:
    """Opens the page in a fresh browser context: open_page(url, viewport=..., **context).

    The page's `watch` attribute lists script errors and requests; when the test ends, no
    script error may have happened and no request may have left the machine (apart from
    posters the collection links by URL).
    """
    contexts: list[tuple[Any, PageWatch]] = []

    def opener(url: str, viewport: dict[str, int] | None = None, wait: bool = True,
               **options: Any) -> Any:  # fmt: skip
        context = browser.new_context(viewport=viewport or DESKTOP, locale="en-US", **options)
        context.set_default_timeout(TIMEOUT_MS)
        # Nothing leaves the machine: posters linked by URL simply fail to load.
        context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort())
        watch = PageWatch()
        contexts.append((context, watch))
        opened = context.new_page()
        opened.watch = watch
        origin = re.match(r"https?://[^/]+", url)
        assert origin
        opened.on("pageerror", lambda exc: watch.errors.append(str(exc)))
        opened.on(
            "request",
            lambda req: (
                watch.api_calls.append(req.method + " " + req.url[len(origin[0]) :])
                if req.url.startswith(origin[0])
                else watch.elsewhere.append(req.url)
            ),
        )
        opened.goto(url)
        if wait:
            opened.wait_for_function("() => document.querySelector('.chip') !== null")
        return opened

    yield opener
    for context, _ in contexts:
        context.close()
    for _, watch in contexts:
        assert not watch.errors, f"script errors on the page: {watch.errors}"
        # No CDN, font or script from elsewhere: only posters the collection links by URL.
        assert all(url.startswith("https://posters.example/") for url in watch.elsewhere), (
            watch.elsewhere
        )
