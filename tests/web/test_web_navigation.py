"""Back, Forward, reload and shared links; paging by scrolling; retries, in a real chromium."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from page_helpers import QUERY_LABEL, card_titles, chip, search_for, settled, wait_titles

pytestmark = pytest.mark.slow

PAGE_SIZE = 24  # posters per page, as the page asks for them


@pytest.fixture
def page(open_page: Callable[..., Any], base_url: str) -> Any:
    return open_page(base_url)


def heading(page: Any) -> str:
    return str(page.get_by_role("heading", level=1).inner_text())


def test_back_and_forward_step_through_searches(page: Any, base_url: str) -> None:
    search_for(page, "red")
    red = card_titles(page)
    chip(page, "Any of", "Horror").click()
    wait_titles(page, ["Red Room", "Crimson Hour", "Violet Static"])
    card = page.locator("#results .card").filter(has_text="Red Room")
    card.hover()
    card.get_by_role("button", name="More like this: Red Room (2011)").click()
    page.locator("#status").filter(has_text="like Red Room").wait_for()
    similar = card_titles(page)

    page.go_back()
    wait_titles(page, ["Red Room", "Crimson Hour", "Violet Static"])
    assert page.get_by_label(QUERY_LABEL).input_value() == "red"
    assert chip(page, "Any of", "Horror").get_attribute("aria-pressed") == "true"
    page.go_back()
    wait_titles(page, red)
    assert chip(page, "Any of", "Horror").get_attribute("aria-pressed") == "false"
    assert heading(page) == "Posters for “red”"
    page.go_back()
    page.get_by_role("heading", name="Find a movie by its poster").wait_for()
    assert page.url == base_url + "/"
    assert page.locator("#results .card").count() == 0

    page.go_forward()
    wait_titles(page, red)
    page.go_forward()
    page.go_forward()
    wait_titles(page, similar)
    assert heading(page) == "More like Red Room (2011)"


def test_reload_keeps_text_similar_and_image_searches(
    page: Any, poster_image: Callable[[str], bytes]
) -> None:
    search_for(page, "blue")
    chip(page, "Any of", "Crime").click()
    wait_titles(page, ["Cold Harbour", "Forest Law", "Scarlet Line"])
    page.reload()
    wait_titles(page, ["Cold Harbour", "Forest Law", "Scarlet Line"])
    assert page.get_by_label(QUERY_LABEL).input_value() == "blue"

    card = page.locator("#results .card").filter(has_text="Cold Harbour")
    card.hover()
    card.get_by_role("button", name="More like this: Cold Harbour (1975)").click()
    page.locator("#status").filter(has_text="like Cold Harbour").wait_for()
    similar = card_titles(page)
    page.reload()
    page.locator("#status").filter(has_text="like Cold Harbour (1975)").wait_for()
    assert card_titles(page) == similar
    assert heading(page) == "More like Cold Harbour (1975)"

    page.locator("#image-file").set_input_files(
        files=[{"name": "pink.jpg", "mimeType": "image/jpeg", "buffer": poster_image("pink")}]
    )
    page.locator("#status").filter(has_text="like pink.jpg").wait_for()
    pink = card_titles(page)
    assert re.search(r"[?&]image=\w+", page.url)
    page.reload()
    # The image is kept in this browser (IndexedDB), so the reload searches with it again.
    page.locator("#status").filter(has_text="like pink.jpg").wait_for()
    assert card_titles(page) == pink
    assert page.locator("#context-image").is_visible()


def test_an_image_link_without_its_image_asks_for_it_again(
    page: Any, open_page: Callable[..., Any], poster_image: Callable[[str], bytes]
) -> None:
    page.locator("#image-file").set_input_files(
        files=[{"name": "pink.jpg", "mimeType": "image/jpeg", "buffer": poster_image("pink")}]
    )
    page.locator("#status").filter(has_text="like pink.jpg").wait_for()
    elsewhere = open_page(page.url)  # another browser profile: the image is not there
    message = elsewhere.locator("#image-error")
    message.wait_for()
    assert "not kept in this browser" in message.inner_text()
    assert "Search by image" in message.inner_text()


def test_shared_links_keep_their_meaning(open_page: Callable[..., Any], base_url: str) -> None:
    # Lower-case genres, any and all together, none of: each is honoured as written.
    page = open_page(
        base_url + "/?query=red&genres_any=thriller&genres_all=crime&genres_none=Drama"
    )
    page.locator("#status").filter(has_text="for “red”").wait_for()
    assert card_titles(page) == ["Scarlet Line"]  # Thriller and Crime, not Drama
    assert chip(page, "Any of", "Thriller").get_attribute("aria-pressed") == "true"
    assert chip(page, "All of", "Crime").get_attribute("aria-pressed") == "true"
    assert chip(page, "None of", "Drama").get_attribute("aria-pressed") == "true"
    assert page.locator("#more-genres").get_attribute("open") is not None

    unknown = open_page(base_url + "/?query=red&decade=1980")
    alert = unknown.locator("#error")
    alert.wait_for()
    assert "“decade”" in alert.inner_text() and "not searched" in alert.inner_text()
    assert unknown.locator("#results .card").count() == 0

    bad_year = open_page(base_url + "/?query=red&year_from=abc")
    message = bad_year.locator("#year-from-error")
    message.wait_for()
    assert "Year from must be a year, such as 1984 (not “abc”)" in message.inner_text()
    assert bad_year.get_by_label("Year from").input_value() == "abc"
    assert bad_year.get_by_label("Year from").get_attribute("aria-invalid") == "true"

    no_genre = open_page(base_url + "/?genres_any=Western")
    no_genre.locator("#genres-error").filter(has_text="no genre “Western”").wait_for()


def test_scrolling_loads_more_and_a_reload_keeps_the_pages_and_place(
    open_page: Callable[..., Any], big_url: str
) -> None:
    page = open_page(big_url + "/?genres_any=Drama")  # 60 posters
    page.locator("#status").filter(has_text="best rated first").wait_for()
    first = page.locator("#results .card").count()
    assert first >= PAGE_SIZE
    page.mouse.wheel(0, 20_000)
    page.wait_for_function(f"() => document.querySelectorAll('#results .card').length > {first}")
    page.mouse.wheel(0, 20_000)
    page.wait_for_function("() => document.querySelectorAll('#results .card').length === 60")
    page.locator("#status").filter(has_text="60 posters").wait_for()
    assert page.locator("#more").is_hidden()  # nothing more to load
    page.wait_for_function("() => location.search.includes('pages=3')")
    page.locator("#results .card").nth(40).scroll_into_view_if_needed()
    page.wait_for_timeout(300)  # the scroll position is written to the history entry
    place = page.evaluate("() => window.scrollY")
    titles = card_titles(page)
    page.reload()
    page.wait_for_function("() => document.querySelectorAll('#results .card').length === 60")
    page.wait_for_function(f"() => Math.abs(window.scrollY - {place}) < 4")
    assert card_titles(page) == titles
    # A new search starts at the top; Back returns to the same place in the old one.
    search_for(page, "red")
    assert page.evaluate("() => window.scrollY") == 0
    page.go_back()
    page.wait_for_function("() => document.querySelectorAll('#results .card').length === 60")
    page.wait_for_function(f"() => Math.abs(window.scrollY - {place}) < 4")


def test_show_more_is_a_button_too_and_its_failure_is_said_beside_it(
    open_page: Callable[..., Any], big_url: str
) -> None:
    page = open_page(big_url, viewport={"width": 1440, "height": 700})
    failed: list[str] = []

    def busy_once(route: Any) -> None:
        if "offset=" in route.request.url and not failed:
            failed.append(route.request.url)
            route.fulfill(status=503, json={"error": "the index is busy"},
                          headers={"Retry-After": "1"})  # fmt: skip
        else:
            route.continue_()

    page.route("**/api/search?*", busy_once)
    chip(page, "Any of", "Comedy").click()  # 30 posters
    page.locator("#status").filter(has_text="best rated first").wait_for()
    more = page.get_by_role("button", name="Show more")
    page.mouse.wheel(0, 20_000)
    # The 503 said when to try again: the page does so by itself.
    page.wait_for_function("() => document.querySelectorAll('#results .card').length === 30")
    assert len(failed) == 1
    assert more.is_hidden()

    page.unroute("**/api/search?*")
    page.route(
        "**/api/search?*",
        lambda route: route.abort() if "offset=" in route.request.url else route.continue_(),
    )
    chip(page, "Any of", "Drama").click()  # Comedy or Drama: 90 posters
    page.wait_for_function("() => location.search.includes('genres_any=Drama')")
    settled(page)
    message = page.locator("#more-error")
    page.mouse.wheel(0, 20_000)
    message.wait_for()
    assert "could not be loaded" in message.inner_text()
    # Said beside the button, where the reader is, not at the top of the page.
    box = message.bounding_box()
    assert box is not None and 0 <= box["y"] <= 700
    page.unroute("**/api/search?*")
    shown = page.locator("#results .card").count()
    more.click()
    page.wait_for_function(f"() => document.querySelectorAll('#results .card').length > {shown}")
    assert message.is_hidden()
    # The button moved focus to the first new poster.
    assert page.evaluate("() => document.activeElement.classList.contains('card')")


def test_failed_poster_images_are_asked_for_again(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url)
    refused: list[str] = []

    def refuse_first(route: Any) -> None:
        if route.request.url not in refused:
            refused.append(route.request.url)
            route.fulfill(status=503, body="busy")
        else:
            route.continue_()

    page.route("**/posters/covers/*", refuse_first)
    search_for(page, "red")
    image = page.locator("#results .card").first.locator("img.poster")
    page.wait_for_function(
        "img => img.isConnected ? img.complete && img.naturalWidth === 200 :"
        " document.querySelector('#results .card img.poster').naturalWidth === 200",
        arg=image.element_handle(),
        timeout=15_000,
    )
    assert refused


def test_a_busy_service_is_retried_when_it_says(page: Any) -> None:
    answered: list[int] = []

    def busy_once(route: Any) -> None:
        if not answered:
            answered.append(503)
            route.fulfill(status=503, json={"error": "starting"}, headers={"Retry-After": "1"})
        else:
            answered.append(200)
            route.continue_()

    page.route("**/api/search?*", busy_once)
    page.get_by_label(QUERY_LABEL).fill("red")
    page.get_by_label(QUERY_LABEL).press("Enter")
    page.locator("#status").filter(has_text="trying again in 1 s").wait_for()
    page.locator("#status").filter(has_text="for “red”").wait_for()
    assert answered == [503, 200]
    assert page.locator("#error").is_hidden()


def test_server_refusals_are_put_in_words(page: Any, poster_image: Callable[[str], bytes]) -> None:
    # The upload limit as the server words it is bytes; the page says what to do instead.
    page.route(
        "**/api/search-by-image*",
        lambda route: route.fulfill(
            status=413,
            json={"error": "the upload is 20000000 bytes; at most 16777216 are accepted"},
        ),
    )
    page.locator("#image-file").set_input_files(
        files=[{"name": "big.jpg", "mimeType": "image/jpeg", "buffer": poster_image("red")}]
    )
    message = page.locator("#image-error")
    message.wait_for()
    assert message.inner_text() == (
        "big.jpg is too large to search with. Use an image of at most 16 MB."
    )


def test_the_search_mode_is_in_the_address_and_changes_the_ranking(
    open_page: Callable[..., Any], base_url: str
) -> None:
    """Words and look (the default) put the title holding the word first, and say which
    branches found each poster; "Look only" ranks by the picture; the mode survives reload
    and Back, and a link with an unknown mode says so."""
    page = open_page(base_url)
    search_for(page, "red")
    chip(page, "Any of", "Horror").click()
    wait_titles(page, ["Red Room", "Crimson Hour", "Violet Static"])
    first = page.locator("#results .card").first.locator(".score").text_content() or ""
    assert "found by its look and its words" in first
    page.get_by_text("Search options").click()
    page.get_by_label("Match words by").select_option("vector")
    page.wait_for_function("() => location.search.includes('mode=vector')")
    wait_titles(page, ["Crimson Hour", "Red Room", "Violet Static"])
    assert "its words" not in (page.locator("#results .card").first.text_content() or "")
    page.reload()
    wait_titles(page, ["Crimson Hour", "Red Room", "Violet Static"])
    assert page.get_by_label("Match words by").input_value() == "vector"
    page.go_back()
    wait_titles(page, ["Red Room", "Crimson Hour", "Violet Static"])
    assert page.get_by_label("Match words by").input_value() == ""

    bad = open_page(base_url + "/?query=red&mode=fuzzy")
    bad.locator("#error").filter(has_text="not a way of matching words").wait_for()
    assert bad.locator("#results .card").count() == 0
