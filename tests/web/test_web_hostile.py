"""The JSON API and poster route against hostile requests, and the API key option."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from postersearch.grpc_server import MAX_DETAILS_CHARS
from web_ui.app import create_app


@pytest.fixture
def client(web_collection: Any) -> Iterator[TestClient]:
    app = create_app(web_collection.search, [web_collection.root], max_json_bytes=4096)
    with TestClient(app) as test_client:
        yield test_client


def test_a_json_body_over_the_limit_is_413_and_short(client: TestClient) -> None:
    body = '{"query": "' + "a" * 1_000_000 + '"}'
    response = client.post(
        "/api/search", content=body, headers={"content-type": "application/json"}
    )
    assert response.status_code == 413
    assert len(response.content) < 500
    # Without a Content-Length the body is counted as it streams in.
    chunks = (body[i : i + 1000].encode() for i in range(0, len(body), 1000))
    response = client.post("/api/search", content=chunks)
    assert response.status_code == 413


def test_json_nested_too_deep_is_400(client: TestClient) -> None:
    response = client.post("/api/search", content="[" * 2000 + "]" * 2000)
    assert response.status_code in (400, 413)
    deep = client.post(
        "/api/search", content='{"query": ' + "[" * 1500 + "]" * 1500 + "}"
    )  # under the size limit, over the parser's depth
    assert deep.status_code == 400
    assert "JSON" in deep.json()["error"] or "query" in deep.json()["error"]


def test_error_messages_are_bounded(client: TestClient) -> None:
    genres = ",".join(f"g{i}" for i in range(600))
    response = client.get(f"/api/search?query=a&genres_any={genres}")
    assert response.status_code == 400
    assert len(response.json()["error"]) <= MAX_DETAILS_CHARS + 40


@pytest.mark.parametrize(
    "path", ["a%00b.jpg", "x" * 5000 + ".jpg", ("d" * 300 + "/") * 3 + "p.jpg"]
)
def test_odd_poster_paths_are_404(client: TestClient, path: str) -> None:
    response = client.get(f"/posters/{path}")
    assert response.status_code == 404


def test_api_key_guards_the_api_but_not_the_page(web_collection: Any) -> None:
    app = create_app(web_collection.search, [web_collection.root], api_key="s3cret")
    with TestClient(app) as client:
        assert client.get("/").status_code == 200
        assert client.get("/healthz").status_code == 200
        assert client.get("/api/openapi.json").status_code == 200
        for headers in ({}, {"authorization": "Bearer wrong"}):
            refused = client.get("/api/genres", headers=headers)
            assert refused.status_code == 401
            assert refused.headers["www-authenticate"] == "Bearer"
        allowed = client.get("/api/genres", headers={"authorization": "Bearer s3cret"})
        assert allowed.status_code == 200 and allowed.json()["genres"]
