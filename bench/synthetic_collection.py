"""Synthetic poster collections shaped like real ones, for the filtered-search benchmarks.

Two profiles:

- `correlated` (the default): what real CLIP/SigLIP poster collections look like. About 200
  clusters of skewed sizes sit in a cone around a shared mean direction; each cluster has 1-3
  dominant genres (each on 60-95% of its posters) while every other genre appears inside it at
  about 5% of its overall popularity; each cluster leans to one decade and its own rating level.
  The hard filters are per query: the commonest genre (its true neighbours are the few posters
  of that genre inside the query's own cluster) and the anti-correlated ones (a genre the
  query's look-alikes never have keeps only posters far from the query in the graph).
- `mild`: genres only leaning per cluster (each genre's share tilted by a log-normal factor),
  years and ratings independent of the vectors.

Queries are perturbed posters, so each lands inside a cluster, and each knows its cluster, so
that per-query filters can be drawn against what the query's look-alikes have.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable

import numpy as np

from postersearch.domain import SearchFilter

# Overall genre popularity, shaped like MovieLens; IMAX is the ~0.1% rarity.
GENRES: dict[str, float] = {
    "Drama": 0.44, "Comedy": 0.30, "Thriller": 0.17, "Romance": 0.15, "Action": 0.14,
    "Crime": 0.11, "Horror": 0.10, "Documentary": 0.08, "Adventure": 0.08, "Sci-Fi": 0.07,
    "Mystery": 0.05, "Fantasy": 0.05, "Animation": 0.04, "Children": 0.04, "War": 0.03,
    "Musical": 0.02, "Western": 0.02, "Film-Noir": 0.006, "IMAX": 0.001,
}  # fmt: skip
GENRE_NAMES = tuple(GENRES)
RARE = GENRE_NAMES[-1]
PROFILES = ("correlated", "mild")


@dataclasses.dataclass
class Collection:
    """Vectors and payload columns of a synthetic collection.

    Attributes:
        vectors: (n, dim) float32, L2-normalised.
        cluster: (n,) the cluster of each poster.
        genres: (n, len(GENRE_NAMES)) bool, which genres each poster has.
        years: (n,) int, -1 where unknown.
        ratings: (n,) float, nan where unknown; one decimal, as datasets store them.
        dominant: per cluster, the indexes of its dominant genres (empty in the mild profile).
    """

    vectors: np.ndarray
    cluster: np.ndarray
    genres: np.ndarray
    years: np.ndarray
    ratings: np.ndarray
    dominant: list[tuple[int, ...]]

    def genre_tuple(self, i: int) -> tuple[str, ...]:
        """The genre names of poster i."""
        return tuple(GENRE_NAMES[j] for j in np.flatnonzero(self.genres[i]))

    def genre_share(self) -> np.ndarray:
        """The share of posters that have each genre."""
        return np.asarray(self.genres.mean(axis=0))


@dataclasses.dataclass
class Queries:
    """Query vectors and the cluster each was drawn from."""

    vectors: np.ndarray
    cluster: np.ndarray


def _normalise(x: np.ndarray) -> np.ndarray:
    return np.asarray(x / np.linalg.norm(x, axis=-1, keepdims=True), dtype=np.float32)


def _cluster_vectors(
    rng: np.random.Generator, count: int, dim: int, n_clusters: int
) -> tuple[np.ndarray, np.ndarray]:
    """Skewed cluster sizes in a cone: a shared mean direction plus a direction per cluster."""
    mean = _normalise(rng.normal(size=dim))
    centres = _normalise(rng.normal(size=(n_clusters, dim)))
    sizes = 1.0 / np.arange(1, n_clusters + 1) ** 0.8
    cluster = rng.choice(n_clusters, size=count, p=sizes / sizes.sum())
    spread = rng.uniform(0.5, 0.9, size=n_clusters).astype(np.float32)
    vectors = np.empty((count, dim), dtype=np.float32)
    # In chunks: at a million posters the noise alone is 3 GB.
    for start in range(0, count, 100_000):
        stop = min(start + 100_000, count)
        c = cluster[start:stop]
        noise = rng.normal(size=(stop - start, dim)).astype(np.float32) / np.float32(np.sqrt(dim))
        vectors[start:stop] = _normalise(0.9 * mean + 0.6 * centres[c] + spread[c, None] * noise)
    return vectors, cluster


def _years_ratings(
    rng: np.random.Generator, cluster: np.ndarray, n_clusters: int, lean: bool
) -> tuple[np.ndarray, np.ndarray]:
    count = len(cluster)
    recent = np.clip(2025 - np.floor(rng.exponential(22.0, size=count)), 1920, 2025)
    if lean:
        # Each cluster leans to one decade (70% of its posters) and its own rating level.
        decade = rng.choice(np.arange(1920, 2030, 10), size=n_clusters)
        in_decade = decade[cluster] + rng.integers(0, 10, size=count)
        years = np.where(rng.random(count) < 0.7, np.minimum(in_decade, 2025), recent)
        level = rng.normal(6.3, 0.9, size=n_clusters)[cluster]
        ratings = rng.normal(level, 0.7)
    else:
        years, ratings = recent, rng.normal(6.3, 1.1, size=count)
    years = years.astype(int)
    years[rng.random(count) < 0.02] = -1
    ratings = np.round(np.clip(ratings, 0.0, 10.0), 1)
    ratings[rng.random(count) < 0.05] = np.nan
    return years, ratings


def make_collection(
    count: int, dim: int, seed: int = 0, profile: str = "correlated", n_clusters: int = 200
) -> Collection:
    """A synthetic collection of `count` posters.

    Args:
        count: Number of posters.
        dim: Vector size.
        seed: Seed of every draw; the same arguments give the same collection.
        profile: "correlated" or "mild" (see the module docstring).
        n_clusters: Clusters of look-alike posters.
    """
    if profile not in PROFILES:
        raise ValueError(f"profile must be one of {PROFILES}, got {profile!r}")
    rng = np.random.default_rng(seed)
    vectors, cluster = _cluster_vectors(rng, count, dim, n_clusters)
    base = np.array([GENRES[g] for g in GENRE_NAMES])
    dominant: list[tuple[int, ...]] = []
    if profile == "correlated":
        prob = np.empty((n_clusters, len(GENRE_NAMES)))
        for k in range(n_clusters):
            n_dom = int(rng.integers(1, 4))
            # The rare genre never dominates: it stays the 0.1% rarity.
            pick = base[:-1] / base[:-1].sum()
            dom = tuple(int(j) for j in rng.choice(len(pick), size=n_dom, replace=False, p=pick))
            dominant.append(dom)
            prob[k] = 0.05 * base
            prob[k, list(dom)] = rng.uniform(0.6, 0.95, size=n_dom)
    else:
        tilt = rng.lognormal(0.0, 1.0, size=(n_clusters, len(GENRE_NAMES)))
        prob = np.minimum(base * tilt, 0.95)
        dominant = [() for _ in range(n_clusters)]
    genres = rng.random((count, len(GENRE_NAMES))) < prob[cluster]
    # Every poster has a genre: the cluster's first dominant one, or the commonest.
    lonely = ~genres.any(axis=1)
    fallback = np.array([d[0] if d else 0 for d in dominant])
    genres[np.flatnonzero(lonely), fallback[cluster[lonely]]] = True
    years, ratings = _years_ratings(rng, cluster, n_clusters, lean=profile == "correlated")
    return Collection(vectors, cluster, genres, years, ratings, dominant)


def make_queries(data: Collection, n: int, seed: int = 0) -> Queries:
    """Perturbed posters: each lies near a poster of the collection but not on it."""
    rng = np.random.default_rng(seed + 1)
    picks = rng.choice(len(data.vectors), size=n, replace=False)
    noise = rng.normal(size=(n, data.vectors.shape[1])).astype(np.float32)
    noise /= np.float32(np.sqrt(data.vectors.shape[1]))
    return Queries(_normalise(data.vectors[picks] + 0.5 * noise), data.cluster[picks])


def cluster_genre_share(data: Collection) -> np.ndarray:
    """(n_clusters, n_genres): the share of each cluster's posters that have each genre."""
    n_clusters = len(data.dominant)
    counts = np.zeros((n_clusters, len(GENRE_NAMES)))
    np.add.at(counts, data.cluster, data.genres)
    sizes = np.bincount(data.cluster, minlength=n_clusters)[:, None]
    return counts / np.maximum(sizes, 1)


FilterFor = Callable[[int], SearchFilter]
"""A filter class: the filter to apply for a query of the given cluster."""


def filter_classes(data: Collection) -> list[tuple[str, FilterFor]]:
    """The filter classes of the benchmark, easy and hard, each a filter per query cluster.

    The per-cluster ones are drawn against what the query's look-alikes (its cluster) have:
    "absent" genres are those on fewer than 10% of the cluster's posters, "present" ones on
    more than half of them.
    """
    share = data.genre_share()
    in_cluster = cluster_genre_share(data)
    by_popularity = [int(j) for j in np.argsort(-share) if GENRE_NAMES[j] != RARE]
    commonest = GENRE_NAMES[by_popularity[0]]

    def absent(k: int) -> list[int]:
        return [j for j in by_popularity if in_cluster[k, j] < 0.10]

    def present(k: int) -> list[int]:
        found = [j for j in by_popularity if in_cluster[k, j] > 0.5]
        return found or [int(np.argmax(in_cluster[k]))]

    def names(js: list[int]) -> tuple[str, ...]:
        return tuple(GENRE_NAMES[j] for j in js)

    def fixed(flt: SearchFilter) -> FilterFor:
        return lambda _k: flt

    return [
        ("none", fixed(SearchFilter())),
        ("commonest genre", fixed(SearchFilter(genres_any=(commonest,)))),
        ("commonest genre absent from look-alikes", lambda k: SearchFilter(
            genres_any=names(absent(k)[:1]))),
        ("any of 3 genres absent from look-alikes", lambda k: SearchFilter(
            genres_any=names(absent(k)[:3]))),
        ("none of the look-alikes' genres", lambda k: SearchFilter(
            genres_none=names(present(k)))),
        ("all of 2 look-alike genres", lambda k: SearchFilter(
            genres_all=names((present(k) + absent(k))[:2]))),
        ("genre Sci-Fi", fixed(SearchFilter(genres_any=("Sci-Fi",)))),
        (f"genre {RARE} (rare)", fixed(SearchFilter(genres_any=(RARE,)))),
        ("year 1990-1999", fixed(SearchFilter(year_from=1990, year_to=1999))),
        ("year >= 2010", fixed(SearchFilter(year_from=2010))),
        ("rating >= 6.5", fixed(SearchFilter(min_rating=6.5))),
        ("rating >= 8", fixed(SearchFilter(min_rating=8.0))),
        ("absent genre, 2000-2025", lambda k: SearchFilter(
            genres_any=names(absent(k)[:1]), year_from=2000)),
        ("Horror AND 1980-1999", fixed(SearchFilter(
            genres_any=("Horror",), year_from=1980, year_to=1999))),
        ("Sci-Fi, 2000-2009, rating >= 7.5", fixed(SearchFilter(
            genres_any=("Sci-Fi",), year_from=2000, year_to=2009, min_rating=7.5))),
    ]  # fmt: skip


def mask_of(data: Collection, flt: SearchFilter) -> np.ndarray:
    """Which posters pass flt, computed without Qdrant (the ground truth's filter)."""
    keep = np.ones(len(data.vectors), dtype=bool)
    index = {g: j for j, g in enumerate(GENRE_NAMES)}
    if flt.genres_any:
        keep &= data.genres[:, [index[g] for g in flt.genres_any]].any(axis=1)
    for g in flt.genres_all:
        keep &= data.genres[:, index[g]]
    for g in flt.genres_none:
        keep &= ~data.genres[:, index[g]]
    known_year = data.years >= 0
    if flt.year_from is not None:
        keep &= known_year & (data.years >= flt.year_from)
    if flt.year_to is not None:
        keep &= known_year & (data.years <= flt.year_to)
    if flt.min_rating is not None:
        keep &= ~np.isnan(data.ratings) & (data.ratings >= flt.min_rating)
    return keep
