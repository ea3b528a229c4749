"""Translation, the match probability and its cutoff through the JSON API and the page.

The colour encoder translates Korean colour words word by word and reports a SigLIP-like
calibration, so each answer can be checked: "빨간" is also searched as "red", and the red
posters are the probable matches.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Iterator
from typing import Any

import pytest
from fastapi.testclient import TestClient
from page_helpers import QUERY_LABEL, search_for, settled

from web_ui.app import create_app


@pytest.fixture
def client(web_collection: Any) -> Iterator[TestClient]:
    with TestClient(create_app(web_collection.search, [web_collection.root])) as test_client:
        yield test_client


def test_the_api_says_which_translation_was_used(client: TestClient) -> None:
    answer = client.get("/api/search", params={"query": "빨간 포스터", "limit": 3}).json()
    assert answer["translation"] == {
        "source": "빨간 포스터",
        "text": "red 포스터",
        "model_id": "test/colour-words",
        "scripts": ["Hangul"],
    }
    assert answer["query_tokens"] == {"tokens": 2, "read": 2, "read_text": "빨간 포스터"}
    plain = client.get(
        "/api/search", params={"query": "빨간 포스터", "limit": 3, "no_translate": "1"}
    ).json()
    assert plain["translation"] is None
    posted = client.post("/api/search", json={"query": "빨간 포스터", "no_translate": True}).json()
    assert posted["translation"] is None


def test_hits_carry_probabilities_and_the_cutoff_applies(client: TestClient) -> None:
    params: dict[str, Any] = {"query": "red", "limit": 18, "mode": "vector"}
    everything = client.get("/api/search", params=params).json()
    probabilities = [hit["probability"] for hit in everything["hits"]]
    for hit in everything["hits"]:
        expected = 1 / (1 + math.exp(-(10.0 * hit["score"] - 5.0)))
        assert hit["probability"] == pytest.approx(expected, rel=1e-4)
    cutoff = (probabilities[2] + probabilities[3]) / 2
    kept = client.get("/api/search", params={**params, "min_probability": cutoff}).json()
    assert [h["probability"] for h in kept["hits"]] == probabilities[:3]
    assert kept["no_good_match"] is False
    none = client.post("/api/search", json={**params, "min_probability": 1}).json()
    assert none["hits"] == [] and none["no_good_match"] is True
    assert none["notice"].startswith("no good match")


@pytest.mark.parametrize(
    ("params", "message"),
    [
        ({"min_probability": "2"}, "min_probability must be between 0 and 1, got 2.0"),
        ({"min_probability": "high"}, "min_probability must be a number"),
        ({"no_translate": "maybe"}, "no_translate must be true or false"),
    ],
)
def test_bad_understanding_parameters_are_refused(
    client: TestClient, params: dict[str, str], message: str
) -> None:
    response = client.get("/api/search", params={"query": "red", **params})
    assert response.status_code == 400
    assert message in response.json()["error"]


@pytest.mark.slow
def test_the_page_shows_the_translation_probability_and_no_good_match(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url)
    search_for(page, "보라")
    note = page.locator("#query-note")
    assert note.inner_text() == "Also searched in English as “purple”."
    first = page.locator("#results .card").first.locator(".score").text_content() or ""
    assert ", match " in first and "%" in first
    # The cutoff: no poster is a certain match (and no title holds the word "purple").
    page.get_by_text("Match options").click()
    page.get_by_label("Min match").fill("1")
    page.get_by_label("Min match").press("Tab")
    page.locator("#status").filter(has_text="No good match for “보라”").wait_for()
    settled(page)
    assert page.locator("#results .card").count() == 0
    assert "min_probability=1" in page.url
    # Reload keeps it; turning translation off searches as typed and says nothing of it.
    page.reload()
    page.locator("#status").filter(has_text="No good match").wait_for()
    assert page.get_by_label("Min match").input_value() == "1"
    page.get_by_label("Min match").fill("")
    page.get_by_label("Min match").press("Tab")
    page.locator("#status").filter(has_text="poster").wait_for()
    page.get_by_label("Also search in English").uncheck()
    page.wait_for_function("() => location.search.includes('no_translate=1')")
    settled(page)
    assert page.locator("#query-note").is_hidden()
    page.get_by_label(QUERY_LABEL).fill("x")
    page.get_by_label("Min match").fill("5")
    page.get_by_label("Min match").press("Tab")
    page.locator("#min-probability-error").filter(has_text="from 0 to 1").wait_for()
