"""Checks on what a request asks for, before any model or index is touched.

Every check raises InvalidRequestError with a message that says what was wrong and what
would be accepted, so a person can fix the request without reading the code.
"""

from __future__ import annotations

import math
import re
import unicodedata
from collections.abc import Iterable, Mapping
from dataclasses import replace

from postersearch.domain import RATING_MAX, RATING_MIN, SearchFilter
from postersearch.text import is_blank, without_invisible
from search_service.errors import InvalidRequestError

_WHITESPACE = re.compile(r"\s+")
# Far more than any real filter (TMDB and MovieLens have 20 genres each); it bounds the
# work of a request and the length of the message that names its unknown genres.
MAX_FILTER_GENRES = 100
MAX_GENRE_CHARS = 100
# Known genres named in an "unknown genre" message before the rest are counted.
_LISTED_GENRES = 50


def normalise_query(text: str) -> str:
    """The query as it is encoded and cached: NFC, control and zero-width characters
    removed, whitespace collapsed, ends trimmed; "" when nothing readable is left.

    Case is kept: the tokenizer of the model may tell "Alien" from "alien", so the cache
    key must be exactly what the model sees.
    """
    text = _WHITESPACE.sub(" ", without_invisible(unicodedata.normalize("NFC", text))).strip()
    return "" if is_blank(text) else text


def check_filter_size(flt: SearchFilter) -> None:
    """Refuses a filter naming more genres, or longer genre names, than any collection has."""
    count = len(flt.genres_any) + len(flt.genres_all) + len(flt.genres_none)
    if count > MAX_FILTER_GENRES:
        raise InvalidRequestError(
            f"the filter names {count} genres; at most {MAX_FILTER_GENRES} are accepted"
        )
    longest = max((len(g) for g in flt.genres()), default=0)
    if longest > MAX_GENRE_CHARS:
        raise InvalidRequestError(
            f"a genre name is {longest} characters long; at most {MAX_GENRE_CHARS} are accepted"
        )


def check_query_length(text: str, max_chars: int) -> None:
    """Refuses a query longer than max_chars characters."""
    if len(text) > max_chars:
        raise InvalidRequestError(
            f"query is {len(text)} characters long; at most {max_chars} are accepted"
        )


def check_page(
    limit: int | None, offset: int | None, default_limit: int, max_limit: int, max_offset: int
) -> tuple[int, int]:
    """Resolves the page size and offset, refusing values outside their ranges.

    Returns:
        (limit, offset) with the defaults filled in.
    """
    resolved_limit = default_limit if limit is None else limit
    if not 1 <= resolved_limit <= max_limit:
        raise InvalidRequestError(f"limit must be between 1 and {max_limit}, got {limit}")
    resolved_offset = 0 if offset is None else offset
    if resolved_offset < 0:
        raise InvalidRequestError(f"offset must be 0 or more, got {offset}")
    if resolved_offset > max_offset:
        raise InvalidRequestError(
            f"offset must be at most {max_offset}, got {offset}; narrow the query with filters"
        )
    return resolved_limit, resolved_offset


def check_ranges(flt: SearchFilter) -> None:
    """Refuses an oversized filter, an empty year range and a rating off the 0-10 scale."""
    check_filter_size(flt)
    if flt.year_from is not None and flt.year_to is not None and flt.year_from > flt.year_to:
        raise InvalidRequestError(
            f"year_from ({flt.year_from}) is after year_to ({flt.year_to}); "
            "the range would match nothing"
        )
    if flt.min_rating is not None and (
        math.isnan(flt.min_rating) or not RATING_MIN <= flt.min_rating <= RATING_MAX
    ):
        raise InvalidRequestError(
            f"min_rating must be between {RATING_MIN:g} and {RATING_MAX:g}, got {flt.min_rating}"
        )


def resolve_genres(flt: SearchFilter, known: Mapping[str, int]) -> SearchFilter:
    """Maps the filter's genre names onto the collection's spelling.

    Names match case-insensitively ("horror" finds "Horror"), since the index compares
    genres exactly and people do not type capitals consistently.

    Raises:
        InvalidRequestError: A genre the collection does not hold; the message lists
            the genres it does hold.
    """
    if not flt.genres():
        return flt
    by_folded = {name.casefold(): name for name in known}
    unknown: list[str] = []

    def resolve(names: Iterable[str]) -> tuple[str, ...]:
        out: list[str] = []
        for name in names:
            found = by_folded.get(name.strip().casefold())
            if found is None:
                unknown.append(name)
            elif found not in out:
                out.append(found)
        return tuple(out)

    resolved = replace(
        flt,
        genres_any=resolve(flt.genres_any),
        genres_all=resolve(flt.genres_all),
        genres_none=resolve(flt.genres_none),
    )
    if unknown:
        names = ", ".join(repr(name) for name in unknown)
        if not known:
            raise InvalidRequestError(
                f"unknown genre {names}: the collection holds no genres yet (is it ingested?)"
            )
        names_sorted = sorted(known)
        listing = ", ".join(names_sorted[:_LISTED_GENRES])
        if len(names_sorted) > _LISTED_GENRES:
            listing += f" and {len(names_sorted) - _LISTED_GENRES} more (ListGenres lists them)"
        noun = "genre" if len(unknown) == 1 else "genres"
        raise InvalidRequestError(f"unknown {noun} {names}; known genres: {listing}")
    return resolved
