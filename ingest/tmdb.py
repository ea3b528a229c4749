"""Kaggle's TMDB "The Movies Dataset": movies_metadata.csv.

Genres are a Python literal (``[{'id': 18, 'name': 'Drama'}]``), the year comes from
``release_date`` (YYYY-MM-DD), ``vote_average`` is on 0-10 and ``poster_path`` ("/abc.jpg")
is resolved against a local posters folder or an image base URL. The published file has
rows broken by stray newlines (an "id" such as "1997-08-20", unparseable genres); they are
rejected with their reason.

The words about each movie come along: ``original_title`` (when it differs from the title),
``overview`` and ``tagline`` from movies_metadata.csv, and the keyword names of the dataset's
``keywords.csv`` (``id,keywords`` with the same literal form) when it lies beside it.
"""

from __future__ import annotations

import ast
import csv
import re
import sys
from collections.abc import Iterator
from pathlib import Path

from ingest.posterdir import PosterDir
from ingest.rows import (
    RejectedRow,
    RowError,
    SeenIds,
    clean_text,
    open_text,
    parse_rating,
    parse_title,
    parse_year,
    undecodable,
)
from postersearch.domain import Poster

DEFAULT_POSTER_BASE_URL = "https://image.tmdb.org/t/p/w500"
_DATE = re.compile(r"^(\d{4})-\d{2}-\d{2}$")

# Overviews in the published file exceed the csv module's default 128 KiB field limit
# when a broken quote swallows the following rows.
csv.field_size_limit(min(sys.maxsize, 2**31 - 1))


def parse_genres_literal(value: str) -> tuple[str, ...]:
    """Genre names from the ``[{'id': .., 'name': ..}]`` literal.

    Raises:
        RowError: The literal does not parse or is not a list of named genres.
    """
    text = value.strip()
    if not text:
        return ()
    try:
        parsed = ast.literal_eval(text)
    except (ValueError, SyntaxError, MemoryError, RecursionError):
        raise RowError("unparseable genres") from None
    if not isinstance(parsed, list):
        raise RowError("genres are not a list")
    names: list[str] = []
    for item in parsed:
        name = item.get("name") if isinstance(item, dict) else None
        if not isinstance(name, str) or not name.strip():
            raise RowError("genre without a name")
        if name.strip() not in names:
            names.append(name.strip())
    return tuple(names)


def read_keywords(path: Path) -> dict[str, tuple[str, ...]]:
    """TMDB id -> keyword names from keywords.csv; {} when the file is absent.

    A row whose literal does not parse is left out (its movie keeps no keywords) rather
    than stopping the run: keywords only help text search.
    """
    keywords: dict[str, tuple[str, ...]] = {}
    if not path.is_file():
        return keywords
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            movie = clean_text(row.get("id"))
            try:
                names = parse_genres_literal(clean_text(row.get("keywords")))
            except RowError:
                continue
            if movie and names:
                keywords[movie] = keywords.get(movie, ()) + names
    return keywords


def parse_release_year(value: object) -> int | None:
    """The year of a YYYY-MM-DD release date; None when empty.

    Raises:
        RowError: The date is malformed or its year out of range.
    """
    text = clean_text(value)
    if not text:
        return None
    match = _DATE.match(text)
    if not match:
        raise RowError(f"bad release_date {text!r}")
    return parse_year(match.group(1))


def read_tmdb(
    path: Path, posters: Path | None = None, poster_base_url: str | None = None
) -> Iterator[Poster | RejectedRow]:
    """Reads movies_metadata.csv.

    Args:
        path: The CSV file.
        posters: Local folder of poster files, named as poster_path's file name (or
            ``<id>.<ext>``). Defaults to ``posters`` beside the CSV when that exists.
        poster_base_url: Base URL that poster_path is appended to when no local folder is
            used; defaults to TMDB's w500 image server.

    Yields:
        A Poster per valid movie, a RejectedRow per invalid one.
    """
    if posters is None and poster_base_url is None and (path.parent / "posters").is_dir():
        posters = path.parent / "posters"
    images = PosterDir(posters) if posters is not None else None
    keywords = read_keywords(path.parent / "keywords.csv")
    base_url = (poster_base_url or DEFAULT_POSTER_BASE_URL).rstrip("/")
    seen = SeenIds()
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            line = reader.line_num
            bad_text = undecodable(row.values())
            if bad_text:
                yield RejectedRow(line, bad_text, None, path.name)
                continue
            raw_id = clean_text(row.get("id"))
            try:
                # TMDB ids are positive integers; a date or text here means the row was
                # split by a stray newline and every column after it is shifted.
                if not raw_id:
                    raise RowError("missing id")
                if not raw_id.isdigit():
                    raise RowError(f"bad id {raw_id!r} (row shifted by a broken field)")
                title = parse_title(row.get("title"))
                genres = parse_genres_literal(clean_text(row.get("genres")))
                year = parse_release_year(row.get("release_date"))
                rating = parse_rating(row.get("vote_average"))
                # Unvoted films carry 0.0; that is "unrated", not "the worst".
                if clean_text(row.get("vote_count")) in {"0", "0.0"}:
                    rating = None
                poster_path = clean_text(row.get("poster_path"))
                if not poster_path:
                    raise RowError("no poster_path")
                seen.check(raw_id, line)
            except RowError as exc:
                yield RejectedRow(line, str(exc), raw_id or None, path.name)
                continue
            if images is not None:
                name = poster_path.rsplit("/", 1)[-1]
                ref = str(images.find([raw_id], name=name))
            else:
                ref = base_url + "/" + poster_path.lstrip("/")
            original = clean_text(row.get("original_title"))
            yield Poster(
                movie_id=raw_id,
                title=title,
                genres=genres,
                year=year,
                rating=rating,
                poster=ref,
                original_title=original if original != title else "",
                overview=clean_text(row.get("overview")),
                tagline=clean_text(row.get("tagline")),
                keywords=keywords.get(raw_id, ()),
            )
