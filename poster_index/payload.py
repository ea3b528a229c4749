"""How a poster is stored as a Qdrant point: its id and payload, the same for both backends."""

from __future__ import annotations

import uuid
from collections.abc import Mapping
from typing import Any

from postersearch.domain import Poster

# Fixed namespace so that every process, backend and run derives the same point id.
_POINT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://poster-search/movie")

FIELD_MOVIE_ID = "movie_id"
FIELD_TITLE = "title"
FIELD_GENRES = "genres"
FIELD_YEAR = "year"
FIELD_RATING = "rating"
FIELD_POSTER = "poster"


def point_id(movie_id: str) -> str:
    """The point id of a movie: uuid5 of its movie id, so re-writing a movie keeps one point.

    Args:
        movie_id: The dataset's movie id.

    Returns:
        The UUID as a string, the form both Qdrant clients accept.
    """
    return str(uuid.uuid5(_POINT_NAMESPACE, movie_id))


def poster_to_payload(poster: Poster) -> dict[str, Any]:
    """The payload stored with a poster's vector.

    Unknown year and rating are left out rather than stored as null, so range conditions
    never match them.
    """
    payload: dict[str, Any] = {
        FIELD_MOVIE_ID: poster.movie_id,
        FIELD_TITLE: poster.title,
        FIELD_GENRES: list(poster.genres),
        FIELD_POSTER: poster.poster,
    }
    if poster.year is not None:
        payload[FIELD_YEAR] = int(poster.year)
    if poster.rating is not None:
        payload[FIELD_RATING] = float(poster.rating)
    return payload


def payload_to_poster(payload: Mapping[str, Any]) -> Poster:
    """Rebuilds a Poster from a stored payload."""
    year = payload.get(FIELD_YEAR)
    rating = payload.get(FIELD_RATING)
    return Poster(
        movie_id=str(payload[FIELD_MOVIE_ID]),
        title=str(payload.get(FIELD_TITLE, "")),
        genres=tuple(str(g) for g in payload.get(FIELD_GENRES) or ()),
        year=int(year) if year is not None else None,
        rating=float(rating) if rating is not None else None,
        poster=str(payload.get(FIELD_POSTER, "")),
    )
