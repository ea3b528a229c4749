"""The ingest worker against a real Qdrant Edge index, with an encoder double."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
from ingest_doubles import HashEncoder, write_posters

from ingest.readers import RejectedRow, read_dataset
from ingest.retry import DependencyDownError, RetryPolicy
from ingest.worker import IngestOptions, Shard, run_ingest, shard_of
from poster_index.base import IndexUnavailableError, ModelMismatchError
from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster

FAST_RETRY = RetryPolicy(attempts=3, base_delay_s=0.01, max_delay_s=0.02)


def _dataset(root: Path, good: int = 30) -> Path:
    """A manifest of good posters plus a missing, a corrupt and an empty one and bad rows."""
    names = [f"{i}.jpg" for i in range(good)]
    write_posters(root / "posters", names)
    (root / "posters" / "corrupt.jpg").write_bytes(b"\xff\xd8\xff this is no JPEG")
    (root / "posters" / "empty.jpg").write_bytes(b"")
    rows = [
        {
            "id": f"m{i}",
            "title": f"Movie {i}",
            "genres": ["Drama"],
            "year": 1990 + i % 30,
            "rating": 5 + (i % 5),
            "poster": f"posters/{i}.jpg",
        }
        for i in range(good)
    ]
    rows += [
        {"id": "missing", "title": "Missing", "poster": "posters/nope.jpg"},
        {"id": "corrupt", "title": "Corrupt", "poster": "posters/corrupt.jpg"},
        {"id": "empty", "title": "Empty", "poster": "posters/empty.jpg"},
        {"id": "badyear", "title": "Bad year", "year": "soon", "poster": "posters/0.jpg"},
        {"id": "m0", "title": "Duplicate", "poster": "posters/0.jpg"},
    ]
    manifest = root / "manifest.jsonl"
    manifest.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return manifest


def _options(tmp_path: Path, **kwargs: object) -> IngestOptions:
    defaults: dict[str, object] = {
        "batch_size": 8,
        "in_flight": 3,
        "report_path": tmp_path / "report.jsonl",
        "retry": FAST_RETRY,
        "progress_bar": False,
    }
    defaults.update(kwargs)
    return IngestOptions(**defaults)  # type: ignore[arg-type]


def _report(path: Path) -> dict[str, dict[str, object]]:
    lines = [json.loads(line) for line in path.read_text().splitlines()]
    return {str(r["movie_id"]) + ":" + str(r["reason"]): r for r in lines}


async def test_ingest_skips_and_reports_then_reruns_idempotently(
    tmp_path: Path, hash_encoder: HashEncoder, edge_index: EdgePosterIndex
) -> None:
    manifest = _dataset(tmp_path)
    rows = list(read_dataset(manifest))
    summary = await run_ingest(rows, hash_encoder, edge_index, _options(tmp_path))

    assert summary.read == 35
    assert summary.ingested == 30
    assert summary.already_stored == 0
    assert dict(summary.skipped) == {
        "bad_metadata": 2,
        "missing_file": 1,
        "undecodable": 1,
        "empty_file": 1,
    }
    assert edge_index.count() == 30
    report = _report(tmp_path / "report.jsonl")
    assert set(report) == {
        "missing:missing_file",
        "corrupt:undecodable",
        "empty:empty_file",
        "badyear:bad_metadata",
        "m0:bad_metadata",
    }
    assert report["m0:bad_metadata"]["line"] == 35
    assert "duplicate" in str(report["m0:bad_metadata"]["detail"])
    assert report["missing:missing_file"]["poster"] == str(tmp_path / "posters/nope.jpg")

    # What is stored is what was read, with the encoder's vector of the poster's bytes.
    poster = next(r for r in rows if isinstance(r, Poster) and r.movie_id == "m7")
    assert edge_index.get_poster("m7") == poster
    expected = hash_encoder._vector(Path(poster.poster).read_bytes())  # noqa: ASYNC240
    stored = edge_index.get_vector("m7")
    assert stored is not None
    np.testing.assert_allclose(stored, expected, rtol=1e-5)

    encoded = hash_encoder.encoded
    again = await run_ingest(rows, hash_encoder, edge_index, _options(tmp_path))
    assert again.ingested == 0
    assert again.already_stored == 30
    assert hash_encoder.encoded == encoded, "stored posters must not be encoded again"
    assert edge_index.count() == 30


async def test_rerun_encodes_only_the_remainder(
    tmp_path: Path, hash_encoder: HashEncoder, edge_index: EdgePosterIndex
) -> None:
    rows = [r for r in read_dataset(_dataset(tmp_path)) if isinstance(r, Poster)]
    rows = [r for r in rows if r.movie_id.startswith("m")]
    await run_ingest(rows[:11], hash_encoder, edge_index, _options(tmp_path))
    assert hash_encoder.encoded == 11
    summary = await run_ingest(rows, hash_encoder, edge_index, _options(tmp_path))
    assert (summary.ingested, summary.already_stored) == (19, 11)
    assert hash_encoder.encoded == 30
    assert edge_index.count() == 30


async def test_model_mismatch_is_refused_before_encoding(
    tmp_path: Path, edge_index: EdgePosterIndex
) -> None:
    edge_index.ensure_collection(CollectionModel("another-model", 16))
    encoder = HashEncoder()
    rows = list(read_dataset(_dataset(tmp_path)))
    with pytest.raises(ModelMismatchError):
        await run_ingest(rows, encoder, edge_index, _options(tmp_path))
    assert encoder.calls == 0
    assert edge_index.count() == 0


async def test_brief_encoder_outage_is_retried(
    tmp_path: Path, hash_encoder: HashEncoder, edge_index: EdgePosterIndex
) -> None:
    hash_encoder.unavailable_calls = 2
    rows = list(read_dataset(_dataset(tmp_path)))
    summary = await run_ingest(rows, hash_encoder, edge_index, _options(tmp_path, in_flight=1))
    assert summary.ingested == 30
    assert edge_index.count() == 30


async def test_encoder_that_stays_down_stops_the_run(
    tmp_path: Path, hash_encoder: HashEncoder, edge_index: EdgePosterIndex
) -> None:
    hash_encoder.unavailable_calls = 10_000
    rows = list(read_dataset(_dataset(tmp_path)))
    with pytest.raises(DependencyDownError, match="encoder is unavailable") as caught:
        await run_ingest(rows, hash_encoder, edge_index, _options(tmp_path))
    assert caught.value.dependency == "encoder"
    assert "3 tries" in str(caught.value)
    assert edge_index.count() == 0


async def test_shards_split_the_dataset_without_overlap(tmp_path: Path) -> None:
    manifest = _dataset(tmp_path)
    rows = list(read_dataset(manifest))
    stored: list[set[str]] = []
    totals = []
    for i in range(3):
        index = EdgePosterIndex(tmp_path / f"index{i}")
        summary = await run_ingest(
            rows, HashEncoder(), index, _options(tmp_path, shard=Shard(i, 3), report_path=None)
        )
        ids = {r.movie_id for r in rows if isinstance(r, Poster) and r.movie_id.startswith("m")}
        stored.append({m for m in ids if index.get_poster(m) is not None})
        totals.append(summary.read + summary.other_shards)
        assert all(shard_of(m, 3) == i for m in stored[-1])
        index.close()
    assert set().union(*stored) == {f"m{i}" for i in range(30)}
    assert sum(len(s) for s in stored) == 30
    assert totals == [35, 35, 35]


def test_shard_parsing() -> None:
    assert Shard.parse("1/4") == Shard(1, 4)
    for bad in ("4/4", "1", "a/b", "-1/3", "0/0"):
        with pytest.raises(ValueError):
            Shard.parse(bad)
    # The hash is stable across processes and Python hash seeds.
    assert shard_of("862", 1000) == shard_of("862", 1000)
    assert len({shard_of(str(i), 4) for i in range(100)}) == 4


async def test_rejected_rows_without_index_writes(
    tmp_path: Path, hash_encoder: HashEncoder, edge_index: EdgePosterIndex
) -> None:
    rows = [RejectedRow(3, "missing title", "x", "m.csv"), RejectedRow(4, "missing id")]
    summary = await run_ingest(rows, hash_encoder, edge_index, _options(tmp_path))
    assert (summary.read, summary.ingested, summary.skipped["bad_metadata"]) == (2, 0, 2)
    assert hash_encoder.calls == 0
    assert edge_index.count() == 0


@pytest.mark.filterwarnings("ignore:Payload indexes have no effect")
async def test_server_backend_through_qdrant_client(
    tmp_path: Path, hash_encoder: HashEncoder
) -> None:
    from qdrant_client import QdrantClient

    from poster_index.remote import ServerPosterIndex

    index = ServerPosterIndex(QdrantClient(location=":memory:"))
    rows = list(read_dataset(_dataset(tmp_path, good=12)))
    first = await run_ingest(rows, hash_encoder, index, _options(tmp_path))
    again = await run_ingest(rows, hash_encoder, index, _options(tmp_path))
    assert (first.ingested, again.ingested, again.already_stored) == (12, 0, 12)
    assert index.count() == 12
    assert hash_encoder.encoded == 12
    index.close()


class FlakyIndex:
    """The real Edge index behind a connection that drops the first few calls."""

    def __init__(self, inner: EdgePosterIndex, failures: int) -> None:
        self.inner = inner
        self.failures = failures

    def __getattr__(self, name: str) -> object:
        attr = getattr(self.inner, name)
        if name not in {"stored_content", "upsert"}:
            return attr

        def call(*args: object) -> object:
            if self.failures > 0:
                self.failures -= 1
                raise IndexUnavailableError("connection reset")
            return attr(*args)

        return call


async def test_brief_index_outage_is_retried(
    tmp_path: Path, hash_encoder: HashEncoder, edge_index: EdgePosterIndex
) -> None:
    flaky = FlakyIndex(edge_index, failures=2)
    rows = list(read_dataset(_dataset(tmp_path)))
    summary = await run_ingest(rows, hash_encoder, flaky, _options(tmp_path))  # type: ignore[arg-type]
    assert summary.ingested == 30 and flaky.failures == 0
    assert edge_index.count() == 30


async def test_unreachable_qdrant_server_stops_the_run(
    tmp_path: Path, hash_encoder: HashEncoder
) -> None:
    from qdrant_client import QdrantClient

    from poster_index.remote import ServerPosterIndex

    client = QdrantClient(
        url="http://127.0.0.1:1", prefer_grpc=False, timeout=1, check_compatibility=False
    )
    index = ServerPosterIndex(client)
    rows = list(read_dataset(_dataset(tmp_path, good=3)))
    with pytest.raises(DependencyDownError, match="index is unavailable") as caught:
        await run_ingest(rows, hash_encoder, index, _options(tmp_path))
    assert caught.value.dependency == "index"
    assert hash_encoder.calls == 0
