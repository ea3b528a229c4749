"""The page on a phone, at high zoom, on touch screens, with the keyboard, and under axe-core."""

from __future__ import annotations

import re
from collections.abc import Callable
from typing import Any

import pytest
from page_helpers import (
    ARTIFACTS,
    QUERY_LABEL,
    axe_violations,
    card_titles,
    chip,
    search_for,
    settled,
)

pytestmark = pytest.mark.slow

DESKTOP = {"width": 1440, "height": 900}
PHONE = {"width": 390, "height": 844}
TOUCH = {"has_touch": True, "is_mobile": True, "device_scale_factor": 3}


def rect(locator: Any) -> dict[str, float]:
    box = locator.bounding_box()
    assert box is not None
    return dict(box)


def test_on_a_phone_the_first_poster_is_on_the_first_screen(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url, viewport=PHONE, **TOUCH)
    toggle = page.get_by_role("button", name=re.compile("^Filters"))
    assert toggle.get_attribute("aria-expanded") == "false"
    assert page.get_by_label("Year from").is_hidden()
    toggle.click()
    assert page.get_by_label("Year from").is_visible()
    chip(page, "Any of", "Drama").click()
    settled(page)
    assert "1 set" in toggle.inner_text()
    search_for(page, "blue")
    # The search folds the filters away again: the results come first.
    assert toggle.get_attribute("aria-expanded") == "false"
    frame = rect(page.locator("#results .card .frame").first)
    assert frame["y"] >= 0 and frame["y"] + frame["height"] <= PHONE["height"], frame
    # Nothing sits over it.
    centre_is_card = page.evaluate(
        "([x, y]) => !!document.elementFromPoint(x, y).closest('#results .card')",
        [frame["x"] + frame["width"] / 2, frame["y"] + frame["height"] / 2],
    )
    assert centre_is_card
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "web-phone-results.png"))


def test_at_400_percent_zoom_the_header_scrolls_away(
    open_page: Callable[..., Any], big_url: str
) -> None:
    # 1280x1024 at 400% zoom leaves a 320x256 CSS-pixel viewport.
    page = open_page(big_url + "/?genres_any=Drama", viewport={"width": 320, "height": 256})
    page.locator("#status").filter(has_text="best rated first").wait_for()
    page.locator("#results .card").nth(4).scroll_into_view_if_needed()
    header = rect(page.locator("#topbar"))
    assert header["y"] + header["height"] <= 0  # not stuck over the content


def test_on_touch_screens_the_details_sit_under_the_poster(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url, viewport=PHONE, **TOUCH)
    assert page.evaluate("() => matchMedia('(hover: none)').matches")
    assert page.locator("#drop-hint").is_hidden()  # no dragging files on a phone
    search_for(page, "green")
    for title in ("Green Valley", "Far Away"):  # Far Away has no image
        card = page.locator("#results .card").filter(has_text=title)
        frame, info = rect(card.locator(".frame")), rect(card.locator(".info"))
        assert info["y"] >= frame["y"] + frame["height"] - 1, (title, frame, info)
    far = page.locator("#results .card").filter(has_text="Far Away")
    # The title shows once, under the frame; the frame only says the image is missing.
    assert far.locator(".placeholder").evaluate("el => getComputedStyle(el).fontSize") == "0px"
    assert far.locator(".title").is_visible()


def test_a_missing_poster_shows_its_title_once_on_hover(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url)
    search_for(page, "green")
    far = page.locator("#results .card").filter(has_text="Far Away")
    placeholder = far.locator(".placeholder")
    assert placeholder.evaluate("el => getComputedStyle(el).color") != "rgba(0, 0, 0, 0)"
    far.hover()
    page.wait_for_function(
        "el => getComputedStyle(el).color === 'rgba(0, 0, 0, 0)'", arg=placeholder.element_handle()
    )


def test_keyboard_focus_is_never_under_the_sticky_header(
    open_page: Callable[..., Any], big_url: str
) -> None:
    page = open_page(big_url + "/?genres_any=Drama", viewport={"width": 1440, "height": 600})
    page.locator("#status").filter(has_text="best rated first").wait_for()

    def header_bottom() -> float:
        box = rect(page.locator("#topbar"))
        return box["y"] + box["height"]

    def focused_top() -> float:
        return float(page.evaluate("() => document.activeElement.getBoundingClientRect().top"))

    page.keyboard.press("Tab")  # the skip link
    assert page.evaluate("() => document.activeElement.textContent") == "Skip to results"
    page.keyboard.press("Enter")
    page.keyboard.press("Tab")
    assert page.evaluate("() => document.activeElement.classList.contains('card')")
    assert focused_top() >= header_bottom()
    # Down the grid, then back up it with Shift+Tab.
    for _ in range(30):
        page.keyboard.press("Tab")
    for _ in range(30):
        page.keyboard.press("Shift+Tab")
        assert focused_top() >= header_bottom() - 1, page.evaluate(
            "() => document.activeElement.outerHTML.slice(0, 80)"
        )


def test_few_tab_stops_from_the_box_to_the_first_poster(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url)
    search_for(page, "red")
    page.get_by_label(QUERY_LABEL).focus()
    presses = 0
    while not page.evaluate("() => document.activeElement.classList.contains('card')"):
        page.keyboard.press("Tab")
        presses += 1
        # Ten controls and the closed "Match options" disclosure (one stop however many
        # options it holds).
        assert presses <= 11, "more than eleven Tab presses from the box to the first poster"
    # Inside a row of chips the arrow keys move.
    chip(page, "Any of", "Drama").focus()
    page.keyboard.press("ArrowRight")
    assert page.evaluate("() => document.activeElement.dataset.genre") == "Comedy"


def test_chosen_chips_stay_visible_in_forced_colours(
    open_page: Callable[..., Any], base_url: str
) -> None:
    page = open_page(base_url)
    page.emulate_media(forced_colors="active")
    chip(page, "Any of", "Drama").click()
    settled(page)
    look = (
        "el => { const s = getComputedStyle(el);"
        " return [s.backgroundColor, s.borderTopWidth, getComputedStyle(el, '::before').content]; }"
    )
    chosen = chip(page, "Any of", "Drama").evaluate(look)
    other = chip(page, "Any of", "Comedy").evaluate(look)
    assert chosen[0] != other[0] and chosen[1] != other[1]
    assert "✓" in chosen[2]


def test_the_phone_placeholder_fits_its_box(open_page: Callable[..., Any], base_url: str) -> None:
    page = open_page(base_url, viewport=PHONE, **TOUCH)
    fits = page.evaluate(
        """() => {
            const box = document.getElementById('query');
            const s = getComputedStyle(box);
            const ctx = document.createElement('canvas').getContext('2d');
            ctx.font = `${s.fontWeight} ${s.fontSize} ${s.fontFamily}`;
            const room = box.clientWidth - parseFloat(s.paddingLeft) - parseFloat(s.paddingRight);
            return ctx.measureText(box.placeholder).width <= room;
        }"""
    )
    assert fits


def _five_states(page: Any, poster_image: Callable[[str], bytes]) -> Any:
    """Yields the names of five states of the page as it reaches each one."""
    yield "start"
    if page.get_by_label("Year from").is_hidden():
        page.get_by_role("button", name=re.compile("^Filters")).click()
    search_for(page, "red")
    if page.get_by_label("Year from").is_hidden():
        page.get_by_role("button", name=re.compile("^Filters")).click()
    chip(page, "Any of", "Horror").click()
    settled(page)
    yield "results"
    card = page.locator("#results .card").first
    card.focus()
    card.get_by_role("button", name="More like this", exact=False).click()
    page.locator("#status").filter(has_text="like").wait_for()
    settled(page)
    yield "similar"
    page.locator("#image-file").set_input_files(
        files=[{"name": "blue.jpg", "mimeType": "image/jpeg", "buffer": poster_image("blue")}]
    )
    page.locator("#status").filter(has_text="like blue.jpg").wait_for()
    settled(page)
    yield "image"
    if page.get_by_label("Year from").is_hidden():
        page.get_by_role("button", name=re.compile("^Filters")).click()
    page.get_by_label("Year from").fill("2010")
    page.get_by_label("to year", exact=True).fill("1990")
    page.locator("#year-to-error").wait_for()
    yield "error"


@pytest.mark.parametrize("size", ["desktop", "phone"])
def test_no_serious_accessibility_violations(
    open_page: Callable[..., Any],
    base_url: str,
    poster_image: Callable[[str], bytes],
    size: str,
) -> None:
    viewport = DESKTOP if size == "desktop" else PHONE
    options = {} if size == "desktop" else TOUCH
    page = open_page(base_url, viewport=viewport, **options)
    page.emulate_media(reduced_motion="reduce")  # no transitions half-way during the checks
    seen = []
    for state in _five_states(page, poster_image):
        page.wait_for_timeout(100)
        violations = axe_violations(page)
        assert not violations, (state, violations)
        seen.append(state)
        page.screenshot(path=str(ARTIFACTS / f"web-{size}-{state}.png"))
    assert seen == ["start", "results", "similar", "image", "error"]
    assert card_titles(page)  # the error state still shows the previous results


def test_text_and_control_borders_have_enough_contrast(
    open_page: Callable[..., Any], base_url: str
) -> None:
    """What axe-core does not measure: placeholders (4.5:1) and control borders (3:1)."""
    page = open_page(base_url)
    ratios = page.evaluate(
        """() => {
            const rgb = (c) => c.match(/[\\d.]+/g).slice(0, 3).map(Number);
            const lum = (c) => {
                const [r, g, b] = rgb(c).map((v) => {
                    v /= 255;
                    return v <= 0.03928 ? v / 12.92 : ((v + 0.055) / 1.055) ** 2.4;
                });
                return 0.2126 * r + 0.7152 * g + 0.0722 * b;
            };
            const ratio = (a, b) => {
                const [x, y] = [lum(a), lum(b)].sort((p, q) => q - p);
                return (x + 0.05) / (y + 0.05);
            };
            const page = getComputedStyle(document.documentElement).backgroundColor;
            const out = {};
            for (const id of ['query', 'year-from', 'min-rating']) {
                const el = document.getElementById(id);
                const s = getComputedStyle(el);
                const hint = getComputedStyle(el, '::placeholder').color;
                out[id + ' placeholder'] = ratio(hint, s.backgroundColor);
                out[id + ' border'] = Math.min(
                    ratio(s.borderTopColor, page), ratio(s.borderTopColor, s.backgroundColor));
            }
            const chip = document.querySelector('.chip');
            const c = getComputedStyle(chip);
            out['chip border'] = Math.min(
                ratio(c.borderTopColor, page), ratio(c.borderTopColor, c.backgroundColor));
            return out;
        }"""
    )
    for name, value in ratios.items():
        assert value >= (4.5 if "placeholder" in name else 3.0), (name, value)
