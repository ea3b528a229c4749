"""The search plan: how a nearest-neighbour query under a filter is answered, on either backend.

Both backends answer through `planned_search`, so the rules below hold for Qdrant Edge and for
a Qdrant server alike; each backend only turns a `Walk` into its own client's search call.

Route. Qdrant's own planner picks, inside each segment, between walking the HNSW graph and
scanning the posters a filter lets through; its threshold (`IndexTuning.full_scan_kb`) is by
default a whole segment, so every filtered query is answered by scanning, in each segment, the
quantized copy (`IndexTuning.quantization`) of the posters that pass and rescoring the best
`oversampling` x the window with the float32 vectors, and only unfiltered queries walk the
graph. The bound is per segment and
segments have a fixed size, so the decision is the same at 80k and at 1M posters.

Why not the graph for filters. A filter that correlates with what posters look like (a genre
the query's look-alikes never have, or the commonest genre, which is scattered thinly through
the query's own cluster) leaves a filtered graph walk stranded among posters that fail it:
plain filtered HNSW fell to recall@10 0.50-0.77 on such collections; Qdrant's ACORN, which
walks through the neighbours of the neighbours that fail, kept recall but cost more than
Qdrant's exact search for filters keeping 30-60% of the posters, and the quantized scan costs
a fifth to a half of exact search's float32 one (docs/index.md). ACORN is still asked for whenever a
filtered query walks the graph (a tuning with a smaller threshold, or a segment a filter lets
almost everything through). Qdrant's exact search over float32 (`IndexTuning.exact_max_share`)
is kept as an option and off by default.

Pages. A graph walk is only deterministic for fixed parameters: asking for 20 results walks
differently from asking for 10 (the ef, and the quantized candidates rescored, grow with the
limit), so pages fetched one by one used to repeat and skip posters. Here every page is cut from
one long answer: a ladder of windows (`IndexTuning.page_window` doubled at each rung), each
answered by one walk with fixed parameters; a rung adds the posters of its walk not already
ranked, in order.
A page reads the rungs it needs, and a page of a deeper rung reads the rungs before it, so the
same ranks always come from the same walks: pages add up to the long answer, with no repeats and
no gaps. Rungs deeper than `IndexTuning.graph_max_window` are exact searches. A walk that
returns fewer posters than its window ends the answer (the filter lets no more through that
the walk can reach).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, replace
from typing import Protocol

from poster_index.tuning import IndexTuning
from postersearch.domain import SearchFilter, SearchHit


@dataclass(frozen=True)
class Walk:
    """One Qdrant search with fixed parameters, returning the top `limit` posters.

    Attributes:
        limit: Results to return (the whole window of a rung; no offset).
        exact: Score every poster that passes the filter (no graph).
        hnsw_ef: Graph candidates kept per segment (at least `limit`).
        acorn: Let Qdrant use ACORN for a filtered walk.
        oversampling: With quantized vectors, how many times `limit` candidates are rescored with
            the float32 vectors (the answer's scores and order are the float32 ones).
        quantized: Choose the candidates on the quantized copy (False: score float32 only).
    """

    limit: int
    exact: bool
    hnsw_ef: int
    acorn: bool
    oversampling: float
    quantized: bool = True


class WalkRunner(Protocol):
    """What a backend does for the plan: run one walk."""

    def __call__(
        self, vector: Sequence[float], flt: SearchFilter, exclude_movie_id: str | None, walk: Walk
    ) -> list[SearchHit]:
        """The top `walk.limit` posters nearest to vector passing flt, best first."""
        ...


def rung_windows(tuning: IndexTuning, depth: int) -> list[int]:
    """The window of each rung up to the one that holds rank `depth - 1`."""
    windows = [tuning.page_window]
    while windows[-1] < depth:
        windows.append(windows[-1] * 2)
    return windows


class ShareOf(Protocol):
    """What a backend estimates for the plan: the share of the collection a filter keeps."""

    def __call__(self, flt: SearchFilter) -> float:
        """Qdrant's estimate (from the payload indexes) of the posters passing flt, over all."""
        ...


def exact_route(tuning: IndexTuning, flt: SearchFilter, share_of: ShareOf) -> bool:
    """Whether a filtered query is answered by exact search rather than graph walks.

    Exact search reads every poster the filter keeps, so its cost is the share times the
    collection; the graph's is walks over segments of a fixed size, also in proportion to the
    collection. Their ratio does not change with the size, so the bound is a share.
    """
    if flt.is_empty or tuning.exact_max_share <= 0:
        return False  # no estimate asked for: the route is Qdrant's
    return share_of(flt) <= tuning.exact_max_share


def walk_for(tuning: IndexTuning, window: int, filtered: bool, exact: bool = False) -> Walk:
    """The walk of one rung: exact on the exact route and past graph_max_window, else the
    graph (ACORN when filtered)."""
    return Walk(
        limit=window,
        exact=exact or window > tuning.graph_max_window,
        hnsw_ef=max(tuning.hnsw_ef, window),
        acorn=filtered and tuning.acorn,
        oversampling=tuning.oversampling,
    )


def recommend_walk(walk: Walk) -> Walk:
    """The walk of a recommend query ("not like these"): scored on float32 vectors only.

    Qdrant's best-score rule ranks a poster by its similarity to the query when that beats its
    similarity to every negative, and behind all such posters otherwise: a cliff where the two
    are equal. A quantized estimate can carry a poster across it, to the end of the ranking,
    where rescoring the best candidates never sees it; the float32 scores cannot.
    """
    return replace(walk, quantized=False)


def laddered(
    fetch: Callable[[int], list[SearchHit]], tuning: IndexTuning, depth: int
) -> list[SearchHit]:
    """The first `depth` ranks of the long answer built from the rungs' lists.

    Args:
        fetch: The top `window` results of one rung's query (fixed parameters per window).
        tuning: Gives the first window.
        depth: How many ranks are needed.

    Returns:
        At least `depth` ranks, or fewer when a rung came back short: a query that returns
        fewer results than its window has every result it can reach, so the answer ends
        there, the same for every page.
    """
    ranked: list[SearchHit] = []
    seen: set[str] = set()
    previous = 0
    for window in rung_windows(tuning, depth):
        hits = fetch(window)
        fresh = [h for h in hits if h.poster.movie_id not in seen][: window - previous]
        ranked.extend(fresh)
        seen.update(h.poster.movie_id for h in fresh)
        if len(ranked) >= depth or len(hits) < window:
            break
        previous = window
    return ranked


def planned_search(
    run: WalkRunner,
    share_of: ShareOf,
    tuning: IndexTuning,
    vector: Sequence[float],
    flt: SearchFilter,
    limit: int,
    offset: int = 0,
    exclude_movie_id: str | None = None,
) -> list[SearchHit]:
    """Ranks offset .. offset+limit-1 of the long answer (see the module docstring).

    Args:
        run: The backend's walk.
        share_of: The backend's estimate of the share a filter keeps.
        tuning: The search parameters.
        vector: The query vector.
        flt: The filter every poster must pass.
        limit: Page size.
        offset: Rank of the page's first poster.
        exclude_movie_id: A movie to leave out (the query movie of a similar search).
    """
    filtered = not flt.is_empty or exclude_movie_id is not None
    exact = exact_route(tuning, flt, share_of)

    def fetch(window: int) -> list[SearchHit]:
        return run(vector, flt, exclude_movie_id, walk_for(tuning, window, filtered, exact))

    return laddered(fetch, tuning, offset + limit)[offset : offset + limit]


class BrowseCalls(Protocol):
    """What a backend does to list posters by rating."""

    def rated(self, flt: SearchFilter, limit: int) -> list[SearchHit]:
        """The top `limit` rated posters passing flt, highest rating first; score the rating."""
        ...

    def unrated(self, flt: SearchFilter, limit: int, offset: int) -> list[SearchHit]:
        """Posters passing flt that have no rating, in point id order; score 0."""
        ...


def planned_browse(
    calls: BrowseCalls, tuning: IndexTuning, flt: SearchFilter, limit: int, offset: int = 0
) -> list[SearchHit]:
    """Posters passing flt, highest rating first, then the unrated ones.

    Posters of equal rating come back from Qdrant's order_by in an order that depends on the
    limit, so the rated ones are cut from the paging ladder like a search; the unrated ones
    (which order_by skips) follow in point id order, a list that pages by itself.
    """
    depth = offset + limit
    rated = laddered(lambda window: calls.rated(flt, window), tuning, depth)
    if len(rated) >= depth:
        return rated[offset:depth]
    # The ladder came back short: `rated` holds every rated poster passing flt.
    first_unrated = max(0, offset - len(rated))
    return rated[offset:] + calls.unrated(flt, depth - max(offset, len(rated)), first_unrated)
