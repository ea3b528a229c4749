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
        payload_m: Edges per node of the extra per-genre graphs (None: same as m).
        full_scan_kb: Qdrant's own switch to exact search inside a segment, in kilobytes of
            vectors (Qdrant's unit and default).
        exact_max_points: Filtered searches whose estimated number of matching posters is at
            most this are answered by exact search; wider ones by HNSW. The estimate comes
            from the payload indexes and costs microseconds.
        exact_max_points_excluding: The same bound for filters that exclude genres: HNSW
            adds no per-genre links for a must-not condition, so the graph over the posters
            left breaks up sooner and exact search is worth more.
        hnsw_ef: HNSW candidate list size per query (raised to limit + offset when larger).
        acorn_max_selectivity: Filters letting through at most this fraction of a segment use
            ACORN (two-hop graph exploration) when HNSW is used; None disables ACORN.
        indexing_threshold_kb: Segments with less vector data than this stay un-indexed and
            are searched exactly.
        segments: Server: the collection's target number of segments (0: Qdrant's default,
            one per CPU).
        segment_points: Edge: an upsert that leaves more than this many posters outside the
            HNSW graph builds their graph then, so the collection is cut into segments of
            about this size. Edge searches its segments in parallel, one thread each, so an
            80k collection on 2 CPUs answers exact searches twice as fast as from one
            segment. 0 leaves segmentation to Qdrant (one segment per optimize).
        int8: Keep an int8 scalar-quantized copy of the vectors in RAM (built with the
            collection) and walk the HNSW graph over it: a quarter of the bytes (exact search
            reads the float32 vectors).
        int8_quantile: Quantile of the vector components mapped onto the int8 range.
        oversampling: With int8, how many times `limit + offset` candidates the quantized
            search keeps; those are rescored with the float32 vectors, so the answer's order
            and scores are the exact ones.
    """

    m: int = 16
    ef_construct: int = 100
    payload_m: int | None = None
    full_scan_kb: int = 10_000
    exact_max_points: int = 24_000
    exact_max_points_excluding: int = 48_000
    hnsw_ef: int = 128
    acorn_max_selectivity: float | None = None
    indexing_threshold_kb: int = 10_000
    segments: int = 0
    segment_points: int = 40_000
    int8: bool = True
    int8_quantile: float = 0.99
    oversampling: float = 3.0

    def use_exact(self, estimated_matches: int, excludes_genres: bool) -> bool:
        """Whether a filter matching about this many posters is better searched exactly."""
        bound = self.exact_max_points_excluding if excludes_genres else self.exact_max_points
        return estimated_matches <= bound


DEFAULT_TUNING = IndexTuning()
"""Tuning used unless a caller passes its own (the benchmark compares against others)."""
