"""Filtered recall and latency of the Edge poster index against exact search.

Builds a Qdrant Edge collection of clustered, poster-like vectors with realistic payloads,
and a second one with Qdrant's default parameters, then for a sweep of filters from no
filter to ~0.1% of posters prints the selectivity, recall@10 of the tuned search (the
`IndexTuning` the search service runs with) and of the defaults, and p50/p99 latency (wall
and process CPU time) of the tuned index call beside exact search (SearchParams(exact=True))
on the same collection, all in the same run.

    python bench/bench_recall.py                       # 80k x 768, 200 queries per filter
    python bench/bench_recall.py --count 20000 --queries 50 --no-baseline
    python bench/bench_recall.py --path /tmp/shards --hnsw-ef 64   # rerun on kept shards
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
from collections.abc import Callable
from pathlib import Path

import numpy as np
import qdrant_edge as edge

from poster_index.edge import EdgePosterIndex
from poster_index.tuning import DEFAULT_TUNING, IndexTuning
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter

# Genre frequencies shaped like MovieLens; IMAX is the ~0.1% rarity.
GENRES: dict[str, float] = {
    "Drama": 0.44, "Comedy": 0.30, "Thriller": 0.17, "Romance": 0.15, "Action": 0.14,
    "Crime": 0.11, "Horror": 0.10, "Documentary": 0.08, "Adventure": 0.08, "Sci-Fi": 0.07,
    "Mystery": 0.05, "Fantasy": 0.05, "Animation": 0.04, "Children": 0.04, "War": 0.03,
    "Musical": 0.02, "Western": 0.02, "Film-Noir": 0.006, "IMAX": 0.001,
}  # fmt: skip
N_CLUSTERS = 300
LIMIT = 10
BATCH = 1_000

SWEEP: list[tuple[str, SearchFilter]] = [
    ("none", SearchFilter()),
    ("genre Drama (common)", SearchFilter(genres_any=("Drama",))),
    ("genre Action", SearchFilter(genres_any=("Action",))),
    ("genre Sci-Fi", SearchFilter(genres_any=("Sci-Fi",))),
    ("genre IMAX (rare)", SearchFilter(genres_any=("IMAX",))),
    ("year 1990-1999", SearchFilter(year_from=1990, year_to=1999)),
    ("year >= 2010", SearchFilter(year_from=2010)),
    ("Horror AND 1980-1999", SearchFilter(genres_any=("Horror",), year_from=1980, year_to=1999)),
    ("Comedy or Action, 2000-2025", SearchFilter(genres_any=("Comedy", "Action"), year_from=2000)),
    ("all of Comedy+Romance", SearchFilter(genres_all=("Comedy", "Romance"))),
    ("none of Drama, Comedy", SearchFilter(genres_none=("Drama", "Comedy"))),
    ("none of Horror, Thriller", SearchFilter(genres_none=("Horror", "Thriller"))),
    ("rating >= 6.5", SearchFilter(min_rating=6.5)),
    ("rating >= 8", SearchFilter(min_rating=8.0)),
    (
        "Sci-Fi, 2000-2009, rating >= 7.5",
        SearchFilter(genres_any=("Sci-Fi",), year_from=2000, year_to=2009, min_rating=7.5),
    ),
]


@dataclasses.dataclass
class Dataset:
    """Vectors and payload columns of the synthetic collection."""

    vectors: np.ndarray
    genres: list[tuple[str, ...]]
    years: np.ndarray  # -1 where unknown
    ratings: np.ndarray  # nan where unknown


def _normalise(x: np.ndarray) -> np.ndarray:
    return (x / np.linalg.norm(x, axis=-1, keepdims=True)).astype(np.float32)


def make_dataset(count: int, dim: int, seed: int) -> Dataset:
    """Clustered vectors (skewed cluster sizes, shared offset like real embeddings) with
    genres correlated with clusters, years skewed to recent ones and ratings ~N(6.3, 1.1)."""
    rng = np.random.default_rng(seed)
    offset = _normalise(rng.normal(size=dim)) * 0.6
    centres = _normalise(rng.normal(size=(N_CLUSTERS, dim)))
    sizes = 1.0 / np.arange(1, N_CLUSTERS + 1) ** 0.7
    cluster = rng.choice(N_CLUSTERS, size=count, p=sizes / sizes.sum())
    spread = rng.uniform(0.6, 1.1, size=N_CLUSTERS)[cluster, None]
    noise = rng.normal(size=(count, dim)).astype(np.float32) / np.sqrt(dim)
    vectors = _normalise(offset + centres[cluster] + spread * noise)

    names = list(GENRES)
    base = np.array([GENRES[g] for g in names])
    # Each cluster favours some genres (a dark cluster is mostly horror and thriller).
    tilt = rng.lognormal(0.0, 1.0, size=(N_CLUSTERS, len(names)))
    genres: list[tuple[str, ...]] = []
    draws = rng.random(size=(count, len(names)))
    for i in range(count):
        p = np.minimum(base * tilt[cluster[i]], 0.95)
        chosen = tuple(g for g, d, pi in zip(names, draws[i], p, strict=True) if d < pi)
        genres.append(chosen or ("Drama",))
    years = np.clip(2025 - np.floor(rng.exponential(22.0, size=count)), 1920, 2025).astype(int)
    years[rng.random(count) < 0.02] = -1
    ratings = np.round(np.clip(rng.normal(6.3, 1.1, size=count), 0.0, 10.0), 1)
    ratings[rng.random(count) < 0.05] = np.nan
    return Dataset(vectors, genres, years, ratings)


def make_queries(data: Dataset, n: int, seed: int) -> np.ndarray:
    """Queries near data points but not at them (a third of the way to a random direction)."""
    rng = np.random.default_rng(seed + 1)
    picks = data.vectors[rng.choice(len(data.vectors), size=n, replace=False)]
    noise = _normalise(rng.normal(size=picks.shape))
    return _normalise(picks + 0.6 * noise)


def mask_of(data: Dataset, flt: SearchFilter) -> np.ndarray:
    """Which posters pass flt, computed without Qdrant (the ground truth's filter)."""
    n = len(data.genres)
    keep = np.ones(n, dtype=bool)
    if flt.genres_any or flt.genres_all or flt.genres_none:
        any_, all_, none_ = set(flt.genres_any), set(flt.genres_all), set(flt.genres_none)
        for i, gs in enumerate(data.genres):
            s = set(gs)
            if (any_ and not s & any_) or not all_ <= s or s & none_:
                keep[i] = False
    known_year = data.years >= 0
    if flt.year_from is not None:
        keep &= known_year & (data.years >= flt.year_from)
    if flt.year_to is not None:
        keep &= known_year & (data.years <= flt.year_to)
    if flt.min_rating is not None:
        keep &= ~np.isnan(data.ratings) & (data.ratings >= flt.min_rating)
    return keep


def exact_top(data: Dataset, query: np.ndarray, keep: np.ndarray, k: int) -> set[str]:
    """Ids of the k nearest posters passing the filter, by brute force in numpy."""
    idx = np.flatnonzero(keep)
    scores = data.vectors[idx] @ query
    top = idx[np.argsort(-scores)[:k]]
    return {str(i) for i in top}


def build(data: Dataset, path: Path, tuning: IndexTuning) -> EdgePosterIndex:
    """Upserts the dataset in batches, then builds the HNSW graph; prints both times."""
    index = EdgePosterIndex(path, tuning=tuning)
    model = CollectionModel("bench/clustered", data.vectors.shape[1])
    if index.collection_model() == model and index.count() == len(data.genres):
        print(f"reusing the collection at {index.shard_dir} (query-time tuning applies)")
        return index
    index.ensure_collection(model)
    t0 = time.perf_counter()
    for start in range(0, len(data.genres), BATCH):
        batch = []
        for i in range(start, min(start + BATCH, len(data.genres))):
            year = int(data.years[i]) if data.years[i] >= 0 else None
            rating = None if np.isnan(data.ratings[i]) else float(data.ratings[i])
            poster = Poster(str(i), f"Movie {i}", data.genres[i], year, rating, f"/p/{i}.jpg")
            batch.append(PosterVector(poster, data.vectors[i].tolist()))
        index.upsert(batch)
    t1 = time.perf_counter()
    index.optimize()
    t2 = time.perf_counter()
    print(
        f"upsert {len(data.genres)} posters (building the graph of each full segment): "
        f"{t1 - t0:.1f} s; final optimize: {t2 - t1:.1f} s; "
        f"{index.segment_count()} segments (the appendable one included)"
    )
    return index


def timed(fn: Callable[[], list[str]]) -> tuple[list[str], float, float]:
    """Runs fn; returns its result, wall milliseconds and CPU milliseconds of the process.

    CPU time counts Edge's search threads too; on a machine shared with other work it is the
    figure that other processes do not inflate.
    """
    c0, t0 = time.process_time(), time.perf_counter()
    ids = fn()
    return ids, (time.perf_counter() - t0) * 1000.0, (time.process_time() - c0) * 1000.0


def p99(xs: list[float]) -> float:
    return float(np.percentile(xs, 99))


def qdrant_defaults() -> IndexTuning:
    """Qdrant's own defaults: m 16, ef_construct 100, full scan below 10,000 KB of vectors,
    segments left to Qdrant, no quantization, no planner of ours (searched with SearchParams():
    ef = ef_construct)."""
    return IndexTuning(
        m=16,
        ef_construct=100,
        full_scan_kb=10_000,
        exact_max_points=0,
        exact_max_points_excluding=0,
        hnsw_ef=100,
        indexing_threshold_kb=10_000,
        segments=0,
        segment_points=0,
        int8=False,
    )


def _build_params(tuning: IndexTuning) -> tuple[object, ...]:
    """The parameters fixed when the collection is built (the rest apply per query)."""
    return (
        tuning.m,
        tuning.ef_construct,
        tuning.payload_m,
        tuning.full_scan_kb,
        tuning.indexing_threshold_kb,
        tuning.segments,
        tuning.segment_points,
        tuning.int8,
        tuning.int8_quantile,
    )


def run_sweep(
    index: EdgePosterIndex,
    baseline: EdgePosterIndex | None,
    data: Dataset,
    queries: np.ndarray,
    sweep: list[tuple[str, SearchFilter]] = SWEEP,
) -> None:
    """Prints one line per filter of the sweep and the totals over it."""
    exact = edge.SearchParams(exact=True, quantization=edge.QuantizationSearchParams(ignore=True))
    default = edge.SearchParams()
    print(
        f"load average before the sweep: {', '.join(f'{x:.1f}' for x in os.getloadavg())} "
        f"on {os.cpu_count()} CPUs"
    )
    header = (
        f"{'filter':34} {'select.':>7} {'recall':>6} {'deflt':>6} | {'p50':>5} {'p99':>6} "
        f"{'cpu50':>5} {'cpu99':>6} | {'ex p50':>6} {'ex p99':>6} {'ex cpu50':>8}"
    )
    print(
        "recall@10 of the tuned search and of Qdrant defaults (deflt), against exact search;"
        " latency of the tuned search and of exact search on the same collection"
    )
    print(f"{'':57}| tuned search, ms {'':13}| exact search, ms")
    print(header)
    print("-" * len(header))
    worst_recall = 1.0
    all_wall: list[float] = []
    all_cpu: list[float] = []
    for q in queries[:20]:  # warm caches and the search thread pool before timing
        index.search_with(q.tolist(), SearchFilter(), LIMIT)
    for name, flt in sweep:
        keep = mask_of(data, flt)
        # The truth first: numpy's brute force reads every vector and would flush the CPU
        # caches between timed queries, which a service calling the index does not do.
        truths = [exact_top(data, q, keep, LIMIT) for q in queries]
        vectors = [q.tolist() for q in queries]

        def ids(
            qv: list[float], params: edge.SearchParams | None, flt: SearchFilter = flt
        ) -> list[str]:
            return [h.poster.movie_id for h in index.search_with(qv, flt, LIMIT, params=params)]

        tuned_runs = [timed(functools.partial(ids, qv, None)) for qv in vectors]
        exact_runs = [timed(functools.partial(ids, qv, exact)) for qv in vectors]
        wall = [ms for _, ms, _ in tuned_runs]
        cpu = [c for _, _, c in tuned_runs]
        wall_exact = [ms for _, ms, _ in exact_runs]
        cpu_exact = [c for _, _, c in exact_runs]
        hits_tuned = hits_default = total = 0
        for qv, truth, (got, _, _), (got_exact, _, _) in zip(
            vectors, truths, tuned_runs, exact_runs, strict=True
        ):
            # Exact search through Qdrant must agree with numpy, or the truth is wrong.
            assert len(set(got_exact) & truth) >= len(truth) - 1, (name, got_exact, truth)
            if baseline is not None:
                got_default = baseline.search_with(qv, flt, LIMIT, params=default)
                hits_default += len({h.poster.movie_id for h in got_default} & truth)
            hits_tuned += len(set(got) & truth)
            total += len(truth)
        recall = hits_tuned / max(total, 1)
        worst_recall = min(worst_recall, recall)
        all_wall += wall
        all_cpu += cpu
        print(
            f"{name:34} {keep.mean():7.2%} {recall:6.3f} {hits_default / max(total, 1):6.3f} | "
            f"{statistics.median(wall):5.2f} {p99(wall):6.2f} "
            f"{statistics.median(cpu):5.2f} {p99(cpu):6.2f} | "
            f"{statistics.median(wall_exact):6.2f} {p99(wall_exact):6.2f} "
            f"{statistics.median(cpu_exact):8.2f}"
        )
    print(
        f"worst recall@{LIMIT}: {worst_recall:.3f}; tuned search over the sweep: "
        f"p50 {statistics.median(all_wall):.2f} ms, p99 {p99(all_wall):.2f} ms wall; "
        f"p50 {statistics.median(all_cpu):.2f} ms, p99 {p99(all_cpu):.2f} ms CPU"
    )


def _flag(text: str) -> bool:
    return text.lower() in ("1", "true", "yes", "on")


def _arg_type(field: dataclasses.Field) -> Callable[[str], object]:
    if field.name in ("acorn_max_selectivity", "int8_quantile", "oversampling"):
        return float
    if field.name == "int8":
        return _flag
    return int


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--count", type=int, default=80_000, help="posters in the collection")
    parser.add_argument("--dim", type=int, default=768, help="vector size")
    parser.add_argument("--queries", type=int, default=200, help="queries per filter")
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument(
        "--path",
        type=Path,
        help="keep the collection here and reuse it when it matches (default: a temp dir)",
    )
    for field in dataclasses.fields(IndexTuning):
        parser.add_argument(
            f"--{field.name.replace('_', '-')}",
            type=_arg_type(field),
            default=getattr(DEFAULT_TUNING, field.name),
            help=f"override IndexTuning.{field.name}",
        )
    parser.add_argument(
        "--only",
        action="append",
        default=[],
        help="run only the filters whose name contains this text (repeatable)",
    )
    parser.add_argument(
        "--no-baseline",
        action="store_true",
        help="skip building the second collection with Qdrant's default parameters",
    )
    args = parser.parse_args()
    tuning = IndexTuning(**{f.name: getattr(args, f.name) for f in dataclasses.fields(IndexTuning)})
    print(f"{args.count} x {args.dim}, {args.queries} queries per filter, {tuning}")
    data = make_dataset(args.count, args.dim, args.seed)
    queries = make_queries(data, args.queries, args.seed)
    workdir = args.path or Path(tempfile.mkdtemp(prefix="bench-recall-"))
    try:
        index = build(data, workdir / "tuned", tuning)
        baseline = None
        if not args.no_baseline:
            defaults = qdrant_defaults()
            print(f"baseline: {defaults}, searched with SearchParams()")
            if _build_params(defaults) == _build_params(tuning):
                # Same graph: the defaults differ only at query time, so search this one.
                print("the baseline builds the same collection; searching the tuned one")
                baseline = index
            else:
                baseline = build(data, workdir / "baseline", defaults)
        try:
            sweep = [(n, f) for n, f in SWEEP if not args.only or any(o in n for o in args.only)]
            run_sweep(index, baseline, data, queries, sweep)
        finally:
            index.close()
            if baseline is not None and baseline is not index:
                baseline.close()
    finally:
        if args.path is None:
            shutil.rmtree(workdir, ignore_errors=True)


if __name__ == "__main__":
    main()
