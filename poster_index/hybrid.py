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

The lexical branch's own ranking is asked for first, on every rung of the paging ladder:
it tells each fused hit whether the lexical branch returned it (`found_by`), and when it is
empty (no movie under the filter holds enough of the query's words, as for most
descriptions of a look) the fused ranking would be the vector branch's with reciprocal-rank
scores (1, 1/2, 1/3 ...) that say nothing about the match. The answer is then the vector
search itself, with its cosine scores, and costs no fused query.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping, Sequence
from dataclasses import dataclass, replace
from typing import Any

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
    """One rung's fused hits, tied scores ordered by movie id.

    Weighted RRF ties exactly (with the default weights the 12th text match and the first
    poster by look both score 1), and Qdrant returns tied points in no fixed order: the
    movie id orders them, so that every page of a query sees one order.
    """
    return sorted(fused, key=lambda hit: (-hit.score, hit.poster.movie_id))


def ranked_hybrid(
    lexical_ids: Callable[[int], Sequence[Hashable]],
    fused_hits: Callable[[int, Mapping[Any, int]], list[SearchHit]],
    vector_page: Callable[[], list[SearchHit]],
    tuning: IndexTuning,
    limit: int,
    offset: int,
) -> list[SearchHit]:
    """Ranks offset .. offset+limit-1 of a hybrid query's long answer, for either backend.

    Whether the lexical branch is empty does not depend on the window, so every page of one
    query takes the same route and pages add up on both.

    Args:
        lexical_ids: The point ids of the lexical branch's top `window`, best first.
        fused_hits: The top `window` of the fused query, given the lexical branch's 0-based
            rank of every point it returned (for `found_by`).
        vector_page: The vector search's page (offset, limit), cosine scores.
        tuning: Gives the paging ladder's windows.
        limit: Page size.
        offset: Ranks skipped.
    """
    first_window = rung_windows(tuning, offset + limit)[0]
    first_ids = lexical_ids(first_window)
    if not first_ids:
        return [replace(hit, found_by=(BRANCH_VECTOR,)) for hit in vector_page()]

    def fetch(window: int) -> list[SearchHit]:
        ids = first_ids if window == first_window else lexical_ids(window)
        return in_fixed_order(fused_hits(window, {point: rank for rank, point in enumerate(ids)}))

    return laddered(fetch, tuning, offset + limit)[offset : offset + limit]
