"""A damaged Edge shard is refused at open with one line saying how to repair it.

The damage is done to real Qdrant Edge files the way a full disk, a bad copy or a stray
``rm`` does it: truncated vector, payload and id-tracker files, a deleted segments folder.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import numpy as np
import pytest
from index_samples import MODEL

from poster_index.base import IndexDamagedError, IndexUnavailableError
from poster_index.edge import EdgePosterIndex
from poster_index.model_record import MODEL_RECORD_NAME
from postersearch.domain import Poster, PosterVector

COUNT = 3000


def _build(root: Path) -> Path:
    index = EdgePosterIndex(root)
    index.ensure_collection(MODEL)
    rng = np.random.default_rng(0)
    for start in range(0, COUNT, 500):
        index.upsert(
            [
                PosterVector(Poster(str(i), f"Movie {i}", ("Drama",), 2000, 5.0, "/p.jpg"),
                             rng.standard_normal(MODEL.dimension).tolist())
                for i in range(start, start + 500)
            ]
        )  # fmt: skip
    index.close()
    return root / "posters"


def _segment(shard: Path) -> Path:
    (segment,) = [p for p in (shard / "segments").iterdir() if p.is_dir()]
    return segment


def _truncate(path: Path, size: int) -> None:
    with path.open("r+b") as f:
        f.truncate(size)


DAMAGE = {
    "vectors": lambda s: _truncate(
        _segment(s) / "vector_storage-image" / "vectors" / "chunk_0.mmap", 1000
    ),
    "payloads": lambda s: _truncate(_segment(s) / "payload_storage" / "page_0.dat", 1000),
    "id-tracker": lambda s: _truncate(_segment(s) / "mutable_id_tracker.mappings", 20_000),
    "segments": lambda s: shutil.rmtree(s / "segments"),
}


def test_an_intact_shard_records_its_count_and_opens(tmp_path: Path) -> None:
    shard = _build(tmp_path)
    assert json.loads((shard / MODEL_RECORD_NAME).read_text())["points"] == COUNT
    index = EdgePosterIndex(tmp_path)
    try:
        assert index.count() == COUNT
    finally:
        index.close()


@pytest.mark.parametrize("damage", list(DAMAGE))
def test_damage_is_refused_with_a_repair_hint(tmp_path: Path, damage: str) -> None:
    DAMAGE[damage](_build(tmp_path))
    with pytest.raises(IndexDamagedError) as err:
        EdgePosterIndex(tmp_path)
    message = str(err.value)
    assert "\n" not in message
    assert "damaged" in message and "re-ingest" in message
    # A server opening lazily reports the same on every call, without serving a poster.
    lazy = EdgePosterIndex(tmp_path, open_now=False)
    for _ in range(2):
        with pytest.raises(IndexDamagedError):
            lazy.collection_model()
        with pytest.raises(IndexDamagedError):
            lazy.count()


def test_a_writer_killed_mid_run_is_not_damage(tmp_path: Path) -> None:
    """While a writer has the shard open the count is unknown, so its crash reads as intact."""
    _build(tmp_path)
    writer = EdgePosterIndex(tmp_path)
    writer.upsert([PosterVector(Poster("new", "New"), [0.5] * MODEL.dimension)])
    record = json.loads((tmp_path / "posters" / MODEL_RECORD_NAME).read_text())
    assert record["points"] is None
    # The process dies here: no close. Its WAL holds the write; the lock goes with it.
    writer._shard.close()  # type: ignore[union-attr]
    reopened = EdgePosterIndex(tmp_path)
    try:
        assert reopened.count() == COUNT + 1
    finally:
        reopened.close()


def test_a_shard_created_after_open_is_found(tmp_path: Path) -> None:
    reader = EdgePosterIndex(tmp_path, open_now=False)
    assert reader.collection_model() is None
    with pytest.raises(IndexUnavailableError, match="ingest posters first"):
        reader.count()
    _build(tmp_path)  # another process ingests meanwhile
    assert reader.collection_model() == MODEL
    assert reader.count() == COUNT
    reader.close()
