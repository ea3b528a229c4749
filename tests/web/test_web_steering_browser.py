"""Leaving looks out, a diverse page and words with a poster, in a real headless chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from page_helpers import card_titles, search_for, settled

pytestmark = pytest.mark.slow

PINK = {"Pink Parade", "Rose Garden"}
RED = {"Crimson Hour", "Red Room", "Scarlet Line"}
PURPLE = {"Violet Static", "Royal Dusk"}


@pytest.fixture
def page(open_page: Callable[..., Any], base_url: str) -> Any:
    return open_page(base_url)


def wait_status(page: Any, text: str) -> None:
    page.locator("#status").filter(has_text=text).wait_for()
    settled(page)


def test_not_like_words_put_those_looks_last_and_survive_reload(page: Any) -> None:
    search_for(page, "purple")
    assert set(card_titles(page)[:4]) >= PINK
    page.get_by_text("Search options").click()
    box = page.get_by_label("Not like", exact=True)
    box.fill("pink")
    box.press("Enter")
    page.wait_for_function("() => location.search.includes('exclude=pink')")
    wait_status(page, "not like “pink”")
    titles = card_titles(page)
    assert set(titles[:2]) == PURPLE
    assert set(titles[-2:]) == PINK
    page.reload()
    wait_status(page, "not like “pink”")
    assert page.get_by_label("Not like", exact=True).input_value() == "pink"
    assert set(card_titles(page)[-2:]) == PINK


def test_not_like_this_leaves_a_posters_look_out_until_removed(page: Any) -> None:
    search_for(page, "purple")
    before = card_titles(page)
    card = page.locator("#results .card").filter(has_text="Pink Parade")
    card.get_by_role("button", name=re.compile(r"^Not like this: Pink Parade")).click()
    wait_status(page, "not like Pink Parade (2021)")
    assert "exclude_movie_ids=" in page.url
    titles = card_titles(page)
    assert titles.index("Pink Parade") > len(titles) - 3
    remove = page.locator("#not-like-list").get_by_role(
        "button", name=re.compile(r"^Pink Parade \(2021\), remove")
    )
    assert remove.is_visible()
    remove.click()
    page.wait_for_function("() => !location.search.includes('exclude_movie_ids')")
    settled(page)
    assert card_titles(page) == before


def test_a_diverse_page_spreads_the_looks(page: Any) -> None:
    search_for(page, "red")
    assert set(card_titles(page)[:3]) == RED
    page.get_by_text("Search options").click()
    page.get_by_label("Diverse page").check()
    page.wait_for_function("() => location.search.includes('diverse=true')")
    wait_status(page, "spread over different looks")
    titles = card_titles(page)
    assert titles[0] in RED
    assert len(set(titles[:3]) & RED) < 3


def test_words_change_the_look_of_a_similar_search(page: Any) -> None:
    search_for(page, "red")
    card = page.locator("#results .card").filter(has_text="Red Room")
    card.get_by_role("button", name="More like this: Red Room (2011)", exact=True).click()
    wait_status(page, "like Red Room")
    words = page.get_by_label("Change the look with words")
    words.fill("blue")
    page.get_by_role("button", name="Apply").click()
    page.get_by_role("heading", name="More like Red Room (2011), with “blue”", level=1).wait_for()
    wait_status(page, "with “blue”")
    assert set(card_titles(page)[:2]) == PURPLE
    assert "words=blue" in page.url
    page.reload()
    wait_status(page, "with “blue”")
    assert page.get_by_label("Change the look with words").input_value() == "blue"
