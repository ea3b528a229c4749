"""Conversions between the search proto messages and the domain types.

Every front door maps a request here: the gRPC servicer hands its messages to
`run_search`, `run_search_by_image` and `run_similar`, and the web JSON API parses its
query strings and bodies into the same messages first (`web_ui.params`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Protocol

from postersearch.domain import Poster, SearchFilter, SearchHit, SearchMode
from postersearch.encoding import TextTokens
from postersearch.v1 import search_pb2
from search_service.core import SearchPage
from search_service.steering import Steering, steering
from search_service.translation import Translation

if TYPE_CHECKING:
    from search_service.core import PosterSearch

_MODE_TO_PB: dict[SearchMode, search_pb2.SearchMode] = {
    SearchMode.HYBRID: search_pb2.SEARCH_MODE_HYBRID,
    SearchMode.VECTOR: search_pb2.SEARCH_MODE_VECTOR,
    SearchMode.TEXT: search_pb2.SEARCH_MODE_TEXT,
}
_MODE_FROM_PB = {value: mode for mode, value in _MODE_TO_PB.items()}


def mode_from_pb(value: search_pb2.SearchMode) -> SearchMode | None:
    """The domain mode of a proto SearchMode; None for UNSPECIFIED (the default).

    A number outside the enum (a newer client) is answered in the default mode.
    """
    return _MODE_FROM_PB.get(value)


def mode_to_pb(mode: SearchMode | None) -> search_pb2.SearchMode:
    """The proto SearchMode of a domain mode (UNSPECIFIED for None)."""
    return search_pb2.SEARCH_MODE_UNSPECIFIED if mode is None else _MODE_TO_PB[mode]


class _Paged(Protocol):
    """The paging fields every search request carries."""

    limit: int
    offset: int

    def HasField(self, field_name: str) -> bool: ...


def filter_from_pb(msg: search_pb2.Filter) -> SearchFilter:
    """The domain filter of a proto Filter; unset optional fields do not filter."""
    return SearchFilter(
        genres_any=tuple(msg.genres_any),
        genres_all=tuple(msg.genres_all),
        genres_none=tuple(msg.genres_none),
        year_from=msg.year_from if msg.HasField("year_from") else None,
        year_to=msg.year_to if msg.HasField("year_to") else None,
        min_rating=msg.min_rating if msg.HasField("min_rating") else None,
    )


class _Steered(Protocol):
    """The steering fields of every search request (`exclude`, `exclude_movie_ids`, `diverse`)."""

    @property
    def exclude(self) -> Sequence[str]: ...

    @property
    def exclude_movie_ids(self) -> Sequence[str]: ...

    @property
    def diverse(self) -> bool: ...


def steering_from_pb(msg: _Steered) -> Steering:
    """The steering of a search request: exclusions and a diverse page.

    Raises:
        InvalidRequestError: Too many exclusions.
    """
    return steering(msg.exclude, msg.exclude_movie_ids, msg.diverse)


def filter_to_pb(flt: SearchFilter) -> search_pb2.Filter:
    """The proto Filter of a domain filter (used by the command-line client)."""
    msg = search_pb2.Filter(
        genres_any=flt.genres_any, genres_all=flt.genres_all, genres_none=flt.genres_none
    )
    if flt.year_from is not None:
        msg.year_from = flt.year_from
    if flt.year_to is not None:
        msg.year_to = flt.year_to
    if flt.min_rating is not None:
        msg.min_rating = flt.min_rating
    return msg


def page_args(request: _Paged) -> tuple[int | None, int | None]:
    """The request's limit and offset, None where unset (so the defaults apply).

    An explicit 0 is kept, so that ``limit: 0`` is refused rather than silently defaulted.
    """
    limit = request.limit if request.HasField("limit") else None
    offset = request.offset if request.HasField("offset") else None
    return limit, offset


async def run_search(search: PosterSearch, request: search_pb2.SearchRequest) -> SearchPage:
    """Answers a SearchRequest: posters matching a description, or browsing by filter.

    Raises:
        SearchError: What PosterSearch refuses or fails at.
    """
    limit, offset = page_args(request)
    return await search.search(
        request.query,
        filter_from_pb(request.filter),
        limit,
        offset,
        mode_from_pb(request.mode),
        steering_from_pb(request),
        min_probability=min_probability_from_pb(request),
        translate=not request.no_translate,
    )


async def run_search_by_image(
    search: PosterSearch, request: search_pb2.SearchByImageRequest
) -> SearchPage:
    """Answers a SearchByImageRequest: posters that look like the image.

    Raises:
        SearchError: What PosterSearch refuses or fails at.
    """
    limit, offset = page_args(request)
    return await search.search_by_image(
        request.image,
        filter_from_pb(request.filter),
        limit,
        offset,
        request.query,
        steering_from_pb(request),
    )


async def run_similar(
    search: PosterSearch, request: search_pb2.SimilarPostersRequest
) -> SearchPage:
    """Answers a SimilarPostersRequest: posters that look like a stored movie's poster.

    Raises:
        SearchError: What PosterSearch refuses or fails at.
    """
    limit, offset = page_args(request)
    return await search.similar(
        request.movie_id,
        filter_from_pb(request.filter),
        limit,
        offset,
        request.query,
        steering_from_pb(request),
    )


def hit_to_pb(hit: SearchHit) -> search_pb2.SearchHit:
    """One result as a proto SearchHit."""
    poster = hit.poster
    msg = search_pb2.Poster(
        movie_id=poster.movie_id,
        title=poster.title,
        genres=poster.genres,
        poster=poster.poster,
    )
    if poster.year is not None:
        msg.year = poster.year
    if poster.rating is not None:
        msg.rating = poster.rating
    out = search_pb2.SearchHit(poster=msg, score=hit.score, found_by=hit.found_by)
    if hit.probability is not None:
        out.probability = hit.probability
    return out


def min_probability_from_pb(request: search_pb2.SearchRequest) -> float | None:
    """The request's probability cutoff; None where unset."""
    return request.min_probability if request.HasField("min_probability") else None


def page_to_pb(page: SearchPage) -> search_pb2.SearchResponse:
    """A page of results as a proto SearchResponse."""
    msg = search_pb2.SearchResponse(
        hits=[hit_to_pb(hit) for hit in page.hits],
        model_id=page.model_id,
        mode=mode_to_pb(page.mode),
        notice=page.notice,
        no_good_match=page.no_good_match,
    )
    if page.translation is not None:
        t = page.translation
        msg.translation.CopyFrom(
            search_pb2.Translation(
                source=t.source, text=t.text, model_id=t.model_id, scripts=t.scripts
            )
        )
    if page.query_tokens is not None:
        q = page.query_tokens
        msg.query_tokens.CopyFrom(
            search_pb2.QueryTokens(tokens=q.tokens, read=q.read, read_text=q.read_text)
        )
    return msg


def genres_to_pb(counts: Mapping[str, int]) -> search_pb2.ListGenresResponse:
    """Genre counts, most common first (ties by name), as a proto ListGenresResponse."""
    ordered = sorted(counts.items(), key=lambda item: (-item[1], item[0]))
    return search_pb2.ListGenresResponse(
        genres=[search_pb2.GenreCount(genre=name, count=count) for name, count in ordered]
    )


def page_from_pb(msg: search_pb2.SearchResponse) -> SearchPage:
    """The domain page of a proto SearchResponse (used by the command-line client)."""
    hits = [
        SearchHit(
            poster=Poster(
                movie_id=hit.poster.movie_id,
                title=hit.poster.title,
                genres=tuple(hit.poster.genres),
                year=hit.poster.year if hit.poster.HasField("year") else None,
                rating=hit.poster.rating if hit.poster.HasField("rating") else None,
                poster=hit.poster.poster,
            ),
            score=hit.score,
            found_by=tuple(hit.found_by),
            probability=hit.probability if hit.HasField("probability") else None,
        )
        for hit in msg.hits
    ]
    translation = None
    if msg.HasField("translation"):
        t = msg.translation
        translation = Translation(t.source, t.text, t.model_id, tuple(t.scripts))
    tokens = None
    if msg.HasField("query_tokens"):
        q = msg.query_tokens
        tokens = TextTokens(q.tokens, q.read, q.read_text)
    return SearchPage(
        hits,
        msg.model_id,
        mode_from_pb(msg.mode),
        msg.notice,
        translation,
        no_good_match=msg.no_good_match,
        query_tokens=tokens,
    )
