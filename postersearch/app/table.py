"""Results as a plain-text table for the terminal, wide characters (Korean) measured right."""

from __future__ import annotations

import unicodedata
from collections.abc import Sequence

from postersearch.domain import SearchHit

_HEADERS = ("#", "score", "title", "year", "genres", "rating", "poster")
_MAX_WIDTH = {"title": 36, "genres": 30, "poster": 48}


def display_width(text: str) -> int:
    """Columns text takes in a terminal: East Asian wide and full-width characters take two."""
    return sum(2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in text)


def _fit(text: str, width: int, keep_end: bool = False) -> str:
    """Shortens text to width columns with an ellipsis (at the start when keep_end)."""
    if display_width(text) <= width:
        return text
    chars = list(reversed(text)) if keep_end else list(text)
    out: list[str] = []
    used = 1  # the ellipsis
    for c in chars:
        w = display_width(c)
        if used + w > width:
            break
        out.append(c)
        used += w
    kept = "".join(reversed(out)) if keep_end else "".join(out)
    return "…" + kept if keep_end else kept + "…"


def _pad(text: str, width: int, right: bool) -> str:
    gap = " " * (width - display_width(text))
    return gap + text if right else text + gap


def format_table(hits: Sequence[SearchHit], offset: int = 0, show_score: bool = True) -> str:
    """The hits as an aligned table, ranks counted from offset + 1.

    Args:
        hits: The results, best first.
        offset: How many results precede these (for the rank column).
        show_score: False when browsing by rating, where the score is the rating again.
    """
    if not hits:
        return "(no posters match)"
    rows: list[tuple[str, ...]] = []
    for rank, hit in enumerate(hits, start=offset + 1):
        p = hit.poster
        rows.append(
            (
                str(rank),
                f"{hit.score:.3f}",
                _fit(p.title, _MAX_WIDTH["title"]),
                "" if p.year is None else str(p.year),
                _fit(", ".join(p.genres), _MAX_WIDTH["genres"]),
                "" if p.rating is None else f"{p.rating:.1f}",
                _fit(p.poster, _MAX_WIDTH["poster"], keep_end=True),
            )
        )
    headers: tuple[str, ...] = _HEADERS
    if not show_score:
        headers = (headers[0], *headers[2:])
        rows = [(row[0], *row[2:]) for row in rows]
    if any(hit.probability is not None for hit in hits):
        # The model's match probability, where it defines one (SigLIP).
        headers = (*headers, "prob")
        rows = [
            (*row, "" if hit.probability is None else f"{hit.probability:.3f}")
            for row, hit in zip(rows, hits, strict=True)
        ]
    if any(hit.found_by for hit in hits):
        # Which retrieval branches returned each poster, last so the columns above keep
        # their places.
        headers = (*headers, "found by")
        rows = [(*row, "+".join(hit.found_by)) for row, hit in zip(rows, hits, strict=True)]
    widths = [max(display_width(r[i]) for r in [headers, *rows]) for i in range(len(headers))]
    numeric = {0, 1, 3, 5} if show_score else {0, 2, 4}
    lines = [
        "  ".join(_pad(cell, widths[i], i in numeric) for i, cell in enumerate(row)).rstrip()
        for row in [headers, *rows]
    ]
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)
