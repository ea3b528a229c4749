"""Re-running ingest is a sync: changed rows re-applied, changed posters re-encoded, pruning.

Against real Qdrant Edge and qdrant-client's local mode, with the hashing encoder double
(so that what was encoded can be counted and every vector checked against its bytes).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from ingest_doubles import HashEncoder, jpeg_bytes, write_posters
from qdrant_client import QdrantClient

from ingest.readers import read_dataset
from ingest.retry import IngestError, RetryPolicy
from ingest.worker import IngestOptions, Shard, run_ingest
from poster_index.base import PosterIndex
from poster_index.edge import EdgePosterIndex
from poster_index.payload import FIELD_CAPTION, point_id, poster_to_payload
from poster_index.remote import ServerPosterIndex
from postersearch.domain import Poster, PosterVector

pytestmark = [
    pytest.mark.filterwarnings("ignore:Payload indexes have no effect"),
    pytest.mark.filterwarnings("ignore:Local mode performs exact"),
]

FAST_RETRY = RetryPolicy(attempts=2, base_delay_s=0.01, max_delay_s=0.02)
COUNT = 20


@pytest.fixture(params=["edge", "server"])
def index(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[PosterIndex]:
    """An empty index of either backend."""
    idx: PosterIndex
    if request.param == "edge":
        idx = EdgePosterIndex(tmp_path / "index")
    else:
        idx = ServerPosterIndex(QdrantClient(location=":memory:"))
    yield idx
    idx.close()


def _rows(i: int, **changes: object) -> dict[str, object]:
    row: dict[str, object] = {
        "id": f"m{i}",
        "title": f"Movie {i}",
        "genres": ["Drama"],
        "year": 1990 + i,
        "rating": 5.0,
        "poster": f"posters/{i}.jpg",
    }
    row.update(changes)
    return row


def _write(root: Path, rows: list[dict[str, object]]) -> list[Poster]:
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return [r for r in read_dataset(manifest) if isinstance(r, Poster)]


def _options(**kwargs: object) -> IngestOptions:
    return IngestOptions(batch_size=6, in_flight=2, retry=FAST_RETRY, progress_bar=False, **kwargs)  # type: ignore[arg-type]


def assert_index_is(index: PosterIndex, posters: list[Poster], encoder: HashEncoder) -> None:
    """The collection holds exactly these posters, each with its current poster's vector."""
    assert index.movie_ids() == {p.movie_id for p in posters}
    assert index.count() == len(posters)
    for poster in posters:
        assert index.get_poster(poster.movie_id) == poster
        vector = index.get_vector(poster.movie_id)
        expected = encoder._vector(Path(poster.poster).read_bytes())
        assert vector is not None
        np.testing.assert_allclose(vector, expected, rtol=1e-5, atol=1e-6)


async def test_changes_are_applied_and_only_changed_images_encoded(
    tmp_path: Path, index: PosterIndex
) -> None:
    encoder = HashEncoder()
    write_posters(tmp_path / "posters", [f"{i}.jpg" for i in range(COUNT)])
    first = await run_ingest(
        _write(tmp_path, [_rows(i) for i in range(COUNT)]), encoder, index, _options()
    )
    assert first.ingested == COUNT and encoder.encoded == COUNT

    # A corrected rating, new genres, a lost year, a changed poster image, a new movie.
    (tmp_path / "posters" / "3.jpg").write_bytes(jpeg_bytes((1, 2, 3)))
    write_posters(tmp_path / "new", ["n.jpg"])
    rows = [_rows(i) for i in range(COUNT)]
    rows[1] = _rows(1, rating=9.5)
    rows[2] = _rows(2, genres=["Horror", "Thriller"], year=None)
    rows.append(_rows(99, poster="new/n.jpg"))
    posters = _write(tmp_path, rows)
    summary = await run_ingest(posters, encoder, index, _options())
    assert (summary.ingested, summary.re_encoded, summary.updated, summary.already_stored) == (
        1,
        1,
        2,
        COUNT - 3,
    )
    assert encoder.encoded == COUNT + 2, "only the new and the changed poster are encoded"
    assert_index_is(index, posters, encoder)

    # Nothing changed: nothing is written or encoded.
    again = await run_ingest(posters, encoder, index, _options())
    assert (again.already_stored, again.updated, again.re_encoded, again.ingested) == (
        COUNT + 1, 0, 0, 0,
    )  # fmt: skip
    assert encoder.encoded == COUNT + 2


async def test_prune_deletes_what_left_the_dataset_and_keeps_broken_rows(
    tmp_path: Path, index: PosterIndex
) -> None:
    encoder = HashEncoder()
    write_posters(tmp_path / "posters", [f"{i}.jpg" for i in range(COUNT)])
    await run_ingest(_write(tmp_path, [_rows(i) for i in range(COUNT)]), encoder, index, _options())
    # m0-m4 left the dataset; m5's row is broken this time (its movie is still listed).
    rows = [_rows(i) for i in range(5, COUNT)]
    rows[0] = _rows(5, year="soon")
    manifest = tmp_path / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    without_prune = await run_ingest(list(read_dataset(manifest)), encoder, index, _options())
    assert without_prune.pruned == 0 and index.count() == COUNT
    summary = await run_ingest(list(read_dataset(manifest)), encoder, index, _options(prune=True))
    assert summary.pruned == 5
    assert index.movie_ids() == {f"m{i}" for i in range(5, COUNT)}


async def test_prune_refuses_an_empty_dataset(tmp_path: Path, index: PosterIndex) -> None:
    encoder = HashEncoder()
    write_posters(tmp_path / "posters", ["0.jpg"])
    await run_ingest(_write(tmp_path, [_rows(0)]), encoder, index, _options())
    with pytest.raises(IngestError, match="refusing to prune"):
        await run_ingest([], encoder, index, _options(prune=True))
    assert index.count() == 1


async def test_prune_leaves_other_shards_alone(tmp_path: Path, index: PosterIndex) -> None:
    encoder = HashEncoder()
    write_posters(tmp_path / "posters", [f"{i}.jpg" for i in range(COUNT)])
    await run_ingest(_write(tmp_path, [_rows(i) for i in range(COUNT)]), encoder, index, _options())
    # Shard 0 of 2 runs over a dataset that dropped everything but m0: only its own go.
    posters = _write(tmp_path, [_rows(0)])
    shard = Shard(0, 2)
    await run_ingest(posters, encoder, index, _options(prune=True, shard=shard))
    kept = index.movie_ids()
    assert all(not shard.owns(m) or m == "m0" for m in kept)
    assert {f"m{i}" for i in range(COUNT) if not shard.owns(f"m{i}")} <= kept


async def test_points_without_hashes_keep_their_vector(tmp_path: Path, index: PosterIndex) -> None:
    """A collection ingested before hashes were recorded: adopted, never re-encoded."""
    encoder = HashEncoder()
    write_posters(tmp_path / "posters", [f"{i}.jpg" for i in range(4)])
    posters = _write(tmp_path, [_rows(i) for i in range(4)])
    index.ensure_collection(await _model(encoder))
    old_vectors = {
        p.movie_id: encoder._vector(Path(p.poster).read_bytes()).tolist()  # noqa: ASYNC240
        for p in posters
    }
    _write_unhashed(index, [PosterVector(p, old_vectors[p.movie_id]) for p in posters])
    assert all(c.image_hash is None for c in index.stored_content(old_vectors).values())
    changed = _write(tmp_path, [_rows(0, title="Renamed")] + [_rows(i) for i in range(1, 4)])
    summary = await run_ingest(changed, encoder, index, _options())
    assert (summary.updated, summary.re_encoded, summary.ingested) == (4, 0, 0)
    assert encoder.encoded == 0
    assert index.get_poster("m0") == changed[0]
    assert all(c.image_hash is not None for c in index.stored_content(old_vectors).values())
    assert_index_is(index, changed, encoder)


async def test_a_stored_caption_survives_the_sync(tmp_path: Path, index: PosterIndex) -> None:
    encoder = HashEncoder()
    write_posters(tmp_path / "posters", ["0.jpg"])
    await run_ingest(_write(tmp_path, [_rows(0)]), encoder, index, _options())
    _set_payload(index, "m0", {FIELD_CAPTION: "a red face"})
    (tmp_path / "posters" / "0.jpg").write_bytes(jpeg_bytes((9, 9, 9)))
    await run_ingest(_write(tmp_path, [_rows(0, title="New")]), encoder, index, _options())
    await run_ingest(_write(tmp_path, [_rows(0, title="Newer")]), encoder, index, _options())
    assert _payload(index, "m0")[FIELD_CAPTION] == "a red face"
    assert _payload(index, "m0")["title"] == "Newer"


async def test_report_names_the_poster_not_a_batch_position(
    tmp_path: Path, index: PosterIndex
) -> None:
    write_posters(tmp_path / "posters", [f"{i}.jpg" for i in range(8)])
    (tmp_path / "posters" / "7.jpg").write_bytes(b"\xff\xd8\xff not a JPEG")
    report = tmp_path / "report.jsonl"
    posters = _write(tmp_path, [_rows(i) for i in range(8)])
    await run_ingest(posters, HashEncoder(), index, _options(report_path=report))
    (line,) = [json.loads(x) for x in report.read_text().splitlines()]
    assert line["movie_id"] == "m7"
    assert str(tmp_path / "posters" / "7.jpg") in line["detail"]
    assert "image 1" not in line["detail"]


async def _model(encoder: HashEncoder):  # type: ignore[no-untyped-def]
    from postersearch.domain import CollectionModel

    info = await encoder.info()
    return CollectionModel(info.model_id, info.dimension)


def _write_unhashed(index: PosterIndex, items: list[PosterVector]) -> None:
    """Points as the code before hashes wrote them: the bare poster payload."""
    if isinstance(index, EdgePosterIndex):
        import qdrant_edge as edge

        shard = index._ready()
        points = [
            edge.Point(
                point_id(i.poster.movie_id), {"image": i.vector}, poster_to_payload(i.poster)
            )
            for i in items
        ]
        shard.update(edge.UpdateOperation.upsert_points(points))
        shard.flush()
        return
    from qdrant_client import models

    assert isinstance(index, ServerPosterIndex)
    index._client.upsert(
        index._collection,
        points=[
            models.PointStruct(
                id=point_id(i.poster.movie_id),
                vector={"image": i.vector},
                payload=poster_to_payload(i.poster),
            )
            for i in items
        ],
    )


def _set_payload(index: PosterIndex, movie_id: str, payload: dict[str, object]) -> None:
    if isinstance(index, EdgePosterIndex):
        import qdrant_edge as edge

        shard = index._ready()
        shard.update(edge.UpdateOperation.set_payload([point_id(movie_id)], payload))
        shard.flush()
    else:
        assert isinstance(index, ServerPosterIndex)
        index._client.set_payload(index._collection, payload, points=[point_id(movie_id)])


def _payload(index: PosterIndex, movie_id: str) -> dict[str, object]:
    record: Any
    if isinstance(index, EdgePosterIndex):
        (record,) = index._ready().retrieve([point_id(movie_id)], True, False)
    else:
        assert isinstance(index, ServerPosterIndex)
        (record,) = index._client.retrieve(index._collection, [point_id(movie_id)])
    return dict(record.payload or {})
