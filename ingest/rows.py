"""Rows a dataset reader could not turn into a poster, and the checks that decide it.

Every reader validates with the same rules, so a year, a rating or a duplicate id means
the same thing whichever format it came from.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import TextIO

from postersearch.domain import RATING_MAX, RATING_MIN

# The first films date from the 1870s-1880s; anything outside this range is a typo or a
# shifted column, not a release year.
YEAR_MIN = 1870
YEAR_MAX = 2100

_URL_RE = re.compile(r"^https?://", re.IGNORECASE)


@dataclass(frozen=True)
class RejectedRow:
    """A dataset row that yields no poster.

    Attributes:
        line: 1-based line (JSONL) or CSV record line number in the source file.
        reason: Why the row was rejected, for a person to read.
        raw_id: The row's id as written, when it had one.
        source: Name of the file the row came from.
    """

    line: int
    reason: str
    raw_id: str | None = None
    source: str = ""


class RowError(ValueError):
    """A field of a row is unusable; its message becomes the RejectedRow's reason."""


def open_text(path: Path) -> TextIO:
    """Opens a dataset file as UTF-8 text, keeping bytes that are not UTF-8 readable.

    A byte that does not decode becomes a lone surrogate instead of an exception, so one
    bad byte costs its row (see `undecodable`), not the whole file.
    """
    return path.open(newline="", encoding="utf-8-sig", errors="surrogateescape")


def undecodable(values: Iterable[object]) -> str | None:
    """Why a row read through `open_text` is not UTF-8 text, or None when it is."""
    for value in values:
        if isinstance(value, list):
            # csv.DictReader gathers the cells past the header into a list.
            reason = undecodable(value)
            if reason:
                return reason
            continue
        if not isinstance(value, str):
            continue
        try:
            value.encode("utf-8")
        except UnicodeEncodeError as exc:
            byte = ord(value[exc.start]) - 0xDC00
            shown = value[: exc.start][-20:]
            return f"not UTF-8 text: byte 0x{byte:02x} after {shown!r}"
    return None


def is_url(ref: str) -> bool:
    """True when ref is an http(s) URL rather than a file path."""
    return bool(_URL_RE.match(ref))


def clean_text(value: object) -> str:
    """The value as a stripped string; None and NaN-like values become ""."""
    if value is None:
        return ""
    if isinstance(value, float) and math.isnan(value):
        return ""
    return str(value).strip()


def parse_id(value: object) -> str:
    """A non-empty movie id.

    Raises:
        RowError: The id is missing.
    """
    if isinstance(value, float) and value.is_integer():
        value = int(value)
    text = clean_text(value)
    if not text:
        raise RowError("missing id")
    return text


def parse_title(value: object) -> str:
    """A non-empty title.

    Raises:
        RowError: The title is missing.
    """
    text = clean_text(value)
    if not text:
        raise RowError("missing title")
    return text


def parse_year(value: object) -> int | None:
    """A release year, or None when the field is empty.

    Raises:
        RowError: Not a whole number, or outside YEAR_MIN..YEAR_MAX.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowError(f"bad year {value!r}")
    if isinstance(value, int):
        year = value
    else:
        text = clean_text(value)
        if not text:
            return None
        try:
            number = float(text)
        except ValueError:
            raise RowError(f"bad year {text!r}") from None
        # "1995.0" comes out of spreadsheets and pandas exports; "1995.5" is no year.
        if not number.is_integer():
            raise RowError(f"bad year {text!r}")
        year = int(number)
    if not YEAR_MIN <= year <= YEAR_MAX:
        raise RowError(f"year {year} outside {YEAR_MIN}-{YEAR_MAX}")
    return year


def parse_rating(value: object) -> float | None:
    """A rating on the 0-10 scale, or None when the field is empty.

    Raises:
        RowError: Not a number, NaN, or outside 0-10.
    """
    if value is None:
        return None
    if isinstance(value, bool):
        raise RowError(f"bad rating {value!r}")
    if isinstance(value, int | float):
        rating = float(value)
    else:
        text = clean_text(value)
        if not text:
            return None
        try:
            rating = float(text)
        except ValueError:
            raise RowError(f"bad rating {text!r}") from None
    if math.isnan(rating) or not RATING_MIN <= rating <= RATING_MAX:
        raise RowError(f"rating {value} outside {RATING_MIN:g}-{RATING_MAX:g}")
    return rating


def _pipe_parts(value: object, bad_value: str, bad_part: str) -> list[str]:
    """The stripped, non-empty parts of a pipe-separated string or a list of strings.

    Args:
        value: The field as read.
        bad_value: The message for a value that is neither ({value!r} filled in).
        bad_part: The message for a list item that is not a string ({part!r} filled in).

    Raises:
        RowError: The value is neither a string nor a list of strings.
    """
    if value is None:
        return []
    if isinstance(value, str):
        parts: list[object] = list(value.split("|"))
    elif isinstance(value, list | tuple):
        parts = list(value)
    else:
        raise RowError(bad_value.format(value=value))
    stripped: list[str] = []
    for part in parts:
        if not isinstance(part, str):
            raise RowError(bad_part.format(part=part))
        if part.strip():
            stripped.append(part.strip())
    return stripped


def split_genres(value: object) -> tuple[str, ...]:
    """Genres from a pipe-separated string or a list, stripped and de-duplicated in order.

    Raises:
        RowError: The value is neither a string nor a list of strings.
    """
    parts = _pipe_parts(value, "bad genres {value!r}", "bad genre {part!r}")
    return tuple(dict.fromkeys(parts))


def split_texts(value: object) -> tuple[str, ...]:
    """Short texts (keywords, tags, alternative titles) from a pipe-separated string or a
    list, stripped and de-duplicated case-insensitively, first spelling kept.

    Raises:
        RowError: The value is neither a string nor a list of strings.
    """
    parts = _pipe_parts(value, "bad text list {value!r}", "bad text {part!r} in a list")
    first_spelling: dict[str, str] = {}
    for text in parts:
        first_spelling.setdefault(text.casefold(), text)
    return tuple(first_spelling.values())


def parse_text(name: str, value: object) -> str:
    """An optional free-text field ("" when empty).

    Raises:
        RowError: The value is a list or mapping rather than text.
    """
    if isinstance(value, list | tuple | dict):
        raise RowError(f"bad {name} {value!r}: expected text")
    return clean_text(value)


class SeenIds:
    """Remembers the ids a reader has yielded, so the second row with an id is rejected."""

    def __init__(self) -> None:
        self._first_line: dict[str, int] = {}

    def check(self, movie_id: str, line: int) -> None:
        """Records movie_id at line.

        Raises:
            RowError: movie_id was already seen on an earlier line.
        """
        first = self._first_line.setdefault(movie_id, line)
        if first != line:
            raise RowError(f"duplicate id {movie_id!r} (first on line {first})")
