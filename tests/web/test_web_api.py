"""The JSON API over a real PosterSearch and Qdrant Edge collection, through HTTP."""

from __future__ import annotations

import io
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from poster_index.edge import EdgePosterIndex
from postersearch.domain import CollectionModel, Poster
from search_service.core import PosterSearch
from search_service.settings import SearchSettings
from web_ui.app import create_app
from web_ui.files import PosterFiles
from web_ui.params import poster_json


@pytest.fixture
def client(web_collection: Any) -> Iterator[TestClient]:
    app = create_app(web_collection.search, [web_collection.root], max_upload_bytes=64 * 1024)
    with TestClient(app) as test_client:
        yield test_client


def titles(response_json: dict[str, Any]) -> list[str]:
    return [hit["poster"]["title"] for hit in response_json["hits"]]


def test_page_and_health(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200
    assert "text/html" in page.headers["content-type"]
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert '<script src="/static/app.js"' in page.text
    for asset in ("/static/app.js", "/static/style.css"):
        assert client.get(asset).status_code == 200
    assert client.get("/healthz").json() == {"status": "ok"}
    paths = set(client.get("/api/openapi.json").json()["paths"])
    assert {"/api/search", "/api/similar/{movie_id}", "/api/search-by-image"} <= paths
    assert client.get("/api/docs").status_code == 404  # it would load scripts from a CDN


def test_limits_tell_the_page_the_largest_upload(client: TestClient) -> None:
    assert client.get("/api/limits").json() == {"max_upload_bytes": 64 * 1024}


def test_genres_are_counted_most_common_first(client: TestClient) -> None:
    genres = client.get("/api/genres").json()["genres"]
    counts = {g["genre"]: g["count"] for g in genres}
    assert counts["Drama"] == 8
    assert counts["Horror"] == 3
    assert genres[0] == {"genre": "Drama", "count": 8}
    assert [g["count"] for g in genres] == sorted((g["count"] for g in genres), reverse=True)


def test_text_search_ranks_by_meaning_in_english_and_korean(client: TestClient) -> None:
    english = client.get("/api/search", params={"query": "red", "limit": 3}).json()
    assert set(titles(english)) == {"Crimson Hour", "Red Room", "Scarlet Line"}
    assert english["model_id"] == "test/mean-colour"
    korean = client.get("/api/search", params={"query": "파란색 포스터", "limit": 3}).json()
    assert set(titles(korean)) == {"Deep Blue", "Cold Harbour", "Neon Azure"}
    scores = [hit["score"] for hit in korean["hits"]]
    assert scores == sorted(scores, reverse=True)


def test_filters_narrow_the_results(client: TestClient) -> None:
    params: list[tuple[str, str | int | float | bool | None]] = [
        ("query", "red"), ("genres_any", "Horror"), ("genres_any", "crime"),
        ("year_from", "1990"), ("min_rating", "6"), ("limit", "20"),
    ]  # fmt: skip
    found = client.get("/api/search", params=params).json()
    # "crime" matches the collection's "Crime": genre spelling is PosterSearch's rule.
    assert set(titles(found)) == {"Scarlet Line", "Forest Law"}
    for hit in found["hits"]:
        poster = hit["poster"]
        assert poster["year"] >= 1990 and poster["rating"] >= 6
        assert {"Horror", "Crime"} & set(poster["genres"])
    none = client.get("/api/search", params={"query": "red", "genres_none": "Drama"}).json()
    assert all("Drama" not in hit["poster"]["genres"] for hit in none["hits"])


def test_post_search_takes_the_proto_shaped_body(client: TestClient) -> None:
    body = {"query": "", "filter": {"genres_all": ["Sci-Fi", "Thriller"]}, "limit": 5}
    found = client.post("/api/search", json=body).json()
    assert titles(found) == ["Deep Blue"]
    flat = client.post("/api/search", json={"year_to": 1970, "limit": 5}).json()
    # With no text, browsing by filter: highest rating first, score is the rating.
    assert titles(flat) == ["Harbour Lights", "Far Away", "Web Only"]
    assert flat["hits"][0]["score"] == pytest.approx(8.0)


def test_paging_with_offset(client: TestClient) -> None:
    first = titles(client.get("/api/search", params={"query": "blue", "limit": 4}).json())
    second = client.get("/api/search", params={"query": "blue", "limit": 4, "offset": 4}).json()
    assert len(first) == 4 and not set(first) & set(titles(second))


@pytest.mark.parametrize(
    ("params", "expected"),
    [
        ({"query": "red", "year_from": 2010, "year_to": 1990}, "year_from (2010) is after"),
        ({"query": "red", "year_from": "nineteen"}, "year_from must be a whole number"),
        ({"query": "red", "min_rating": 11}, "min_rating must be between 0 and 10"),
        ({"query": "red", "min_rating": "nan"}, "min_rating must be a number, got 'nan'"),
        ({"query": "red", "min_rating": "NaN"}, "min_rating must be between 0 and 10, got nan"),
        ({"query": "red", "year_to": "99999999999"}, "year_to must be a whole number (32-bit)"),
        ({"query": "red", "filter": "{}"}, "unknown parameter 'filter'"),
        ({"query": "red", "limit": 0}, "limit must be between 1 and 100"),
        ({"query": "red", "offset": -1}, "offset must be 0 or more"),
        ({"query": "red", "genres_any": "Western"}, "unknown genre 'Western'"),
        ({"query": "red", "year": 1990}, "unknown parameter 'year'"),
        ({}, "the query is empty and no filter is set"),
        ({"query": "x" * 501}, "at most 500"),
    ],
)
def test_invalid_requests_are_400_with_a_message(
    client: TestClient, params: dict[str, Any], expected: str
) -> None:
    response = client.get("/api/search", params=params)
    assert response.status_code == 400
    assert expected in response.json()["error"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ([1, 2], "must be a JSON object"),
        ({"query": 5}, "query must be a string"),
        ({"query": "red", "filter": {"genres_any": "Horror", "decade": 1980}}, "'decade'"),
        ({"query": "red", "filter": {"year_to": 1990}, "year_to": 1991}, "both inside"),
        ({"query": "red", "limit": True}, "limit must be a whole number"),
        ({"query": "red", "genres_any": [1]}, "genres_any must be a list of strings, got [1]"),
        ({"query": "red", "filter": []}, "filter must be a JSON object"),
        ({"query": "red", "mode": "SEARCH_MODE_TEXT"}, "unknown search mode"),
        ({"query": "red", "image": "AAAA"}, "unknown parameter 'image'"),
    ],
)
def test_invalid_json_bodies_are_400(client: TestClient, body: object, expected: str) -> None:
    response = client.post("/api/search", json=body)
    assert response.status_code == 400
    assert expected in response.json()["error"]


def test_malformed_json_is_400(client: TestClient) -> None:
    response = client.post(
        "/api/search", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert response.status_code == 400
    assert "not valid JSON" in response.json()["error"]


def test_similar_leaves_the_movie_out_and_404s_unknown_ids(
    client: TestClient, web_collection: Any
) -> None:
    red_room = web_collection.by_title("Red Room")
    found = client.get(f"/api/similar/{red_room.movie_id}", params={"limit": 2}).json()
    assert set(titles(found)) == {"Crimson Hour", "Scarlet Line"}
    narrowed = client.get(
        f"/api/similar/{red_room.movie_id}", params={"limit": 2, "genres_none": "Horror"}
    ).json()
    assert titles(narrowed)[0] == "Scarlet Line"
    missing = client.get("/api/similar/no-such-movie")
    assert missing.status_code == 404
    assert "no-such-movie" in missing.json()["error"]
    assert client.get("/api/similar/1", params={"mode": "vector"}).status_code == 400


def test_search_by_image_multipart_and_raw(
    client: TestClient, poster_image: Callable[[str], bytes]
) -> None:
    image = poster_image("green")
    multipart = client.post(
        "/api/search-by-image",
        params={"limit": 2},
        files={"image": ("query.jpg", image, "image/jpeg")},
    )
    assert multipart.status_code == 200, multipart.text
    assert set(titles(multipart.json())) <= {"Green Valley", "Forest Law", "Far Away"}
    raw = client.post(
        "/api/search-by-image",
        params={"limit": 1, "year_from": 2000},
        content=image,
        headers={"content-type": "image/jpeg"},
    )
    assert titles(raw.json()) == ["Forest Law"]


def test_search_by_image_errors(client: TestClient) -> None:
    not_image = client.post("/api/search-by-image", content=b"hello")
    assert not_image.status_code == 400
    assert "the image cannot be used" in not_image.json()["error"]
    empty = client.post("/api/search-by-image", content=b"")
    assert empty.status_code == 400
    wrong_field = client.post(
        "/api/search-by-image", files={"file": ("a.jpg", b"abc", "image/jpeg")}
    )
    assert wrong_field.status_code == 400
    assert "'image'" in wrong_field.json()["error"]

    buffer = io.BytesIO()
    Image.effect_noise((400, 400), 80).convert("RGB").save(buffer, "PNG")
    big = buffer.getvalue()
    assert len(big) > 64 * 1024
    too_large_raw = client.post("/api/search-by-image", content=big)
    assert too_large_raw.status_code == 413
    assert "at most 65536" in too_large_raw.json()["error"]
    too_large_part = client.post(
        "/api/search-by-image", files={"image": ("big.png", big, "image/png")}
    )
    assert too_large_part.status_code == 413


def test_images_are_served_only_from_the_roots(client: TestClient, web_collection: Any) -> None:
    found = client.get("/api/search", params={"year_to": 1970, "limit": 10}).json()
    urls = {hit["poster"]["title"]: hit["poster"]["image_url"] for hit in found["hits"]}
    assert urls["Harbour Lights"] == "/posters/covers/15.jpg"
    assert urls["Far Away"] is None  # its file is outside every root
    assert urls["Web Only"] == "https://posters.example/98.jpg"

    served = client.get("/posters/covers/15.jpg")
    assert served.status_code == 200
    assert served.headers["content-type"] == "image/jpeg"
    assert served.content == (web_collection.root / "covers" / "15.jpg").read_bytes()

    outside = web_collection.root.parent / "elsewhere.jpg"
    link = web_collection.root / "covers" / "escape.jpg"
    if not link.is_symlink():
        link.symlink_to(outside)
    for path in (
        "/posters/../elsewhere.jpg",
        "/posters/covers/../../elsewhere.jpg",
        "/posters/covers/%2e%2e/%2e%2e/elsewhere.jpg",
        "/posters/%2e%2e%2felsewhere.jpg",
        "/posters/..%5celsewhere.jpg",
        f"/posters/{outside}",
        "/posters//etc/passwd",
        "/posters/covers/escape.jpg",
        "/posters/covers",
        "/posters/covers/404.jpg",
    ):
        response = client.get(path)
        assert response.status_code == 404, path
        assert "error" in response.json()


@pytest.mark.parametrize(
    "relative",
    [
        "../elsewhere.jpg",
        "covers/../../elsewhere.jpg",
        "covers/./../../elsewhere.jpg",
        "..\\elsewhere.jpg",
        "/etc/passwd",
        "",
        "covers",
        "covers/escape.jpg",
    ],
)
def test_poster_files_refuse_anything_outside_the_roots(web_collection: Any, relative: str) -> None:
    # The raw paths a client can send with `curl --path-as-is`, which httpx would normalise.
    outside = web_collection.root.parent / "elsewhere.jpg"
    link = web_collection.root / "covers" / "escape.jpg"
    if not link.is_symlink():
        link.symlink_to(outside)
    files = PosterFiles([web_collection.root])
    assert files.resolve(relative) is None
    # Even a root wider than meant (here the folder above) serves images only.
    notes = web_collection.root / "covers" / "notes.txt"
    notes.write_text("not an image")
    wide = PosterFiles([web_collection.root.parent])
    assert wide.resolve("posters/covers/notes.txt") is None
    assert wide.resolve("elsewhere.jpg") == outside.resolve()
    assert files.resolve("covers/1.jpg") == (web_collection.root / "covers" / "1.jpg").resolve()
    assert files.image_url(str(outside)) is None
    assert files.image_url("covers/2.jpg") == "/posters/covers/2.jpg"


def test_unknown_routes_are_json_404(client: TestClient) -> None:
    response = client.get("/api/nothing")
    assert response.status_code == 404
    assert response.json() == {"error": "Not Found"}


def test_dependency_down_is_503(tmp_path: Path, colour_encoder: Any) -> None:
    # A collection that was never ingested: Qdrant answers, but there is nothing to search.
    index = EdgePosterIndex(tmp_path / "index")
    search = PosterSearch(colour_encoder, index, SearchSettings())
    with TestClient(create_app(search)) as empty_client:
        response = empty_client.get("/api/search", params={"query": "red"})
    index.close()
    assert response.status_code == 503
    assert "ingest posters first" in response.json()["error"]
    assert response.headers["retry-after"] == "2"


def test_model_mismatch_is_503(tmp_path: Path, colour_encoder: Any) -> None:
    index = EdgePosterIndex(tmp_path / "index")
    index.ensure_collection(CollectionModel("another/model", 4))
    search = PosterSearch(colour_encoder, index, SearchSettings())
    with TestClient(create_app(search)) as other_client:
        response = other_client.get("/api/search", params={"query": "red"})
    index.close()
    assert response.status_code == 503
    assert "another/model" in response.json()["error"]


def test_search_modes_and_the_branches_of_each_hit(client: TestClient) -> None:
    hybrid = client.get("/api/search", params={"query": "Red Room", "limit": 3}).json()
    assert hybrid["mode"] == "hybrid" and hybrid["notice"] == ""
    assert titles(hybrid)[0] == "Red Room"
    assert "text" in hybrid["hits"][0]["found_by"]
    text = client.post("/api/search", json={"query": "room", "mode": "text"}).json()
    assert text["mode"] == "text"
    assert titles(text) == ["Red Room"]
    assert text["hits"][0]["found_by"] == ["text"]
    vector = client.get("/api/search", params={"query": "red", "mode": "vector"}).json()
    assert {tuple(hit["found_by"]) for hit in vector["hits"]} == {("vector",)}
    bad = client.get("/api/search", params={"query": "red", "mode": "fuzzy"})
    assert bad.status_code == 400
    assert "unknown search mode" in bad.json()["error"]
    assert client.post("/api/search", json={"query": "red", "mode": 3}).status_code == 400
    browse = client.get("/api/search", params={"genres_any": "Drama", "limit": 2}).json()
    assert browse["mode"] is None


def test_poster_json_carries_the_words_a_page_shows(tmp_path: Path) -> None:
    words = Poster(
        "7", "Parasite", ("Drama",), 2019, 8.5, "covers/7.jpg", original_title="기생충",
        overview="A poor family schemes its way in.", tagline="Act like you own the place.",
        caption="a family on a lawn",
    )  # fmt: skip
    found = poster_json(words, PosterFiles([tmp_path]))
    assert (found["original_title"], found["overview"], found["tagline"], found["caption"]) == (
        "기생충", "A poor family schemes its way in.", "Act like you own the place.",
        "a family on a lawn",
    )  # fmt: skip
    bare = poster_json(Poster("8", "Heat"), PosterFiles([tmp_path]))
    assert (bare["overview"], bare["tagline"], bare["caption"]) == ("", "", None)
