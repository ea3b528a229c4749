"""Reads the JSON API's query strings and JSON bodies as search proto messages, and writes
results as JSON.

A request becomes the message the gRPC service receives (SearchRequest,
SearchByImageRequest, SimilarPostersRequest) through the proto's JSON mapping
(`google.protobuf.json_format`), and `search_service.mapping` turns that message into
PosterSearch's arguments for both front doors. What is added here is only what a web
form needs on top of the proto's JSON: filter fields may sit at the top level
(``?genres_any=Horror&year_from=1980``), a query string repeats a parameter for a list
and writes booleans as ``1``/``true``/``on``, the mode is named as in responses
(``hybrid``, ``vector``, ``text``), and empty values count as unset. Whether the values
make sense (year range, rating scale, page size, known genres) is PosterSearch's
decision, so the web page and the gRPC service refuse the same requests.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from typing import Any, TypeVar, cast

from google.protobuf import json_format
from google.protobuf.descriptor import Descriptor, FieldDescriptor
from google.protobuf.message import Message
from starlette.datastructures import QueryParams

from postersearch.domain import Poster, SearchHit
from postersearch.v1 import search_pb2
from search_service.core import parse_mode
from search_service.errors import InvalidRequestError
from search_service.mapping import mode_to_pb
from web_ui.files import PosterFiles

M = TypeVar("M", bound=Message)

FILTER_FIELD = "filter"
MODE_FIELD = "mode"
_TRUE = frozenset({"1", "true", "on", "yes"})
_FALSE = frozenset({"0", "false", "off", "no"})


def _by_name(fields: Iterable[FieldDescriptor]) -> dict[str, FieldDescriptor]:
    return {field.name: field for field in fields}


# The stubs type a descriptor as either implementation's; both have the same fields.
_FILTER_DESCRIPTOR = cast(Descriptor, search_pb2.Filter.DESCRIPTOR)
_FILTER_FIELDS = _by_name(_FILTER_DESCRIPTOR.fields)


def _accepted(message: Message, elsewhere: frozenset[str]) -> dict[str, FieldDescriptor]:
    """The message's fields a request may name, the filter's at the top level too."""
    descriptor = cast(Descriptor, message.DESCRIPTOR)
    fields = _by_name(f for f in descriptor.fields if f.name not in elsewhere)
    if FILTER_FIELD in descriptor.fields_by_name:
        fields.update(_FILTER_FIELDS)
    return fields


def _refuse_unknown(keys: set[str], accepted: Mapping[str, object]) -> None:
    unknown = sorted(keys - set(accepted))
    if unknown:
        names = ", ".join(repr(key) for key in unknown)
        raise InvalidRequestError(f"unknown parameter {names}; accepted: {', '.join(accepted)}")


def _unset(value: Any) -> bool:
    return value is None or value == ""


def _proto_json(values: Mapping[str, Any], fields: Mapping[str, FieldDescriptor]) -> dict[str, Any]:
    """values in the proto's JSON form: empty values left out, blank list entries dropped
    (a blank form field names nothing), the mode by its enum name."""
    out: dict[str, Any] = {}
    for key, value in values.items():
        if _unset(value):
            continue
        field = fields[key]
        if field.is_repeated and isinstance(value, list):
            value = [item for item in value if not (isinstance(item, str) and not item.strip())]
        elif key == MODE_FIELD:
            if not isinstance(value, str):
                raise InvalidRequestError(f"mode must be a string, got {value!r}")
            value = search_pb2.SearchMode.Name(mode_to_pb(parse_mode(value)))
        out[key] = value
    return out


def request_from_json(body: Any, message: M, *, elsewhere: frozenset[str] = frozenset()) -> M:
    """Parses a JSON request into message, e.g. SearchRequest from
    ``{"query": "red", "filter": {"genres_any": ["Horror"]}, "limit": 5}``.

    The filter's fields may also sit at the top level, as in a query string. Fields named
    in elsewhere come from elsewhere (the URL path, an upload) and are refused here.

    Raises:
        InvalidRequestError: Not an object, an unknown field, a field given both inside and
            outside ``filter``, or a value the proto's JSON mapping refuses (it names the
            field).
    """
    if not isinstance(body, dict):
        raise InvalidRequestError("the request body must be a JSON object")
    fields = _accepted(message, elsewhere)
    top = {key: value for key, value in body.items() if key != FILTER_FIELD}
    _refuse_unknown(set(top), fields)
    nested = body.get(FILTER_FIELD)
    nested = {} if _unset(nested) else nested
    if not isinstance(nested, dict):
        raise InvalidRequestError("filter must be a JSON object")
    _refuse_unknown(set(nested), _FILTER_FIELDS)
    both = sorted(set(nested) & set(top))
    if both:
        raise InvalidRequestError(f"{both[0]} is given both inside and outside filter")
    flat_filter = {key: top.pop(key) for key in list(top) if key in _FILTER_FIELDS}
    values = _proto_json(top, fields)
    in_filter = _proto_json({**flat_filter, **nested}, _FILTER_FIELDS)
    if in_filter:
        values[FILTER_FIELD] = in_filter
    try:
        return json_format.ParseDict(values, message, ignore_unknown_fields=False)
    except json_format.ParseError as exc:
        raise _refused_field(values, message, fields) or InvalidRequestError(
            f"invalid request: {exc}"
        ) from None


_KINDS = {
    FieldDescriptor.TYPE_STRING: ("a string", "strings"),
    FieldDescriptor.TYPE_INT32: ("a whole number (32-bit)", "whole numbers"),
    FieldDescriptor.TYPE_DOUBLE: ("a number", "numbers"),
    FieldDescriptor.TYPE_BOOL: ("true or false (unquoted)", "booleans"),
    FieldDescriptor.TYPE_MESSAGE: ("a JSON object", "JSON objects"),
}


def _kind(field: FieldDescriptor) -> str:
    one, many = _KINDS.get(field.type, ("a value of its proto type", "such values"))
    return f"a list of {many}" if field.is_repeated else one


def _refused_field(
    values: Mapping[str, Any], message: Message, fields: Mapping[str, FieldDescriptor]
) -> InvalidRequestError | None:
    """Which field the proto's JSON mapping refused, as a message that names it and the
    kind of value it takes (the mapping's own words name the parser's internals)."""
    for key, value in values.items():
        if key == FILTER_FIELD:
            found = _refused_field(value, search_pb2.Filter(), _FILTER_FIELDS)
        else:
            try:
                json_format.ParseDict({key: value}, type(message)())
                continue
            except json_format.ParseError:
                found = InvalidRequestError(f"{key} must be {_kind(fields[key])}, got {value!r}")
        if found is not None:
            return found
    return None


def _as_bool(name: str, value: str) -> bool | None:
    """A query string's boolean; None (unset) for a blank value."""
    text = value.strip().lower()
    if not text:
        return None
    if text in _TRUE or text in _FALSE:
        return text in _TRUE
    raise InvalidRequestError(f"{name} must be true or false, got {value!r}")


def request_from_query(
    params: QueryParams, message: M, *, elsewhere: frozenset[str] = frozenset()
) -> M:
    """Parses a query string such as ``?query=red&genres_any=Horror&year_from=1980`` into
    message, as `request_from_json` would the same fields.

    A list field (genres, ``exclude``, ``exclude_movie_ids``) repeats its parameter;
    booleans are ``1``/``true``/``on``/``yes`` or ``0``/``false``/``off``/``no``; empty
    values count as unset, so a plain HTML form with blank fields can submit directly.

    Raises:
        InvalidRequestError: An unknown parameter, or a value of the wrong type.
    """
    # A query string is flat: the filter's fields stand at the top level.
    fields = _accepted(message, elsewhere | {FILTER_FIELD})
    _refuse_unknown(set(params.keys()), fields)
    values: dict[str, Any] = {}
    for key in params:
        field = fields[key]
        if field.is_repeated:
            values[key] = params.getlist(key)
        elif field.type == FieldDescriptor.TYPE_BOOL:
            values[key] = _as_bool(key, params[key])
        else:
            values[key] = params[key]
    return request_from_json(values, message, elsewhere=elsewhere)


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
