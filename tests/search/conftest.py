"""Fixtures of the search tests: the seeded Edge collection and the keyword encoder."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from search_fixtures import KeywordEncoder, Seeded, TinyCollection, build_index, seeded_posters

from poster_index.edge import EdgePosterIndex
from postersearch.domain import Poster


@pytest.fixture(scope="module")
def seeded(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Seeded]:
    """A seeded Edge collection on disk (closed again; each test opens its own handle)."""
    path = tmp_path_factory.mktemp("search-index")
    posters, vectors = seeded_posters()
    build_index(path, posters, vectors).close()
    yield Seeded(path, posters, vectors)


@pytest.fixture(scope="module")
def index(seeded: Seeded) -> Iterator[EdgePosterIndex]:
    """The seeded collection, opened once per module (searches do not change it)."""
    opened = EdgePosterIndex(seeded.path)
    yield opened
    opened.close()


@pytest.fixture
def encoder() -> KeywordEncoder:
    """A fresh keyword encoder (its call log starts empty)."""
    return KeywordEncoder()


@pytest.fixture
def ids() -> Callable[[object], list[str]]:
    """Movie ids of a page's hits, in order."""

    def get(page: object) -> list[str]:
        return [hit.poster.movie_id for hit in page.hits]  # type: ignore[attr-defined]

    return get


async def _ingest_synthetic(model_dir: Path, root: Path, count: int) -> TinyCollection:
    from encoder_service.local import open_local_encoder
    from encoder_service.settings import EncoderSettings
    from ingest.readers import read_dataset
    from ingest.synth import generate_synthetic
    from ingest.worker import IngestOptions, run_ingest

    manifest = await asyncio.to_thread(generate_synthetic, root / "synth", count, 3)
    rows = [r for r in read_dataset(manifest) if isinstance(r, Poster)]
    encoder = await open_local_encoder(EncoderSettings(model=str(model_dir), device="cpu"))
    index = EdgePosterIndex(root / "index")
    try:
        summary = await run_ingest(rows, encoder, index, IngestOptions(progress_bar=False))
        assert summary.ingested == count
    finally:
        index.close()
        await encoder.close()
    return TinyCollection(root / "index", str(model_dir), rows)


@pytest.fixture(scope="session")
def tiny_collection(
    tiny_model_dir: Path, tmp_path_factory: pytest.TempPathFactory
) -> TinyCollection:
    """24 synthetic posters ingested with the tiny SigLIP into an Edge index (closed)."""
    root = tmp_path_factory.mktemp("tiny-collection")
    return asyncio.run(_ingest_synthetic(tiny_model_dir, root, 24))
