"""The page's everyday flows in a real headless chromium, against the app on 127.0.0.1.

Chromium is Debian's (scripts/install_browser.sh installs it); playwright only drives it,
so `playwright install` is never needed. Without chromium these tests fail under CI and
skip elsewhere, saying why.
"""

from __future__ import annotations

import base64
import re
from collections.abc import Callable
from typing import Any

import pytest
from page_helpers import (
    ARTIFACTS,
    QUERY_LABEL,
    card_titles,
    chip,
    search_for,
    settled,
    wait_titles,
)

pytestmark = pytest.mark.slow


@pytest.fixture
def page(open_page: Callable[..., Any], base_url: str) -> Any:
    return open_page(base_url)


def test_page_loads_with_labelled_controls(page: Any, base_url: str) -> None:
    assert page.title() == "Poster search"
    assert page.get_by_role("heading", name="Find a movie by its poster", level=1).is_visible()
    for label in ("Year from", "to year", "Min rating"):
        assert page.get_by_label(label, exact=True).is_visible()
    chips = page.get_by_role("toolbar", name="Any of").locator(".chip")
    assert chips.count() == 7
    assert chips.first.get_attribute("aria-pressed") == "false"
    # A chip reads as its genre and its count, not "Drama8".
    assert chip(page, "Any of", "Drama").get_attribute("aria-label") == "Drama, 8 posters"
    page.get_by_text("All of, none of").click()
    assert page.get_by_role("button", name="Drama, 8 posters").count() == 3  # any, all, none
    assert page.get_by_role("button", name="Search by image…").is_visible()
    # The Korean examples are marked Korean, for screen readers and fonts.
    korean = page.locator(".example", has_text="네온사인")
    assert korean.get_attribute("lang") == "ko"
    # A favicon of its own (no 404 for /favicon.ico).
    icon = page.locator("link[rel=icon]").get_attribute("href")
    assert page.request.get(base_url + icon).status == 200


def test_query_returns_a_poster_grid_with_details_on_focus(page: Any) -> None:
    search_for(page, "빨간 포스터")  # Korean for "red poster"
    assert set(card_titles(page)[:3]) == {"Crimson Hour", "Red Room", "Scarlet Line"}
    # A level-one heading names what is shown, and so does the tab's title.
    assert page.get_by_role("heading", level=1).inner_text() == "Posters for “빨간 포스터”"
    assert page.title() == "Posters for “빨간 포스터” · Poster search"
    search_for(page, "네온사인이 많은 사이버펑크 느낌")
    assert len(card_titles(page)) == 20  # the whole collection in one page
    # The model's name or path is not shown to visitors.
    assert "mean-colour" not in page.content()

    first = page.locator("#results .card").first
    image = first.locator("img.poster")
    image.evaluate("img => img.decode()")
    assert image.evaluate("img => img.naturalWidth") == 200  # served from the poster root
    assert re.fullmatch(r"Poster of .+ \(\d{4}\)", image.get_attribute("alt"))

    assert first.get_attribute("tabindex") == "0"  # reachable with the keyboard
    first.focus()
    info = first.locator(".info")
    page.wait_for_function("el => getComputedStyle(el).opacity === '1'", arg=info.element_handle())
    text = info.inner_text()
    assert re.search(r"\d{4}", text) and "★" in text and "score" in text
    assert first.locator(".genres-line").inner_text()

    ARTIFACTS.mkdir(exist_ok=True)
    page.locator("#results .card").nth(2).hover()
    page.wait_for_timeout(250)  # let the hover transition finish before the picture
    page.screenshot(path=str(ARTIFACTS / "web-results.png"), full_page=True)


def test_genre_chip_and_filters_narrow_the_grid(page: Any) -> None:
    search_for(page, "red")
    everything = len(card_titles(page))
    chip(page, "Any of", "Horror").click()
    # Hybrid search: the title holding the query's word comes first, then the look-alikes.
    wait_titles(page, ["Red Room", "Crimson Hour", "Violet Static"])
    assert len(card_titles(page)) < everything
    assert "genres_any=Horror" in page.url
    assert chip(page, "Any of", "Horror").get_attribute("aria-pressed") == "true"

    page.get_by_label("Min rating").fill("7")
    wait_titles(page, ["Crimson Hour"])


def test_a_filter_click_searches_the_words_in_the_box(page: Any) -> None:
    search_for(page, "red")
    # New words typed but not submitted: the filter searches what the box says now.
    page.get_by_label(QUERY_LABEL).fill("blue")
    chip(page, "Any of", "Sci-Fi").click()
    page.locator("#status").filter(has_text="for “blue”").wait_for()
    assert card_titles(page)[0] == "Deep Blue"
    assert "query=blue" in page.url


def test_none_of_genres_leave_genres_out(page: Any) -> None:
    search_for(page, "red")
    assert "Crimson Hour" in card_titles(page)
    page.get_by_text("All of, none of").click()
    chip(page, "None of", "Horror").click()
    page.wait_for_function("() => location.search.includes('genres_none=Horror')")
    settled(page)
    titles = card_titles(page)
    assert titles and not {"Crimson Hour", "Red Room", "Violet Static"} & set(titles)
    # Choosing a genre for "Any of" takes it out of "None of": both at once match nothing.
    chip(page, "Any of", "Horror").click()
    page.wait_for_function("() => location.search.includes('genres_any=Horror')")
    assert chip(page, "None of", "Horror").get_attribute("aria-pressed") == "false"
    assert "genres_none" not in page.url


def test_filters_alone_browse_best_rated_first(page: Any) -> None:
    chip(page, "Any of", "Horror").click()
    page.locator("#status").filter(has_text="best rated first").wait_for()
    assert card_titles(page) == ["Crimson Hour", "Red Room", "Violet Static"]  # 7.1, 5.9, 5.4
    assert page.locator("#results .score").all_text_contents() == ["", "", ""]
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_role("heading", name="Find a movie by its poster").wait_for()
    assert page.locator("#results .card").count() == 0


def test_bad_year_range_is_explained_beside_the_field(page: Any) -> None:
    search_for(page, "blue")
    page.get_by_label("Year from").fill("2010")
    page.get_by_label("Year from").press("Tab")
    page.wait_for_function("() => location.search.includes('year_from=2010')")
    settled(page)
    before = card_titles(page)
    year_to = page.get_by_label("to year", exact=True)
    year_to.fill("1990")
    page.wait_for_function("() => document.getElementById('year-to-error').textContent !== ''")
    message = page.locator("#year-to-error").inner_text()
    assert "“to” (1990) is before “Year from” (2010)" in message and "Swap" in message
    assert year_to.get_attribute("aria-invalid") == "true"
    # The message is the field's description, so a screen reader reads it with the field.
    assert "year-to-error" in year_to.get_attribute("aria-describedby")
    assert card_titles(page) == before  # the previous results stay
    year_to.fill("2024")
    page.locator("#year-to-error").wait_for(state="hidden")
    settled(page)
    titles = card_titles(page)
    assert set(titles[:2]) == {"Deep Blue", "Neon Azure"}
    assert "Cold Harbour" not in titles  # 1975
    assert year_to.get_attribute("aria-invalid") is None


def test_ratings_take_any_decimal_and_the_wheel_changes_nothing(page: Any) -> None:
    search_for(page, "red")
    rating = page.get_by_label("Min rating")
    rating.fill("7.3")
    rating.press("Tab")
    page.wait_for_function("() => location.search.includes('min_rating=7.3')")
    settled(page)
    titles = card_titles(page)
    assert "Sunflower Road" in titles and "Crimson Hour" not in titles  # 7.3 and 7.1
    assert rating.get_attribute("aria-invalid") is None
    calls = len(page.watch.api_calls)
    rating.focus()
    rating.hover()
    page.mouse.wheel(0, -300)
    page.mouse.wheel(0, 300)
    page.wait_for_timeout(700)  # longer than the typing pause that starts a search
    assert rating.input_value() == "7.3"
    assert len(page.watch.api_calls) == calls


def test_a_typed_filter_sends_one_request(page: Any) -> None:
    search_for(page, "red")
    calls = len(page.watch.api_calls)
    page.get_by_label("Year from").fill("1990")
    settled(page)
    page.wait_for_timeout(600)  # the pause after typing starts the search
    page.get_by_label("Year from").press("Tab")  # leaving the field commits it once more
    page.wait_for_timeout(300)
    settled(page)
    searches = [c for c in page.watch.api_calls[calls:] if c.startswith("GET /api/search")]
    assert len(searches) == 1, searches


def test_long_text_wraps_and_text_over_the_limit_is_explained(page: Any) -> None:
    search_for(page, "red " + "x" * 480)
    width = page.evaluate("() => document.documentElement.scrollWidth")
    assert width <= 1440
    page.get_by_label(QUERY_LABEL).fill("red " * 150)  # 599 characters once trimmed
    page.get_by_label(QUERY_LABEL).press("Enter")
    box_error = page.locator("#query-error")
    box_error.wait_for()
    assert "599 characters" in box_error.inner_text() and "500 or fewer" in box_error.inner_text()
    assert page.get_by_label(QUERY_LABEL).get_attribute("aria-invalid") == "true"
    # Nothing was cut: the box still holds every character.
    assert len(page.get_by_label(QUERY_LABEL).input_value()) == 600


def test_more_like_this_runs_the_similar_search(page: Any) -> None:
    search_for(page, "red")
    # With the keyboard alone: focus the card, Tab to its button, press Enter.
    card = page.locator("#results .card").filter(has_text="Red Room")
    card.focus()
    page.keyboard.press("Tab")
    # The name starts with what the button shows (WCAG 2.5.3, label in name).
    button = card.get_by_role("button", name="More like this: Red Room (2011)", exact=True)
    assert button.evaluate("el => el === document.activeElement")
    page.mouse.wheel(0, 400)
    # The wheel scrolls on its own time (animated); Enter is pressed once it has ended, so
    # the page's own jump to the top is what the assertions below see.
    page.wait_for_function(
        "() => window.scrollY >= Math.min(400, document.documentElement.scrollHeight"
        " - window.innerHeight)"
    )
    assert page.evaluate("() => window.scrollY") > 0
    page.keyboard.press("Enter")
    heading = page.get_by_role("heading", name="More like Red Room (2011)", level=1)
    heading.wait_for()
    page.locator("#status").filter(has_text="like Red Room").wait_for()
    titles = card_titles(page)
    assert "Red Room" not in titles
    assert set(titles[:2]) == {"Crimson Hour", "Scarlet Line"}
    # The new search is seen from its top: heading focused and in view, the old words gone.
    assert heading.evaluate("el => el === document.activeElement")
    assert page.evaluate("() => window.scrollY") == 0
    assert page.get_by_label(QUERY_LABEL).input_value() == ""
    assert "similar=3" in page.url

    page.get_by_role("button", name="Back to text search").click()
    page.locator("#status").filter(has_text="for “red”").wait_for()
    assert page.get_by_label(QUERY_LABEL).input_value() == "red"
    assert page.get_by_role("button", name="Back to text search").is_hidden()


def test_search_by_image_with_the_file_picker_and_by_dropping(
    page: Any, poster_image: Callable[[str], bytes]
) -> None:
    page.locator("#image-file").set_input_files(
        files=[{"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": poster_image("blue")}]
    )
    page.locator("#status").filter(has_text="like blue.jpg").wait_for()
    assert set(card_titles(page)[:3]) == {"Deep Blue", "Cold Harbour", "Neon Azure"}
    assert page.locator("#context-image").is_visible()

    page.evaluate(
        """b64 => {
            const bytes = Uint8Array.from(atob(b64), c => c.charCodeAt(0));
            const data = new DataTransfer();
            data.items.add(new File([bytes], "green.jpg", {type: "image/jpeg"}));
            document.body.dispatchEvent(
                new DragEvent("drop", {dataTransfer: data, bubbles: true, cancelable: true}));
        }""",
        base64.b64encode(poster_image("green")).decode(),
    )
    page.locator("#status").filter(has_text="like green.jpg").wait_for()
    assert card_titles(page)[0] in {"Green Valley", "Forest Law", "Far Away"}


def test_a_failed_image_search_leaves_the_last_good_one(
    page: Any, poster_image: Callable[[str], bytes]
) -> None:
    page.locator("#image-file").set_input_files(
        files=[{"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": poster_image("blue")}]
    )
    page.locator("#status").filter(has_text="like blue.jpg").wait_for()
    blue = card_titles(page)
    page.locator("#image-file").set_input_files(
        files=[{"name": "broken.jpg", "mimeType": "image/jpeg", "buffer": b"not a jpeg at all"}]
    )
    message = page.locator("#image-error")
    message.wait_for()
    assert "broken.jpg could not be used" in message.inner_text()
    # What is on screen is still the blue search, and says so.
    assert page.get_by_role("heading", level=1).inner_text() == "Posters that look like blue.jpg"
    assert card_titles(page) == blue
    # A later filter change reruns the search on screen (blue), never the broken file.
    uploads = len([c for c in page.watch.api_calls if "search-by-image" in c])
    chip(page, "Any of", "Crime").click()
    wait_titles(page, ["Cold Harbour", "Forest Law", "Scarlet Line"])
    assert len([c for c in page.watch.api_calls if "search-by-image" in c]) == uploads + 1
    assert message.is_hidden()


def test_files_too_large_or_not_images_are_refused_before_upload(page: Any) -> None:
    calls = len(page.watch.api_calls)
    big = b"\xff\xd8" + b"\0" * (17 * 1024 * 1024)
    page.locator("#image-file").set_input_files(
        files=[{"name": "huge.jpg", "mimeType": "image/jpeg", "buffer": big}]
    )
    message = page.locator("#image-error")
    message.wait_for()
    assert message.inner_text() == (
        "huge.jpg is 17 MB; images of at most 16 MB can be searched with. Choose a smaller file."
    )
    page.locator("#image-file").set_input_files(
        files=[{"name": "notes.txt", "mimeType": "text/plain", "buffer": b"hello"}]
    )
    page.locator("#image-error").filter(has_text="notes.txt is not a JPEG, PNG or WebP").wait_for()
    assert not [c for c in page.watch.api_calls[calls:] if "search-by-image" in c]


def test_an_unreachable_server_is_reported(page: Any) -> None:
    page.route("**/api/search?*", lambda route: route.abort())
    page.get_by_label(QUERY_LABEL).fill("red")
    page.get_by_label(QUERY_LABEL).press("Enter")
    page.get_by_role("alert").filter(has_text="could not be reached").wait_for()
