"""Filtered recall, paging and latency of the Edge poster index against exact search.

Builds a Qdrant Edge collection of poster-like vectors (bench/synthetic_collection.py: the
`correlated` profile by default, where genres, decades and ratings follow what posters look
like, or the `mild` one), then for every filter class prints the share of posters it lets
through, recall@10 of the planned search (what the search service runs) and of Qdrant's
defaults against exact search, whether pages add up to the long answer, and p50/p99 latency
(wall and process CPU) of the planned index call beside Qdrant's exact search, all in the same
run. Per-query classes are drawn against the query's own cluster (its look-alikes).

    python bench/bench_recall.py --n 80000                 # 200 queries per filter class
    python bench/bench_recall.py --n 1000000 --baseline none --queries 50
    python bench/bench_recall.py --n 80000 --profile mild --path /tmp/shards
    python bench/bench_recall.py --n 80000 --path /tmp/shards --full-scan-kb 60000 --only absent

`--baseline build` (the default) builds a second collection with Qdrant's default HNSW,
full-scan threshold, quantization (none) and query parameters, cut into the same segments;
`--baseline search` searches the planned collection with Qdrant's default query parameters
instead (no second build, but the planned collection's own full-scan threshold still decides
what is scanned); `--baseline none` leaves the column out. Build options (`--m`,
`--full-scan-kb`, `--quantization`, ...) only apply to a collection this run builds: one reused
through `--path` keeps what it was built with.
"""

from __future__ import annotations

import argparse
import dataclasses
import functools
import os
import shutil
import statistics
import tempfile
import time
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np
import qdrant_edge as edge
from synthetic_collection import (
    PROFILES,
    Collection,
    Queries,
    filter_classes,
    make_collection,
    make_queries,
    mask_of,
)

from poster_index.edge import EdgePosterIndex
from poster_index.tuning import DEFAULT_TUNING, QDRANT_FULL_SCAN_KB, IndexTuning, Quantization
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter

LIMIT = 10
BATCH = 1_000
PAGES = 5
EXACT = edge.SearchParams(exact=True, quantization=edge.QuantizationSearchParams(ignore=True))
DEFAULT = edge.SearchParams()


def latency_bounds(n: int) -> tuple[float, float]:
    """The p50 and p99 bounds (ms) the plan is held to at this size, on 2 CPUs."""
    return (5.0, 20.0) if n <= 100_000 else (25.0, 80.0)


def build(data: Collection, path: Path, tuning: IndexTuning) -> EdgePosterIndex:
    """Upserts the collection in batches, then builds what is left of the graph."""
    index = EdgePosterIndex(path, tuning=tuning)
    model = CollectionModel("bench/synthetic", data.vectors.shape[1])
    if index.collection_model() == model and index.count() == len(data.vectors):
        print(f"reusing the collection at {index.shard_dir} (query-time tuning applies)")
        return index
    index.ensure_collection(model)
    t0 = time.perf_counter()
    for start in range(0, len(data.vectors), BATCH):
        batch = []
        for i in range(start, min(start + BATCH, len(data.vectors))):
            year = int(data.years[i]) if data.years[i] >= 0 else None
            rating = None if np.isnan(data.ratings[i]) else float(data.ratings[i])
            poster = Poster(str(i), f"Movie {i}", data.genre_tuple(i), year, rating, "")
            batch.append(PosterVector(poster, data.vectors[i].tolist()))
        index.upsert(batch)
    t1 = time.perf_counter()
    index.optimize()
    print(
        f"built {path.name}: upsert of {len(data.vectors)} posters (segment graphs built on "
        f"the way) {t1 - t0:.1f} s, final optimize {time.perf_counter() - t1:.1f} s, "
        f"{index.segment_count()} segments"
    )
    return index


def qdrant_defaults(tuning: IndexTuning) -> IndexTuning:
    """Qdrant's default graph (m 16, ef_construct 100, full-scan threshold 10,000 KB), no
    quantization, no ACORN, cut into the same segments as the planned collection."""
    return IndexTuning(m=16, ef_construct=100, full_scan_kb=QDRANT_FULL_SCAN_KB, acorn=False,
                       quantization="none", segment_points=tuning.segment_points)  # fmt: skip


def timed(fn: Callable[[], list[str]]) -> tuple[list[str], float, float]:
    """fn's result, wall ms and process CPU ms (CPU counts Edge's search threads too)."""
    c0, t0 = time.process_time(), time.perf_counter()
    ids = fn()
    return ids, (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0


def p99(xs: list[float]) -> float:
    return float(np.percentile(xs, 99))


def true_top(data: Collection, scores: np.ndarray, keep: np.ndarray, k: int) -> list[str]:
    """Ids of the k highest-scoring posters that pass, by brute force."""
    masked = np.where(keep, scores, -np.inf)
    top = np.argpartition(-masked, k)[:k] if len(masked) > k else np.arange(len(masked))
    top = top[np.argsort(-masked[top])]
    return [str(i) for i in top if keep[i]]


def scores_of(data: Collection, queries: Queries) -> np.ndarray:
    """(n_queries, n) cosine scores, computed in chunks of posters."""
    out = np.empty((len(queries.vectors), len(data.vectors)), dtype=np.float32)
    for start in range(0, len(data.vectors), 200_000):
        stop = start + 200_000
        out[:, start:stop] = queries.vectors @ data.vectors[start:stop].T
    return out


def ids_of(hits: list[Any]) -> list[str]:
    return [h.poster.movie_id for h in hits]


def planned_ids(index: EdgePosterIndex, q: list[float], flt: SearchFilter) -> list[str]:
    """The planned search, as the search service calls it."""
    return ids_of(index.search(q, flt, LIMIT))


def exact_ids(index: EdgePosterIndex, q: list[float], flt: SearchFilter) -> list[str]:
    """Qdrant's exact search over the float32 vectors."""
    return ids_of(index.search_with(q, flt, LIMIT, 0, None, EXACT))


def pages_add_up(index: EdgePosterIndex, q: list[float], flt: SearchFilter) -> bool:
    """Whether PAGES pages of LIMIT, concatenated, are the PAGES*LIMIT-long answer."""
    long_answer = ids_of(index.search(q, flt, LIMIT * PAGES))
    pages = [m for k in range(PAGES) for m in ids_of(index.search(q, flt, LIMIT, LIMIT * k))]
    return pages == long_answer


def run_sweep(
    index: EdgePosterIndex,
    baseline: EdgePosterIndex | None,
    data: Collection,
    queries: Queries,
    only: list[str],
    exact_queries: int,
    paging_queries: int,
) -> None:
    """One line per filter class, then the totals."""
    n = len(data.vectors)
    bound50, bound99 = latency_bounds(n)
    t0 = time.perf_counter()
    scores = scores_of(data, queries)
    print(f"exact answers by numpy: {time.perf_counter() - t0:.1f} s")
    print(f"load average before the sweep: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
          f"on {os.cpu_count()} CPUs")  # fmt: skip
    header = (
        f"{'filter class':40} {'share':>6} {'recall':>6} {'deflt':>6} {'pages':>5} | "
        f"{'p50':>6} {'p99':>6} {'cpu50':>6} | {'ex p50':>7} {'ex cpu':>7}"
    )
    print(f"recall@{LIMIT} of the planned search and of Qdrant defaults (deflt) against exact "
          f"search; pages: share of queries whose {PAGES} pages of {LIMIT} equal the "
          f"{PAGES * LIMIT}-long answer; latency (ms) of the planned index call and of Qdrant's "
          f"exact search; bounds at this size: p50 <= {bound50:g} ms, "
          f"p99 <= {bound99:g} ms")  # fmt: skip
    print(header)
    print("-" * len(header))
    for q in queries.vectors[:20]:  # warm the caches and Edge's search threads
        index.search(q.tolist(), SearchFilter(), LIMIT)
    worst = 1.0
    over: list[str] = []
    every_wall: list[float] = []
    for name, filter_for in filter_classes(data):
        if only and not any(o in name for o in only):
            continue
        filters = [filter_for(int(k)) for k in queries.cluster]
        masks = [mask_of(data, f) for f in filters]
        truths = [true_top(data, scores[i], m, LIMIT) for i, m in enumerate(masks)]
        vectors = [q.tolist() for q in queries.vectors]
        pairs = list(zip(vectors, filters, strict=True))
        runs = [timed(functools.partial(planned_ids, index, q, f)) for q, f in pairs]
        exact_runs = [
            timed(functools.partial(exact_ids, index, q, f)) for q, f in pairs[:exact_queries]
        ]
        for (got, _, _), truth in zip(exact_runs, truths, strict=False):
            # Qdrant's exact search must agree with numpy, or the truth is wrong.
            assert len(set(got) & set(truth)) >= len(truth) - 1, (name, got, truth)
        hits = sum(len(set(got) & set(t)) for (got, _, _), t in zip(runs, truths, strict=True))
        total = max(sum(len(t) for t in truths), 1)
        recall = hits / total
        default_recall = float("nan")
        if baseline is not None:
            found = 0
            for q, f, t in zip(vectors, filters, truths, strict=True):
                got = ids_of(baseline.search_with(q, f, LIMIT, 0, None, DEFAULT))
                found += len(set(got) & set(t))
            default_recall = found / total
        paged = [
            pages_add_up(index, q, f)
            for q, f in list(zip(vectors, filters, strict=True))[:paging_queries]
        ]
        wall = [w for _, w, _ in runs]
        cpu = [c for _, _, c in runs]
        every_wall += wall
        worst = min(worst, recall)
        if statistics.median(wall) > bound50 or p99(wall) > bound99:
            over.append(name)
        ex_wall = [w for _, w, _ in exact_runs] or [float("nan")]
        ex_cpu = [c for _, _, c in exact_runs] or [float("nan")]
        print(
            f"{name:40} {np.mean([m.mean() for m in masks]):6.1%} {recall:6.3f} "
            f"{default_recall:6.3f} {np.mean(paged) if paged else float('nan'):5.2f} | "
            f"{statistics.median(wall):6.2f} {p99(wall):6.2f} {statistics.median(cpu):6.2f} | "
            f"{statistics.median(ex_wall):7.2f} {statistics.median(ex_cpu):7.2f}",
            flush=True,
        )
    print(
        f"worst recall@{LIMIT}: {worst:.3f}; over all classes p50 "
        f"{statistics.median(every_wall):.2f} ms, p99 {p99(every_wall):.2f} ms; "
        f"classes over the latency bounds: {', '.join(over) or 'none'}"
    )
    print(f"load average after the sweep: {', '.join(f'{x:.1f}' for x in os.getloadavg())}")


def footprint(index: EdgePosterIndex, arrays_bytes: int) -> str:
    """Memory of this process beside the benchmark's own arrays, and the shard on disk."""
    rss = 0
    with open("/proc/self/status", encoding="ascii") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                rss = int(line.split()[1]) * 1024
    disk = sum(f.stat().st_size for f in index.shard_dir.rglob("*") if f.is_file())
    return (
        f"resident memory {rss / 2**20:,.0f} MB, of which the benchmark's own arrays "
        f"{arrays_bytes / 2**20:,.0f} MB (the rest is Edge and Python); shard on disk "
        f"{disk / 2**20:,.0f} MB"
    )


def _arg_type(field: dataclasses.Field[Any]) -> Callable[[str], object]:
    if field.name in ("int8_quantile", "oversampling"):
        return float
    if field.name == "quantization":
        return str
    if field.name == "acorn":
        return lambda text: text.lower() in ("1", "true", "yes", "on")
    return int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=80_000, help="posters in the collection")
    parser.add_argument("--dim", type=int, default=768, help="vector size")
    parser.add_argument("--profile", choices=PROFILES, default="correlated")
    parser.add_argument("--queries", type=int, default=200, help="queries per filter class")
    parser.add_argument("--exact-queries", type=int, default=30,
                        help="queries per class also timed by Qdrant's exact search")  # fmt: skip
    parser.add_argument("--paging-queries", type=int, default=20,
                        help="queries per class whose pages are checked")  # fmt: skip
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--path", type=Path,
                        help="keep the collections here, reused when they match")  # fmt: skip
    parser.add_argument("--baseline", choices=("build", "search", "none"), default="build")
    parser.add_argument("--only", action="append", default=[],
                        help="only the classes whose name contains this (repeatable)")  # fmt: skip
    for field in dataclasses.fields(IndexTuning):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=_arg_type(field),
            default=getattr(DEFAULT_TUNING, field.name),
            # A misspelt quantization would otherwise build a collection without one.
            choices=typing.get_args(Quantization) if field.name == "quantization" else None,
            help=f"override IndexTuning.{field.name}",
        )
    args = parser.parse_args()
    tuning = IndexTuning(**{f.name: getattr(args, f.name) for f in dataclasses.fields(IndexTuning)})
    print(f"{args.n} x {args.dim}, profile {args.profile}, {args.queries} queries per class; "
          f"{tuning}")  # fmt: skip
    t0 = time.perf_counter()
    data = make_collection(args.n, args.dim, args.seed, args.profile)
    queries = make_queries(data, args.queries, args.seed)
    print(f"collection drawn in {time.perf_counter() - t0:.1f} s")
    workdir = args.path or Path(tempfile.mkdtemp(prefix="bench-recall-"))
    suffix = f"{args.profile}-{args.n}-{args.seed}"
    try:
        index = build(data, workdir / f"planned-{suffix}", tuning)
        baseline = None
        if args.baseline == "build":
            defaults = qdrant_defaults(tuning)
            print(f"baseline: {defaults}, searched with SearchParams()")
            baseline = build(data, workdir / f"defaults-{suffix}", defaults)
        elif args.baseline == "search":
            print("baseline: the planned collection searched with SearchParams()")
            baseline = index
        try:
            run_sweep(index, baseline, data, queries, args.only, args.exact_queries,
                      args.paging_queries)  # fmt: skip
            arrays = data.vectors.nbytes + queries.vectors.nbytes + data.genres.nbytes
            print(footprint(index, arrays))
        finally:
            index.close()
            if baseline is not None and baseline is not index:
                baseline.close()
    finally:
        if args.path is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
