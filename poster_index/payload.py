"""How a poster is stored as a Qdrant point: its id and payload, the same for both backends."""

from __future__ import annotations

import uuid
from collections.abc import Callable, Iterable, Mapping, Sequence
from typing import Any

from poster_index.base import ModelMismatchError
from postersearch.domain import Poster, PosterVector

# Fixed namespace so that every process, backend and run derives the same point id.
_POINT_NAMESPACE = uuid.uuid5(uuid.NAMESPACE_URL, "https://poster-search/movie")

FIELD_MOVIE_ID = "movie_id"
FIELD_TITLE = "title"
FIELD_GENRES = "genres"
FIELD_YEAR = "year"
FIELD_RATING = "rating"
FIELD_POSTER = "poster"
FIELD_CAPTION = "caption"
# Ids asked of Qdrant per retrieve call when checking which movies are stored.
_RETRIEVE_CHUNK = 1_000


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
    never match them; a poster not captioned yet has no caption field, which is how the
    captioning step finds it.
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
    if poster.caption is not None:
        payload[FIELD_CAPTION] = poster.caption
    return payload


def payload_to_poster(payload: Mapping[str, Any]) -> Poster:
    """Rebuilds a Poster from a stored payload."""
    year = payload.get(FIELD_YEAR)
    rating = payload.get(FIELD_RATING)
    caption = payload.get(FIELD_CAPTION)
    return Poster(
        movie_id=str(payload[FIELD_MOVIE_ID]),
        title=str(payload.get(FIELD_TITLE, "")),
        genres=tuple(str(g) for g in payload.get(FIELD_GENRES) or ()),
        year=int(year) if year is not None else None,
        rating=float(rating) if rating is not None else None,
        poster=str(payload.get(FIELD_POSTER, "")),
        caption=str(caption) if caption is not None else None,
    )


def check_dimensions(items: Sequence[PosterVector], dimension: int) -> None:
    """Refuses a batch holding a vector of another size than the collection's.

    Raises:
        ModelMismatchError: Naming the first movie whose vector has the wrong size.
    """
    for item in items:
        if len(item.vector) != dimension:
            raise ModelMismatchError(
                f"movie {item.poster.movie_id!r} has a {len(item.vector)}-d vector; "
                f"the collection holds {dimension}-d vectors"
            )


def stored_movie_ids(
    retrieve: Callable[[list[str]], Iterable[str]], movie_ids: Iterable[str]
) -> set[str]:
    """The subset of movie_ids stored, asked of Qdrant a chunk of point ids at a time.

    Args:
        retrieve: Returns which of the given point ids exist.
        movie_ids: The movies to look for.
    """
    by_point = {point_id(m): m for m in movie_ids}
    wanted = list(by_point)
    found: set[str] = set()
    for start in range(0, len(wanted), _RETRIEVE_CHUNK):
        found.update(by_point[p] for p in retrieve(wanted[start : start + _RETRIEVE_CHUNK]))
    return found
