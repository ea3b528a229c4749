"""How a hybrid query is fused, the same for both backends.

A hybrid query is one Qdrant query with two prefetches under the same filter: the image
vector branch (nearest poster vectors to the query's text vector) and the lexical branch
(Qdrant BM25 over the movie's words, among the movies containing at least half of the
query's words). Qdrant fuses their rankings by weighted reciprocal rank fusion: the weight
divides a poster's 1-based rank in a branch, so a poster at 1-based rank n of a branch of
weight w gains 1 / (k - 1 + n / w) (measured against Qdrant Edge and qdrant-client's local
mode, which agree; with k = 1 that is w / n).

The weights were chosen with bench/bench_hybrid.py (figures in docs/search.md): words that
match are strong evidence (a title, a story keyword), so the lexical branch weighs more, and
its word-share filter keeps descriptions of a look ("dark red poster with a face") from
being taken over by movies that merely share one word with them.

The lexical branch's own ranking is asked for in the same batch as the fused query, on
every rung of the paging ladder (one call to Qdrant costs measurably less than two): it
tells each fused hit whether the lexical branch returned it (`found_by`), and when it is
empty (no movie under the filter holds enough of the query's words, as for most
descriptions of a look) the fused ranking is the vector branch's with reciprocal-rank
scores (1, 1/2, 1/3 ...) that say nothing about the match. The answer is then the vector
search itself, with its cosine scores.

Weighted RRF ties exactly (with the default weights the 12th text match and the first
poster by look both score 1), and Qdrant orders tied points as it likes, also when it cuts
its answer at the limit. The fused query therefore asks for every candidate of both
branches (`fused_limit`) and the rung's window is cut here, tied scores ordered by movie id
(`fused_window`): every call, and every page, sees one order, across the rung's edge too.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any, Protocol

from poster_index.payload import payload_to_poster
from poster_index.plan import laddered, rung_windows
from poster_index.tuning import IndexTuning
from postersearch.domain import SearchHit

BRANCH_VECTOR = "vector"
BRANCH_TEXT = "text"


@dataclass(frozen=True)
class FusionWeights:
    """Weighted reciprocal rank fusion of the two branches.

    Attributes:
        vector: Weight of the image vector branch.
        text: Weight of the lexical (BM25) branch.
        k: Qdrant's RRF constant (see `rrf_share`).
    """

    vector: float = 1.0
    text: float = 12.0
    k: int = 1

    def as_list(self) -> list[float]:
        """The weights in prefetch order: vector branch first, lexical branch second."""
        return [self.vector, self.text]


DEFAULT_FUSION = FusionWeights()


def rrf_share(rank: int, weight: float, k: int) -> float:
    """What a poster at 0-based rank of a branch of this weight adds to its fused score."""
    return 1.0 / (k - 1 + (rank + 1) / weight)


def found_by(
    point_id: Hashable,
    fused_score: float,
    text_ranks: Mapping[Any, int],
    depth: int,
    fusion: FusionWeights,
) -> tuple[str, ...]:
    """The branches that returned a fused hit.

    The lexical ranks come from the same batch as the fused query; whatever the fused
    score holds beyond the lexical share came from the vector branch. Its smallest share,
    that of the last rank, is far above float rounding, so half of it separates the cases.

    Args:
        point_id: The hit's point id.
        fused_score: Its score in the fused ranking.
        text_ranks: 0-based rank in the lexical branch of every point that branch returned.
        depth: Candidates per branch.
        fusion: The weights the query was fused with.
    """
    rank = text_ranks.get(point_id)
    text_share = 0.0 if rank is None else rrf_share(rank, fusion.text, fusion.k)
    least_vector_share = rrf_share(depth - 1, fusion.vector, fusion.k)
    branches: list[str] = []
    if fused_score - text_share > least_vector_share / 2:
        branches.append(BRANCH_VECTOR)
    if rank is not None:
        branches.append(BRANCH_TEXT)
    return tuple(branches)


def in_fixed_order(fused: list[SearchHit]) -> list[SearchHit]:
    """Fused hits, tied scores ordered by movie id (see the module docstring)."""
    return sorted(fused, key=lambda hit: (-hit.score, hit.poster.movie_id))


class FusedPoint(Protocol):
    """One point of a fused query's answer, as either Qdrant client returns it."""

    @property
    def id(self) -> Any:
        """Its Qdrant point id."""
        ...

    @property
    def score(self) -> float:
        """Its fused score."""
        ...

    @property
    def payload(self) -> Mapping[str, Any] | None:
        """Its payload where the query returned it; None where it is read afterwards, for
        the points a rung keeps only."""
        ...


# Reads the payloads of the given point ids (a point deleted meanwhile is left out).
PayloadReader = Callable[[list[Hashable]], Mapping[Hashable, Mapping[str, Any]]]


def fused_limit(window: int) -> int:
    """How many points a rung's fused query asks for: all its candidates.

    Each branch brings at most `window` posters, so the fused answer holds at most twice
    that; with every candidate in hand the rung's window is cut here (`fused_window`), not
    by Qdrant, whose cut between tied points changes from call to call.
    """
    return 2 * window


def window_candidates(points: Sequence[FusedPoint], window: int) -> list[FusedPoint]:
    """The points that can hold a rung's `window` ranks: the best `window` by score and
    every point tied with the last of them.

    Args:
        points: A fused query's whole answer, best first (ties in any order).
        window: The rung's window.
    """
    if len(points) <= window:
        return list(points)
    last_score = points[window - 1].score
    return [p for p in points if p.score >= last_score]


@dataclass(frozen=True)
class RungAnswer:
    """What one batch of a rung returns.

    Attributes:
        lexical_ids: The point ids of the lexical branch's top `window`, best first.
        fused: The fused query's whole answer (`fused_limit`), best first.
    """

    lexical_ids: Sequence[Hashable]
    fused: Sequence[FusedPoint]


def fused_window(
    answer: RungAnswer, window: int, fusion: FusionWeights, payloads: PayloadReader
) -> list[SearchHit]:
    """A rung's top `window` fused hits, tied scores ordered by movie id, also across the
    window's edge.

    Args:
        answer: The rung's batch: the lexical branch's ranking and the fused query's whole
            answer (`fused_limit`).
        window: The rung's window.
        fusion: The weights the query was fused with.
        payloads: Reads the payloads the query did not return.
    """
    text_ranks = {point: rank for rank, point in enumerate(answer.lexical_ids)}
    # Each id read once: Qdrant Edge builds a new UUID object on every read.
    kept = [(point.id, point) for point in window_candidates(answer.fused, window)]
    unread = [point_id for point_id, point in kept if point.payload is None]
    read = payloads(unread) if unread else {}
    hits = []
    for point_id, point in kept:
        payload = point.payload if point.payload is not None else read.get(point_id)
        if payload is None:
            continue  # deleted since the query
        branches = found_by(point_id, point.score, text_ranks, window, fusion)
        hits.append(SearchHit(payload_to_poster(payload), point.score, branches))
    return in_fixed_order(hits)[:window]


def ranked_hybrid(
    rung: Callable[[int], RungAnswer],
    payloads: PayloadReader,
    vector_page: Callable[[], list[SearchHit]],
    tuning: IndexTuning,
    limit: int,
    offset: int,
    fusion: FusionWeights,
) -> list[SearchHit]:
    """Ranks offset .. offset+limit-1 of a hybrid query's long answer, for either backend.

    Whether the lexical branch is empty does not depend on the window, so every page of one
    query takes the same route and pages add up on both.

    Args:
        rung: The lexical branch's ranking and the fused query's whole answer for a window,
            asked in one batch.
        payloads: Reads the payloads the fused query did not return.
        vector_page: The vector search's page (offset, limit), cosine scores.
        tuning: Gives the paging ladder's windows.
        limit: Page size.
        offset: Ranks skipped.
        fusion: The weights the query is fused with.
    """
    first_window = rung_windows(tuning, offset + limit)[0]
    first = rung(first_window)
    if not first.lexical_ids:
        return [replace(hit, found_by=(BRANCH_VECTOR,)) for hit in vector_page()]

    def fetch(window: int) -> list[SearchHit]:
        answer = first if window == first_window else rung(window)
        return fused_window(answer, window, fusion, payloads)

    return laddered(fetch, tuning, offset + limit)[offset : offset + limit]
