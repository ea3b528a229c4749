"""Exclusions, diverse pages and an image or a movie with words through the JSON API, over a
real PosterSearch and Qdrant Edge collection whose vectors are the posters' colours."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient

from web_ui.app import create_app

PINK = {"Pink Parade", "Rose Garden"}
RED = {"Crimson Hour", "Red Room", "Scarlet Line"}
PURPLE = {"Violet Static", "Royal Dusk"}


@pytest.fixture
def client(web_collection: Any) -> Iterator[TestClient]:
    app = create_app(web_collection.search, [web_collection.root])
    with TestClient(app) as test_client:
        yield test_client


def titles(response_json: dict[str, Any]) -> list[str]:
    return [hit["poster"]["title"] for hit in response_json["hits"]]


def test_exclude_drops_the_posters_nearer_the_excluded_colour(client: TestClient) -> None:
    warm: dict[str, Any] = {"query": "purple", "mode": "vector", "limit": 5}
    plain = titles(client.get("/api/search", params=warm).json())
    assert set(plain) >= PINK
    excluded = client.get("/api/search", params={**warm, "exclude": "pink"}).json()
    assert not PINK & set(titles(excluded))
    assert set(titles(excluded)[:2]) == PURPLE
    posted = client.post("/api/search", json={**warm, "exclude": ["pink"]}).json()
    assert titles(posted) == titles(excluded)


def test_exclude_movie_ids_drops_that_look(client: TestClient, web_collection: Any) -> None:
    pink_parade = web_collection.by_title("Pink Parade").movie_id
    params: dict[str, Any] = {"query": "purple", "mode": "vector", "limit": 4}
    assert set(titles(client.get("/api/search", params=params).json())) >= PINK
    found = client.get("/api/search", params={**params, "exclude_movie_ids": pink_parade})
    assert found.status_code == 200, found.text
    assert not PINK & set(titles(found.json()))


def test_a_diverse_page_spreads_the_colours(client: TestClient) -> None:
    params: dict[str, Any] = {"query": "red", "limit": 3, "mode": "vector"}
    plain = titles(client.get("/api/search", params=params).json())
    assert set(plain) == RED
    diverse = titles(client.get("/api/search", params={**params, "diverse": "true"}).json())
    assert diverse[0] in RED
    assert len(set(diverse) & RED) < 3
    pages = [
        titles(client.get("/api/search", params={**params, "diverse": "1", "limit": 2,
                                                 "offset": 2 * k}).json())
        for k in range(3)
    ]  # fmt: skip
    whole = client.post("/api/search", json={**params, "diverse": True, "limit": 6}).json()
    assert [t for page in pages for t in page] == titles(whole)


def test_a_red_poster_but_in_blue_finds_purple(
    client: TestClient, web_collection: Any, poster_image: Callable[[str], bytes]
) -> None:
    red_room = web_collection.by_title("Red Room").movie_id
    alone = titles(client.get(f"/api/similar/{red_room}", params={"limit": 2}).json())
    assert set(alone) <= RED
    blue = client.get(f"/api/similar/{red_room}", params={"limit": 2, "query": "blue"}).json()
    assert set(titles(blue)) == PURPLE
    by_image = client.post(
        "/api/search-by-image",
        params={"limit": 2, "query": "blue"},
        files={"image": ("query.jpg", poster_image("red"), "image/jpeg")},
    ).json()
    assert set(titles(by_image)) == PURPLE


def test_bad_steering_is_refused_with_the_right_status(client: TestClient) -> None:
    bad_flag = client.get("/api/search", params={"query": "red", "diverse": "maybe"})
    assert bad_flag.status_code == 400
    assert "diverse" in bad_flag.json()["error"]
    unknown = client.get("/api/search", params={"query": "red", "exclude_movie_ids": "nope"})
    assert unknown.status_code == 404
    assert "nope" in unknown.json()["error"]
    wrong_type = client.post("/api/search", json={"query": "red", "exclude": [1]})
    assert wrong_type.status_code == 400
    browse = client.get("/api/search", params={"genres_any": "Drama", "diverse": "true"})
    assert browse.status_code == 400
