"""The page in a real headless chromium, against the app served by uvicorn on 127.0.0.1.

Chromium is Debian's (scripts/install_browser.sh installs it); playwright only drives it,
so `playwright install` is never needed. Without chromium these tests fail under CI and
skip elsewhere, saying why.
"""

from __future__ import annotations

import base64
import os
import re
import socket
import threading
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
import uvicorn

from web_ui.app import create_app

pytestmark = pytest.mark.slow

# Debian's chromium; another path (another distribution's name for it) through the env.
CHROMIUM = Path(os.environ.get("POSTER_SEARCH_CHROMIUM", "/usr/bin/chromium"))
ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
LAUNCH_ARGS = [
    "--no-sandbox",
    "--disable-gpu",
    "--headless",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
    "--disable-sync",
    "--disable-dev-shm-usage",
]
TIMEOUT_MS = 10_000


def _unavailable(reason: str) -> None:
    if os.environ.get("CI", "").lower() in {"1", "true", "yes"}:
        pytest.fail(f"{reason}; run scripts/install_browser.sh (CI must run the browser tests)")
    pytest.skip(reason)


@pytest.fixture(scope="module")
def base_url(web_collection: Any) -> Iterator[str]:
    """The app served by uvicorn in a thread, on a port the OS picked."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    port = sock.getsockname()[1]
    app = create_app(web_collection.search, [web_collection.root])
    config = uvicorn.Config(app, log_config=None, access_log=False, lifespan="off")
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, kwargs={"sockets": [sock]}, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert thread.is_alive() and time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    yield f"http://127.0.0.1:{port}"
    server.should_exit = True
    thread.join(timeout=10)
    sock.close()


@pytest.fixture(scope="module")
def browser() -> Iterator[Any]:
    if not CHROMIUM.exists():
        _unavailable(f"{CHROMIUM} is missing")
    try:
        from playwright.sync_api import sync_playwright
    except ImportError:
        _unavailable("the playwright package is not installed (pip install -e '.[dev]')")
    with sync_playwright() as pw:
        launched = pw.chromium.launch(
            executable_path=str(CHROMIUM), headless=True, args=LAUNCH_ARGS
        )
        yield launched
        launched.close()


@pytest.fixture
def page(browser: Any, base_url: str) -> Iterator[Any]:
    context = browser.new_context(viewport={"width": 1320, "height": 940}, locale="en-US")
    context.set_default_timeout(TIMEOUT_MS)
    # Nothing leaves the machine: posters linked by URL simply fail to load.
    context.route(re.compile(r"^(?!http://127\.0\.0\.1:)"), lambda route: route.abort())
    errors: list[str] = []
    elsewhere: list[str] = []
    opened = context.new_page()
    opened.on("pageerror", lambda exc: errors.append(str(exc)))
    opened.on(
        "request",
        lambda req: None if req.url.startswith(base_url) else elsewhere.append(req.url),
    )
    opened.goto(base_url)
    opened.get_by_role("button", name=re.compile(r"^Drama")).wait_for()
    yield opened
    context.close()
    assert not errors, f"script errors on the page: {errors}"
    # No CDN, font or script from elsewhere: only posters the collection links by URL.
    assert all(url.startswith("https://posters.example/") for url in elsewhere), elsewhere


def card_titles(page: Any) -> list[str]:
    return [str(t) for t in page.locator("#results .card .title").all_text_contents()]


def search_for(page: Any, text: str) -> None:
    box = page.get_by_label("Describe a poster, in English or Korean")
    box.fill(text)
    box.press("Enter")
    page.locator("#status").filter(has_text="posters").wait_for()


def test_page_loads_with_labelled_controls(page: Any) -> None:
    assert page.title() == "Poster search"
    assert page.get_by_role("heading", name="Find a movie by its poster").is_visible()
    for label in ("Year from", "to year", "Min rating"):
        assert page.get_by_label(label, exact=True).is_visible()
    chips = page.locator(".chip")
    assert chips.count() == 7
    assert chips.first.get_attribute("aria-pressed") == "false"
    assert page.get_by_role("button", name="Search by image…").is_visible()


def test_query_returns_a_poster_grid_with_details_on_focus(page: Any) -> None:
    search_for(page, "빨간 포스터")  # Korean for "red poster"
    assert set(card_titles(page)[:3]) == {"Crimson Hour", "Red Room", "Scarlet Line"}
    search_for(page, "네온사인이 많은 사이버펑크 느낌")
    assert len(card_titles(page)) == 20  # the whole collection in one page

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
    page.get_by_role("button", name=re.compile(r"^Horror")).click()
    page.wait_for_function("() => !document.body.classList.contains('busy')")
    horror = card_titles(page)
    assert set(horror) == {"Crimson Hour", "Red Room", "Violet Static"}
    assert len(horror) < everything
    assert "genres_any=Horror" in page.url

    page.get_by_label("Min rating").fill("7")
    page.wait_for_function("() => document.querySelectorAll('#results .card').length === 1")
    assert card_titles(page) == ["Crimson Hour"]


def test_filters_alone_browse_best_rated_first(page: Any) -> None:
    page.get_by_role("button", name=re.compile(r"^Horror")).click()
    page.locator("#status").filter(has_text="best rated first").wait_for()
    assert card_titles(page) == ["Crimson Hour", "Red Room", "Violet Static"]  # 7.1, 5.9, 5.4
    assert page.locator("#results .score").all_text_contents() == ["", "", ""]
    page.get_by_role("button", name="Clear filters").click()
    page.get_by_role("heading", name="Find a movie by its poster").wait_for()
    assert page.locator("#results .card").count() == 0


def test_bad_year_range_shows_a_readable_message(page: Any) -> None:
    search_for(page, "blue")
    page.get_by_label("Year from").fill("2010")
    page.get_by_label("to year", exact=True).fill("1990")
    alert = page.get_by_role("alert")
    alert.wait_for()
    assert "year_from (2010) is after year_to (1990)" in alert.inner_text()
    page.get_by_label("to year", exact=True).fill("2024")
    alert.wait_for(state="hidden")
    titles = card_titles(page)
    assert set(titles[:2]) == {"Deep Blue", "Neon Azure"}
    assert "Cold Harbour" not in titles  # 1975


def test_more_like_this_runs_the_similar_search(page: Any) -> None:
    search_for(page, "red")
    # With the keyboard alone: focus the card, Tab to its button, press Enter.
    card = page.locator("#results .card").filter(has_text="Red Room")
    card.focus()
    page.keyboard.press("Tab")
    button = card.get_by_role("button", name="More like Red Room (2011)")
    assert button.evaluate("el => el === document.activeElement")
    page.keyboard.press("Enter")
    page.locator("#context").filter(has_text="More like Red Room (2011)").wait_for()
    page.locator("#status").filter(has_text="look like Red Room").wait_for()
    titles = card_titles(page)
    assert "Red Room" not in titles
    assert set(titles[:2]) == {"Crimson Hour", "Scarlet Line"}
    page.wait_for_function("() => document.activeElement.id === 'results'")

    page.get_by_role("button", name="Back to text search").click()
    page.locator("#status").filter(has_text="for “red”").wait_for()
    assert page.locator("#context").is_hidden()


def test_search_by_image_with_the_file_picker_and_by_dropping(
    page: Any, poster_image: Callable[[str], bytes]
) -> None:
    page.locator("#image-file").set_input_files(
        files=[{"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": poster_image("blue")}]
    )
    page.locator("#status").filter(has_text="look like blue.jpg").wait_for()
    assert set(card_titles(page)[:3]) == {"Deep Blue", "Cold Harbour", "Neon Azure"}

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
    page.locator("#status").filter(has_text="look like green.jpg").wait_for()
    assert card_titles(page)[0] in {"Green Valley", "Forest Law", "Far Away"}
