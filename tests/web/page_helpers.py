"""Small steps the browser tests share: searching, waiting, reading the grid."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

ARTIFACTS = Path(__file__).resolve().parents[2] / "test-artifacts"
AXE = Path(__file__).resolve().parent / "assets" / "axe.min.js"
QUERY_LABEL = "Describe a poster, in English or Korean"


def card_titles(page: Any) -> list[str]:
    return [str(t) for t in page.locator("#results .card .title").all_text_contents()]


def settled(page: Any) -> None:
    """Waits until no search is on its way."""
    page.wait_for_function(
        "() => !document.body.classList.contains('busy') &&"
        " document.getElementById('status').textContent !== 'Searching…'"
    )


def search_for(page: Any, text: str) -> None:
    box = page.get_by_label(QUERY_LABEL)
    box.fill(text)
    box.press("Enter")
    page.locator("#status").filter(has_text=re.compile("poster")).wait_for()
    settled(page)


def chip(page: Any, row: str, genre: str) -> Any:
    """The chip of a genre in the row "Any of", "All of" or "None of"."""
    return page.get_by_role("toolbar", name=row).get_by_role(
        "button", name=re.compile(rf"^{re.escape(genre)},")
    )


def wait_titles(page: Any, expected: list[str]) -> None:
    page.wait_for_function(
        "want => JSON.stringify([...document.querySelectorAll('#results .card .title')]"
        ".map(t => t.textContent)) === JSON.stringify(want)",
        arg=expected,
    )


def axe_violations(page: Any) -> list[dict[str, Any]]:
    """Serious and critical axe-core violations of the page as it is now."""
    if not page.evaluate("() => typeof window.axe !== 'undefined'"):
        # Evaluated through the devtools protocol: the page's CSP rightly refuses inline scripts.
        page.evaluate(AXE.read_text(encoding="utf-8") + "\n;undefined")
    found = page.evaluate(
        "async () => (await axe.run(document, {resultTypes: ['violations']})).violations"
        ".map(v => ({id: v.id, impact: v.impact,"
        " nodes: v.nodes.map(n => n.target.join(' ') + ': ' + n.failureSummary)}))"
    )
    return [v for v in found if v["impact"] in {"serious", "critical"}]
