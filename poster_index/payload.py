"""How a poster is stored as a Qdrant point: its id and payload, the same for both backends."""

from __future__ import annotations

import hashlib
import json
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
FIELD_ORIGINAL_TITLE = "original_title"
FIELD_ALTERNATIVE_TITLES = "alternative_titles"
FIELD_OVERVIEW = "overview"
FIELD_TAGLINE = "tagline"
FIELD_KEYWORDS = "keywords"
FIELD_TAGS = "tags"
# An English description of the poster image, written into the payload by the captioning
# step; read here only as text for lexical search.
FIELD_CAPTION = "caption"
# What a sync compares to decide whether a stored poster is current: a hash of the
# dataset's metadata as stored, and a hash of the poster file the vector was encoded from.
FIELD_METADATA_HASH = "metadata_hash"
FIELD_IMAGE_HASH = "image_hash"
HASH_FIELDS = (FIELD_METADATA_HASH, FIELD_IMAGE_HASH)
# Written into the payload by steps after ingest (captioning), not by the dataset: a
# re-ingest that carries no value for them keeps the stored one.
INDEX_OWNED_FIELDS = (FIELD_CAPTION,)


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
    never match them; empty text fields are left out too, and a poster not captioned
    yet has no caption field, which is how the captioning step finds it.
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
    texts: tuple[tuple[str, str], ...] = (
        (FIELD_ORIGINAL_TITLE, poster.original_title),
        (FIELD_OVERVIEW, poster.overview),
        (FIELD_TAGLINE, poster.tagline),
    )
    payload.update((name, value) for name, value in texts if value)
    lists: tuple[tuple[str, tuple[str, ...]], ...] = (
        (FIELD_ALTERNATIVE_TITLES, poster.alternative_titles),
        (FIELD_KEYWORDS, poster.keywords),
        (FIELD_TAGS, poster.tags),
    )
    payload.update((name, list(values)) for name, values in lists if values)
    if poster.caption is not None:
        payload[FIELD_CAPTION] = poster.caption
    return payload


def _strings(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        return (value,) if value else ()
    return tuple(str(v) for v in value or ())


def metadata_hash(poster: Poster) -> str:
    """A hash of everything `poster_to_payload` stores for poster, the hashes left out.

    Computed over the payload itself, so a field added to the payload counts at once.
    """
    payload = {k: v for k, v in poster_to_payload(poster).items() if k not in HASH_FIELDS}
    text = json.dumps(payload, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.blake2b(text.encode("utf-8"), digest_size=16).hexdigest()


def image_hash(data: bytes) -> str:
    """A hash of a poster file's bytes: the vector stays valid while it is unchanged."""
    return hashlib.blake2b(data, digest_size=16).hexdigest()


def point_payload(
    poster: Poster, image_digest: str | None, stored: Mapping[str, Any] | None = None
) -> dict[str, Any]:
    """The full payload of a point: the poster's fields, its hashes, and index-owned fields.

    Args:
        poster: The dataset's poster.
        image_digest: `image_hash` of the file the vector was encoded from; None when
            unknown (then no hash is recorded and the next sync re-checks the point).
        stored: The point's payload as stored, if any; index-owned fields the poster does
            not set are kept from it.
    """
    payload = poster_to_payload(poster)
    payload[FIELD_METADATA_HASH] = metadata_hash(poster)
    if image_digest is not None:
        payload[FIELD_IMAGE_HASH] = image_digest
    for name in INDEX_OWNED_FIELDS:
        if name not in payload and stored is not None and name in stored:
            payload[name] = stored[name]
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
        original_title=str(payload.get(FIELD_ORIGINAL_TITLE) or ""),
        alternative_titles=_strings(payload.get(FIELD_ALTERNATIVE_TITLES)),
        overview=str(payload.get(FIELD_OVERVIEW) or ""),
        tagline=str(payload.get(FIELD_TAGLINE) or ""),
        keywords=_strings(payload.get(FIELD_KEYWORDS)),
        tags=_strings(payload.get(FIELD_TAGS)),
        caption=str(caption) if caption is not None else None,
    )
