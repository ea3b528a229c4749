"""The JSON API's query strings and bodies become the messages a gRPC client sends."""

from __future__ import annotations

import pytest
from starlette.datastructures import QueryParams

from postersearch.v1 import search_pb2
from search_service.errors import InvalidRequestError
from web_ui.params import request_from_json, request_from_query


def _grpc_request() -> search_pb2.SearchRequest:
    return search_pb2.SearchRequest(
        query="red",
        filter=search_pb2.Filter(genres_any=["Horror", "Crime"], year_from=1990, min_rating=6),
        limit=5,
        mode=search_pb2.SEARCH_MODE_TEXT,
        min_probability=0.2,
        no_translate=True,
        exclude=["blue"],
        exclude_movie_ids=["7", "8"],
        diverse=True,
    )


def test_a_query_string_is_the_grpc_clients_message() -> None:
    params = QueryParams(
        "query=red&genres_any=Horror&genres_any=Crime&genres_any=&year_from=1990"
        "&year_to=&min_rating=6&limit=5&offset=&mode=text&min_probability=0.2"
        "&no_translate=1&exclude=blue&exclude_movie_ids=7&exclude_movie_ids=8&diverse=on"
    )
    assert request_from_query(params, search_pb2.SearchRequest()) == _grpc_request()


def test_a_json_body_is_the_grpc_clients_message_with_the_filter_flat_or_nested() -> None:
    body = {
        "query": "red", "limit": 5, "offset": None, "mode": "text", "min_probability": 0.2,
        "no_translate": True, "exclude": ["blue"], "exclude_movie_ids": ["7", "8"],
        "diverse": True,
    }  # fmt: skip
    nested = {**body, "filter": {"genres_any": ["Horror", "Crime"], "year_from": 1990}}
    flat = {**body, "genres_any": ["Horror", "", "Crime"], "year_from": "1990"}
    for shape in (nested, flat):
        message = request_from_json({**shape, "min_rating": 6}, search_pb2.SearchRequest())
        assert message == _grpc_request()


def test_fields_given_elsewhere_and_fields_of_other_requests_are_refused() -> None:
    similar = search_pb2.SimilarPostersRequest(movie_id="1")
    found = request_from_query(
        QueryParams("query=blue&diverse=false"), similar, elsewhere=frozenset({"movie_id"})
    )
    assert found == search_pb2.SimilarPostersRequest(movie_id="1", query="blue")
    for params in ("movie_id=2", "mode=text", "no_translate=1"):
        with pytest.raises(InvalidRequestError, match="unknown parameter"):
            request_from_query(
                QueryParams(params),
                search_pb2.SimilarPostersRequest(),
                elsewhere=frozenset({"movie_id"}),
            )
