"""Turns query strings and JSON bodies into search arguments, and results into JSON.

Only the shape of the input is checked here (is it a number, a list of strings...).
Whether the values make sense (year range, rating scale, page size, known genres) is
PosterSearch's decision, so the web page and the gRPC service refuse exactly the same
requests with the same messages.

Field names are those of ``proto/postersearch/v1/search.proto``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from starlette.datastructures import QueryParams

from postersearch.domain import Poster, SearchFilter, SearchHit
from search_service.errors import InvalidRequestError
from search_service.steering import NO_STEERING, Steering, steering
from web_ui.files import PosterFiles

GENRE_FIELDS = ("genres_any", "genres_all", "genres_none")
FILTER_FIELDS = (*GENRE_FIELDS, "year_from", "year_to", "min_rating")
PAGE_FIELDS = ("limit", "offset")
# How a text query is matched; PosterSearch checks the value.
MODE_FIELD = "mode"
# Exclusions and a diverse page (repeatable in a query string, lists in JSON).
STEERING_LISTS = ("exclude", "exclude_movie_ids")
STEERING_FIELDS = (*STEERING_LISTS, "diverse")
# How a text query is understood: the probability cutoff and translation.
QUERY_FIELDS = ("min_probability", "no_translate")


@dataclass(frozen=True)
class SearchArgs:
    """What one search request asks for, before PosterSearch validates it."""

    query: str = ""
    flt: SearchFilter = field(default_factory=SearchFilter)
    limit: int | None = None
    offset: int | None = None
    mode: str | None = None
    steering: Steering = NO_STEERING
    min_probability: float | None = None
    translate: bool = True


def _as_mode(value: Any) -> str | None:
    if value is None or value == "":
        return None
    if not isinstance(value, str):
        raise InvalidRequestError(f"mode must be a string, got {value!r}")
    return value


def _as_int(name: str, value: Any) -> int | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be a whole number, got {value!r}")
    if isinstance(value, int):
        return value
    if isinstance(value, float) and value.is_integer():
        return int(value)
    if isinstance(value, str):
        try:
            return int(value.strip())
        except ValueError:
            pass
    raise InvalidRequestError(f"{name} must be a whole number, got {value!r}")


def _as_float(name: str, value: Any) -> float | None:
    if value is None or value == "":
        return None
    if isinstance(value, bool):
        raise InvalidRequestError(f"{name} must be a number, got {value!r}")
    if isinstance(value, int | float):
        number = float(value)
    elif isinstance(value, str):
        try:
            number = float(value.strip())
        except ValueError:
            raise InvalidRequestError(f"{name} must be a number, got {value!r}") from None
    else:
        raise InvalidRequestError(f"{name} must be a number, got {value!r}")
    if not math.isfinite(number):
        raise InvalidRequestError(f"{name} must be a finite number, got {value!r}")
    return number


def _as_bool(name: str, value: Any) -> bool:
    if value is None or value == "":
        return False
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"1", "true", "on", "yes"}:
        return True
    if isinstance(value, str) and value.strip().lower() in {"0", "false", "off", "no"}:
        return False
    raise InvalidRequestError(f"{name} must be true or false, got {value!r}")


def _as_texts(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError(f"{name} must be a list of strings, got {value!r}")
    return tuple(value)


def _steering_from(values: Mapping[str, Any]) -> Steering:
    return steering(
        _as_texts("exclude", values.get("exclude")),
        _as_texts("exclude_movie_ids", values.get("exclude_movie_ids")),
        _as_bool("diverse", values.get("diverse")),
    )


def _as_genres(name: str, value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise InvalidRequestError(f"{name} must be a list of genre names, got {value!r}")
    # Empty entries come from blank form fields; they name no genre.
    return tuple(item for item in value if item.strip())


def _filter_from(values: Mapping[str, Any]) -> SearchFilter:
    return SearchFilter(
        genres_any=_as_genres("genres_any", values.get("genres_any")),
        genres_all=_as_genres("genres_all", values.get("genres_all")),
        genres_none=_as_genres("genres_none", values.get("genres_none")),
        year_from=_as_int("year_from", values.get("year_from")),
        year_to=_as_int("year_to", values.get("year_to")),
        min_rating=_as_float("min_rating", values.get("min_rating")),
    )


def _refuse_unknown(keys: set[str], allowed: tuple[str, ...]) -> None:
    unknown = sorted(keys - set(allowed))
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise InvalidRequestError(f"unknown parameter {names}; accepted: {', '.join(allowed)}")


def args_from_query(params: QueryParams, *, with_query: bool = True) -> SearchArgs:
    """Reads a query string such as ``?query=red&genres_any=Horror&year_from=1980``.

    Genre parameters, ``exclude`` and ``exclude_movie_ids`` may repeat. Empty values count
    as unset, so a plain HTML form with blank fields can submit directly. Without
    with_query (an image or a similar movie), ``query`` is words that steer the look and
    there is no ``mode``.

    Raises:
        InvalidRequestError: An unknown parameter, or a value of the wrong type.
    """
    allowed = (
        "query",
        *((MODE_FIELD, *QUERY_FIELDS) if with_query else ()),
        *FILTER_FIELDS,
        *PAGE_FIELDS,
        *STEERING_FIELDS,
    )
    _refuse_unknown(set(params.keys()), allowed)
    values: dict[str, Any] = {key: params.get(key) for key in params}
    for key in (*GENRE_FIELDS, *STEERING_LISTS):
        values[key] = params.getlist(key)
    return SearchArgs(
        query=str(values.get("query") or ""),
        flt=_filter_from(values),
        limit=_as_int("limit", values.get("limit")),
        offset=_as_int("offset", values.get("offset")),
        mode=_as_mode(values.get(MODE_FIELD)),
        steering=_steering_from(values),
        min_probability=_as_float("min_probability", values.get("min_probability")),
        translate=not _as_bool("no_translate", values.get("no_translate")),
    )


def args_from_json(body: Any) -> SearchArgs:
    """Reads a JSON SearchRequest: ``{"query", "filter": {...}, "limit", "offset"}``.

    The filter fields may also sit at the top level, as in the query string form.

    Raises:
        InvalidRequestError: Not an object, an unknown field, or a value of the wrong type.
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    _refuse_unknown(
        set(body),
        (
            "query",
            MODE_FIELD,
            *QUERY_FIELDS,
            "filter",
            *FILTER_FIELDS,
            *PAGE_FIELDS,
            *STEERING_FIELDS,
        ),
    )
    nested = body.get("filter") or {}
    if not isinstance(nested, dict):
        raise InvalidRequestError("filter must be a JSON object")
    _refuse_unknown(set(nested), FILTER_FIELDS)
    both = sorted(set(nested) & set(body))
    if both:
        raise InvalidRequestError(f"{both[0]} is given both inside and outside filter")
    query = body.get("query") or ""
    if not isinstance(query, str):
        raise InvalidRequestError(f"query must be a string, got {query!r}")
    return SearchArgs(
        query=query,
        flt=_filter_from({**body, **nested}),
        limit=_as_int("limit", body.get("limit")),
        offset=_as_int("offset", body.get("offset")),
        mode=_as_mode(body.get(MODE_FIELD)),
        steering=_steering_from(body),
        min_probability=_as_float("min_probability", body.get("min_probability")),
        translate=not _as_bool("no_translate", body.get("no_translate")),
    )


def poster_json(poster: Poster, files: PosterFiles) -> dict[str, Any]:
    """A Poster message as JSON, plus ``image_url``: where the browser loads the image, and
    the words a page shows beside it (original title, overview, tagline, caption), which the
    payload returned with the hit already holds."""
    return {
        "movie_id": poster.movie_id,
        "title": poster.title,
        "year": poster.year,
        "genres": list(poster.genres),
        "rating": poster.rating,
        "poster": poster.poster,
        "image_url": files.image_url(poster.poster),
        "original_title": poster.original_title,
        "overview": poster.overview,
        "tagline": poster.tagline,
        "caption": poster.caption,
    }


def response_json(
    hits: list[SearchHit],
    model_id: str,
    files: PosterFiles,
    mode: str | None = None,
    notice: str = "",
    understanding: Mapping[str, Any] | None = None,
) -> dict[str, Any]:
    """A SearchResponse message as JSON (mode is null where no text query was matched).

    understanding holds the fields of how a text query was understood (translation,
    no_good_match, query_tokens), see `search_service.understanding`.
    """
    return {
        "hits": [
            {
                "poster": poster_json(hit.poster, files),
                "score": hit.score,
                "found_by": list(hit.found_by),
                "probability": hit.probability,
            }
            for hit in hits
        ],
        "model_id": model_id,
        "mode": mode,
        "notice": notice,
        **(understanding or {"translation": None, "no_good_match": False, "query_tokens": None}),
    }
