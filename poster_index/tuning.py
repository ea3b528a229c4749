"""HNSW build and query parameters, chosen from bench/bench_recall.py's measurements.

Both backends build their collections and answer their queries with these, so the figures in
docs/index.md describe what the search service actually runs.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

Quantization = Literal["turbo4", "int8", "none"]
"""The quantized copy of the vectors that scans and graph walks read (rescored with float32)."""


@dataclass(frozen=True)
class IndexTuning:
    """How the collection is indexed and searched.

    Attributes:
        m: HNSW edges per node.
        ef_construct: HNSW candidate list size while building.
        payload_m: Edges per node of the extra per-value graphs (None: same as m).
        full_scan_kb: Qdrant's own switch, inside each segment, from the graph to scanning the
            posters a filter lets through, in kilobytes of their float32 vectors (Qdrant's
            unit). None: the vectors of a whole segment (`full_scan_kb_for`), so that Qdrant
            answers every filtered query by scanning, in each segment, the quantized copy of the
            posters the filter lets through and rescoring the best with float32, and walks the
            graph only for unfiltered queries. The same threshold is also the smallest payload
            value that gets its own graph links, so with None there are none.
        exact_max_share: Filtered queries whose filter keeps at most this share of the
            collection (Qdrant's estimate) are answered by Qdrant's exact search over the
            float32 vectors (`poster_index.plan`); 0 never (Qdrant's quantized scan is cheaper).
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
            about this size. Edge searches its segments in parallel, one thread each. Server:
            the largest segment Qdrant's optimizers make (`max_segment_size`). 0 leaves
            segmentation to Qdrant (Edge: one segment per optimize).
        quantization: The compressed copy of the vectors kept in RAM (built with the
            collection), which Qdrant's scans and graph walks read: "turbo4", Qdrant's
            TurboQuant at 4 bits a component (a Hadamard rotation, then a fixed codebook: an
            eighth of the float32 bytes); "int8", scalar int8 (a quarter); "none", the float32
            vectors themselves. Exact search always reads float32. On this project's
            benchmark (bench/bench_recall.py) TurboQuant kept int8's recall and scanned wide
            filters in 0.66-0.85x of int8's time (docs/index.md).
        int8_quantile: With int8, the quantile of the vector components mapped onto its range.
        oversampling: With a quantized copy, how many times the window's candidates the
            quantized search keeps; those are rescored with the float32 vectors, so the
            answer's order and scores are the exact ones.
    """

    m: int = 32
    ef_construct: int = 128
    payload_m: int | None = None
    full_scan_kb: int | None = None
    exact_max_share: float = 0.0
    hnsw_ef: int = 128
    acorn: bool = True
    page_window: int = 16
    graph_max_window: int = 1_024
    indexing_threshold_kb: int = 10_000
    segments: int = 0
    segment_points: int = 40_000
    quantization: Quantization = "turbo4"
    int8_quantile: float = 0.99
    oversampling: float = 3.0


QDRANT_FULL_SCAN_KB = 10_000
"""Qdrant's default full-scan threshold, for collections that Qdrant segments itself."""

# Bytes of one float32 vector component: the unit Qdrant turns the threshold into points with.
_FLOAT32_BYTES = 4


def segment_kb(tuning: IndexTuning, dimension: int) -> int | None:
    """The float32 vectors of one segment (`segment_points` posters), in KB (Qdrant's unit);
    None when Qdrant segments the collection itself."""
    if not tuning.segment_points:
        return None
    # Rounded down: a full segment is never below it.
    return max(1, tuning.segment_points * dimension * _FLOAT32_BYTES // 1024)


def full_scan_kb_for(tuning: IndexTuning, dimension: int) -> int:
    """The full-scan threshold a collection of this dimension is built with, in KB.

    By default the float32 vectors of a whole segment (`segment_points` posters): Qdrant
    compares the posters a filter lets through in a segment with this many, so every filtered
    query is scanned, while an unfiltered one (the whole segment, not below it) walks the
    graph. A bound per segment: the decision is the same at any collection size.
    """
    if tuning.full_scan_kb is not None:
        return tuning.full_scan_kb
    whole_segment = segment_kb(tuning, dimension)
    return QDRANT_FULL_SCAN_KB if whole_segment is None else whole_segment


DEFAULT_TUNING = IndexTuning()
"""Tuning used unless a caller passes its own (the benchmark compares against others)."""
