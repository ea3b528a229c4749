"""HNSW build and query parameters, chosen from bench/bench_recall.py's measurements.

Both backends build their collections and answer their queries with these, so the figures in
docs/index.md describe what the search service actually runs.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class IndexTuning:
    """How the collection is indexed and searched.

    Attributes:
        m: HNSW edges per node.
        ef_construct: HNSW candidate list size while building.
        payload_m: Edges per node of the extra per-value graphs (None: same as m).
        full_scan_kb: Qdrant's own switch, inside each segment, from the graph to scanning the
            posters a filter lets through, in kilobytes of their vectors (Qdrant's unit and
            default): narrow filters are answered exactly, in each segment.
        exact_max_share: Filtered queries whose filter keeps at most this share of the
            collection (Qdrant's estimate) are answered by exact search (`poster_index.plan`).
        hnsw_ef: Graph candidates per segment of a query (at least the rung's window).
        acorn: Filtered graph walks use Qdrant's ACORN (the neighbours of neighbours that fail
            the filter are explored too), whatever the filter lets through.
        page_window: The results of the first rung of the paging ladder (see
            `poster_index.plan`): every page inside it comes from one walk.
        graph_max_window: Rungs wider than this are exact searches rather than graph walks.
        indexing_threshold_kb: Segments with less vector data than this stay un-indexed and
            are searched exactly.
        segments: Server: the collection's target number of segments (0: Qdrant's default,
            one per CPU).
        segment_points: Edge: an upsert that leaves more than this many posters outside the
            HNSW graph builds their graph then, so the collection is cut into segments of
            about this size. Edge searches its segments in parallel, one thread each. 0 leaves
            segmentation to Qdrant (one segment per optimize).
        int8: Keep an int8 scalar-quantized copy of the vectors in RAM (built with the
            collection) and walk the HNSW graph over it: a quarter of the bytes (exact search
            reads the float32 vectors).
        int8_quantile: Quantile of the vector components mapped onto the int8 range.
        oversampling: With int8, how many times the window's candidates the quantized search
            keeps; those are rescored with the float32 vectors, so the answer's order and
            scores are the exact ones.
    """

    m: int = 32
    ef_construct: int = 128
    payload_m: int | None = None
    full_scan_kb: int = 10_000
    exact_max_share: float = 0.5
    hnsw_ef: int = 64
    acorn: bool = True
    page_window: int = 16
    graph_max_window: int = 1_024
    indexing_threshold_kb: int = 10_000
    segments: int = 0
    segment_points: int = 40_000
    int8: bool = True
    int8_quantile: float = 0.99
    oversampling: float = 3.0


DEFAULT_TUNING = IndexTuning()
"""Tuning used unless a caller passes its own (the benchmark compares against others)."""
