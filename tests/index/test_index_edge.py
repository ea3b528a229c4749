"""What only the embedded backend has: a shard on disk, its durability, HNSW and threads."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pytest
import qdrant_edge as edge
from index_samples import DIM, MODEL, unit_vector

from poster_index.base import IndexUnavailableError, ModelMismatchError
from poster_index.edge import EdgePosterIndex
from poster_index.model_record import MODEL_RECORD_NAME
from poster_index.tuning import QDRANT_FULL_SCAN_KB, IndexTuning, full_scan_kb_for
from postersearch.domain import Poster, PosterVector, SearchFilter

EXACT = edge.SearchParams(exact=True)


def test_reopens_from_disk_after_close(tmp_path: Path, make_poster: Callable[..., Poster]) -> None:
    index = EdgePosterIndex(tmp_path)
    index.ensure_collection(MODEL)
    index.upsert([PosterVector(make_poster(movie_id="m1", genres=("War",)), unit_vector(1))])
    index.close()

    reopened = EdgePosterIndex(tmp_path)
    try:
        assert reopened.collection_model() == MODEL
        assert reopened.count() == 1
        assert reopened.genre_counts() == {"War": 1}
        assert reopened.get_vector("m1") == pytest.approx(unit_vector(1), abs=1e-5)
    finally:
        reopened.close()


def test_reads_without_collection_say_so(tmp_path: Path) -> None:
    index = EdgePosterIndex(tmp_path)
    with pytest.raises(IndexUnavailableError, match="ingest posters first"):
        index.count()


def test_second_open_of_a_live_shard_is_refused(tmp_path: Path) -> None:
    index = EdgePosterIndex(tmp_path)
    index.ensure_collection(MODEL)
    try:
        with pytest.raises(IndexUnavailableError, match="another process"):
            EdgePosterIndex(tmp_path)
    finally:
        index.close()
    with pytest.raises(IndexUnavailableError, match="closed"):
        index.count()


def test_wrong_vector_size_is_refused(tmp_path: Path, make_poster: Callable[..., Poster]) -> None:
    index = EdgePosterIndex(tmp_path)
    index.ensure_collection(MODEL)
    try:
        with pytest.raises(ModelMismatchError, match="3-d vector"):
            index.upsert([PosterVector(make_poster(), [1.0, 0.0, 0.0])])
    finally:
        index.close()


def test_model_record_is_beside_the_shard(tmp_path: Path) -> None:
    index = EdgePosterIndex(tmp_path, collection="other")
    index.ensure_collection(MODEL)
    index.close()
    record = tmp_path / "other" / MODEL_RECORD_NAME
    assert MODEL.model_id in record.read_text()
    assert not list(record.parent.glob(".model-*"))  # no temporary file left behind


_KILLED_WRITER = textwrap.dedent(
    """
    import os, signal, sys
    from poster_index.edge import EdgePosterIndex
    from postersearch.domain import CollectionModel, Poster, PosterVector

    index = EdgePosterIndex(sys.argv[1])
    index.ensure_collection(CollectionModel("test/tiny-siglip", 8))
    for batch in range(3):
        index.upsert([
            PosterVector(Poster(f"{batch}-{i}", "t", ("Drama",)), [1.0] + [0.1 * i] * 7)
            for i in range(50)
        ])
    print("written", flush=True)
    os.kill(os.getpid(), signal.SIGKILL)  # no close, no optimize, no atexit
    """
)


def test_survives_kill_9_after_upsert(tmp_path: Path) -> None:
    done = subprocess.run(
        [sys.executable, "-c", _KILLED_WRITER, str(tmp_path)],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, "PYTHONPATH": os.getcwd()},
    )
    assert done.returncode == -signal.SIGKILL, done.stderr
    assert "written" in done.stdout
    index = EdgePosterIndex(tmp_path)
    try:
        assert index.count() == 150
        assert index.existing_ids(["0-0", "2-49", "3-0"]) == {"0-0", "2-49"}
    finally:
        index.close()


@pytest.mark.parametrize(
    ("full_scan_kb", "exact_max_share"),
    [(1, 0.0), (10_000, 0.0), (1, 0.5)],
    ids=["hnsw", "scan", "exact-route"],
)
def test_hnsw_search_agrees_with_exact(
    tmp_path: Path, make_poster: Callable[..., Poster], full_scan_kb: int, exact_max_share: float
) -> None:
    """With an HNSW graph and quantized vectors built (tiny thresholds), filtered search through
    the graph (ACORN), by Qdrant's scan of the filtered posters, or on the plan's exact route
    finds the exact top, with float32 scores."""
    rng = np.random.default_rng(7)
    vectors = rng.normal(size=(600, DIM))
    genres = [("Drama",) if i % 3 else ("Horror", "Drama") for i in range(600)]
    tuning = IndexTuning(
        indexing_threshold_kb=1, full_scan_kb=full_scan_kb, exact_max_share=exact_max_share
    )
    assert tuning.quantization != "none"
    index = EdgePosterIndex(tmp_path, tuning=tuning)
    index.ensure_collection(MODEL)
    index.upsert(
        [
            PosterVector(make_poster(movie_id=str(i), genres=genres[i]), vectors[i].tolist())
            for i in range(600)
        ]
    )
    assert index.optimize()
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    horror = np.array([i % 3 == 0 for i in range(600)])
    try:
        for q in rng.normal(size=(5, DIM)):
            scores = np.where(horror, normed @ q, -np.inf)
            expected = [str(i) for i in np.argsort(-scores)[:10]]
            hits = index.search(q.tolist(), SearchFilter(genres_any=("Horror",)), limit=10)
            assert [h.poster.movie_id for h in hits] == expected
            # Rescored: the scores are the float32 cosines, not the quantized approximations.
            best = scores[int(expected[0])] / np.linalg.norm(q)
            assert hits[0].score == pytest.approx(best, abs=1e-5)
    finally:
        index.close()


def test_the_full_scan_threshold_is_a_whole_segment() -> None:
    """By default Qdrant's threshold is the float32 vectors of one segment, rounded down so
    that a full segment is never below it (an unfiltered query walks the graph)."""
    assert full_scan_kb_for(IndexTuning(), 768) == 120_000
    for dim in (16, 100, 512, 768, 1152):
        tuning = IndexTuning(segment_points=40_000)
        points = full_scan_kb_for(tuning, dim) * 1024 // (dim * 4)
        assert 39_900 <= points <= 40_000
    assert full_scan_kb_for(IndexTuning(segment_points=0), 768) == QDRANT_FULL_SCAN_KB
    assert full_scan_kb_for(IndexTuning(full_scan_kb=7), 768) == 7


@pytest.mark.parametrize("full_scan_kb", [None, 1], ids=["segment-scan", "graph"])
def test_filtered_queries_are_scanned_in_each_segment(
    tmp_path: Path, make_poster: Callable[..., Poster], full_scan_kb: int | None
) -> None:
    """With the default threshold, Qdrant scans the posters a filter lets through in every
    indexed segment, so even a graph too coarse to find them gives the exact top; with the
    threshold at 1 KB the same filtered queries walk that graph and miss some."""
    rng = np.random.default_rng(5)
    vectors = rng.normal(size=(600, DIM))
    genres = [("Horror",) if i % 3 == 0 else ("Drama",) for i in range(600)]
    # A graph so coarse that walks through it miss some of the filtered top.
    tuning = IndexTuning(
        m=4,
        ef_construct=8,
        hnsw_ef=1,
        page_window=4,
        quantization="none",
        acorn=False,
        indexing_threshold_kb=1,
        segment_points=300,
        full_scan_kb=full_scan_kb,
    )
    index = EdgePosterIndex(tmp_path, tuning=tuning)
    index.ensure_collection(MODEL)
    normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
    horror = np.array([g == ("Horror",) for g in genres])
    posters = [make_poster(movie_id=str(i), genres=genres[i]) for i in range(600)]
    misses = 0
    try:
        for start in (0, 300):
            index.upsert(
                [PosterVector(posters[i], vectors[i].tolist()) for i in range(start, start + 300)]
            )
        assert index.segment_count() >= 2
        for q in rng.normal(size=(20, DIM)):
            expected = [str(i) for i in np.argsort(-np.where(horror, normed @ q, -np.inf))[:4]]
            hits = index.search(q.tolist(), SearchFilter(genres_any=("Horror",)), limit=4)
            misses += [h.poster.movie_id for h in hits] != expected
    finally:
        index.close()
    assert (misses == 0) == (full_scan_kb is None)


def test_upserts_cut_the_collection_into_segments(
    tmp_path: Path, make_poster: Callable[..., Poster]
) -> None:
    """Every segment_points posters written get their own indexed segment, which later
    optimizes do not merge; searches over the segments still find the exact top."""
    rng = np.random.default_rng(11)
    vectors = rng.normal(size=(250, DIM))
    tuning = IndexTuning(indexing_threshold_kb=1, segment_points=100)
    index = EdgePosterIndex(tmp_path, tuning=tuning)
    index.ensure_collection(MODEL)
    try:
        for start in range(0, 250, 50):
            index.upsert(
                [
                    PosterVector(make_poster(movie_id=str(i)), vectors[i].tolist())
                    for i in range(start, start + 50)
                ]
            )
        # Two full segments of 100 were built during the upserts, beside the appendable one.
        assert index.segment_count() == 3
        index.optimize()
        assert index.segment_count() >= 3
        assert index.count() == 250
        normed = vectors / np.linalg.norm(vectors, axis=1, keepdims=True)
        for q in rng.normal(size=(3, DIM)):
            expected = [str(i) for i in np.argsort(-(normed @ q))[:10]]
            hits = index.search_with(q.tolist(), SearchFilter(), 10, 0, None, EXACT)
            assert [h.poster.movie_id for h in hits] == expected
    finally:
        index.close()


def test_reads_from_threads_while_writing(
    tmp_path: Path, make_poster: Callable[..., Poster]
) -> None:
    index = EdgePosterIndex(tmp_path)
    index.ensure_collection(MODEL)
    errors: list[BaseException] = []

    def read() -> None:
        try:
            for _ in range(30):
                index.search(unit_vector(1), SearchFilter(genres_any=("Drama",)), limit=5)
                index.count()
        except BaseException as exc:
            errors.append(exc)

    readers = [threading.Thread(target=read) for _ in range(4)]
    for t in readers:
        t.start()
    for batch in range(10):
        index.upsert(
            [
                PosterVector(make_poster(movie_id=f"{batch}-{i}"), unit_vector(1 + i % DIM))
                for i in range(20)
            ]
        )
    for t in readers:
        t.join()
    try:
        assert not errors
        assert index.count() == 200
    finally:
        index.close()
