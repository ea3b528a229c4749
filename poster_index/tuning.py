"""HNSW build and query parameters, chosen from bench/bench_recall.py's measurements.

Both backends build their collections and answer their queries with these, so the figures in
docs/index.md describe what the search service actually runs.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

# Qdrant expresses the full-scan threshold in kilobytes of vector data, not in points.
_BYTES_PER_FLOAT = 4


@dataclass(frozen=True)
class IndexTuning:
    """How the collection is indexed and searched.

    Attributes:
        m: HNSW edges per node.
        ef_construct: HNSW candidate list size while building.
        payload_m: Edges per node of the extra per-genre graphs (None: same as m).
        full_scan_points: Filters whose estimated cardinality (per segment) is below this many
            posters are answered by exact search over the payload index instead of HNSW.
        hnsw_ef: HNSW candidate list size per query (raised to limit + offset when larger).
        acorn_max_selectivity: Filters letting through at most this fraction of a segment use
            ACORN (two-hop graph exploration); None disables ACORN.
        indexing_threshold_kb: Segments with less vector data than this stay un-indexed and
            are searched exactly.
        segments: Target number of segments after optimization (0: Qdrant's default, one per
            CPU). Each segment is a separate graph searched with the full ef.
        int8: Keep an int8 scalar-quantized copy of the vectors in RAM and search on it,
            rescoring the candidates with the original vectors.
        oversampling: Candidates fetched per result from the quantized search before
            rescoring.
    """

    m: int = 16
    ef_construct: int = 100
    payload_m: int | None = None
    full_scan_points: int = 10_000
    hnsw_ef: int = 128
    acorn_max_selectivity: float | None = None
    indexing_threshold_kb: int = 10_000
    segments: int = 0
    int8: bool = False
    oversampling: float = 2.0

    def full_scan_threshold_kb(self, dimension: int) -> int:
        """full_scan_points converted to Qdrant's unit for vectors of this dimension."""
        return max(1, math.ceil(self.full_scan_points * dimension * _BYTES_PER_FLOAT / 1024))

    def ef_for(self, limit: int, offset: int) -> int:
        """The query-time ef for a page: at least the number of results asked for."""
        return max(self.hnsw_ef, limit + offset)


DEFAULT_TUNING = IndexTuning()
"""Tuning used unless a caller passes its own (the benchmark compares against others)."""
