"""MovieLens (ml-latest, ml-25m, ml-latest-small): movies.csv, links.csv and ratings.csv.

Titles carry their year ("Toy Story (1995)"), genres are pipe-separated with
"(no genres listed)" for none, and ratings are per user on 0.5-5, so a movie's rating is
the mean of its users' ratings doubled onto 0-10. Posters are not part of MovieLens: they
are looked up in a folder as ``<movieId>.<ext>`` or ``<tmdbId>.<ext>``. The free-form tags
people gave a movie (``tags.csv``) become its tags, most used first, for text search.
"""

from __future__ import annotations

import csv
import logging
import re
from collections.abc import Iterator
from pathlib import Path

from ingest.posterdir import PosterDir
from ingest.rows import (
    RejectedRow,
    RowError,
    SeenIds,
    clean_text,
    open_text,
    parse_id,
    parse_title,
    parse_year,
    split_genres,
    undecodable,
)
from postersearch.domain import Poster

logger = logging.getLogger(__name__)

NO_GENRES = "(no genres listed)"
# "Title (1995)", "Title (2006-2007)" for series, with stray spaces in some releases.
_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:\s*[-\u2013]\s*\d{0,4})?\)\s*$")
# MovieLens files "The Matrix" as "Matrix, The"; people search for the former.
_TRAILING_ARTICLE = re.compile(
    r"^(?P<rest>.+), (?P<article>The|A|An|Les|Le|La|L'|Il|Die|Der|Das|El|Los|Las)$"
)


def split_title(raw: str) -> tuple[str, int | None]:
    """Splits a MovieLens title into the title, article first, and its year.

    Raises:
        RowError: The year in parentheses is out of range.
    """
    text = raw.strip()
    year: int | None = None
    match = _TITLE_YEAR.match(text)
    if match:
        text = match.group("title")
        year = parse_year(match.group("year"))
    # An alternative title in parentheses stays; only the main title's article moves.
    main, paren, rest = text.partition(" (")
    article = _TRAILING_ARTICLE.match(main)
    if article:
        sep = "" if article.group("article").endswith("'") else " "
        main = f"{article.group('article')}{sep}{article.group('rest')}"
    return (main + paren + rest).strip(), year


def read_links(path: Path) -> dict[str, str]:
    """movieId -> tmdbId from links.csv (movies without a tmdbId are left out)."""
    links: dict[str, str] = {}
    if not path.is_file():
        return links
    with open_text(path) as handle:
        for row in csv.DictReader(handle):
            tmdb = clean_text(row.get("tmdbId"))
            movie = clean_text(row.get("movieId"))
            if movie and tmdb:
                links[movie] = tmdb
    return links


def read_ratings(path: Path) -> dict[str, float]:
    """movieId -> mean rating on 0-10, streamed in one pass over ratings.csv.

    ratings.csv has 25 million rows in ml-25m, so it is never held in memory: only a
    running sum and count per movie. Rows with an unreadable or out-of-range rating
    are left out of the mean.
    """
    sums: dict[str, float] = {}
    counts: dict[str, int] = {}
    bad = 0
    if not path.is_file():
        return {}
    with open_text(path) as handle:
        reader = csv.reader(handle)
        header = next(reader, None)
        if header is None:
            return {}
        movie_col = header.index("movieId")
        rating_col = header.index("rating")
        for row in reader:
            try:
                movie = row[movie_col]
                value = float(row[rating_col])
            except (IndexError, ValueError):
                bad += 1
                continue
            if not 0.5 <= value <= 5.0:
                bad += 1
                continue
            sums[movie] = sums.get(movie, 0.0) + value
            counts[movie] = counts.get(movie, 0) + 1
    if bad:
        logger.warning("%s: %d ratings unreadable or outside 0.5-5, left out", path.name, bad)
    return {movie: round(2.0 * total / counts[movie], 2) for movie, total in sums.items()}


# Enough tags to describe a movie; the long tail of one-off tags adds little but noise.
MAX_TAGS = 50


def read_tags(path: Path) -> dict[str, tuple[str, ...]]:
    """movieId -> its distinct tags (case-insensitively), most used first; {} when absent.

    Streamed like ratings.csv (ml-25m has a million tags): only counts per movie and tag.
    """
    counts: dict[str, dict[str, int]] = {}
    spelling: dict[str, str] = {}
    if not path.is_file():
        return {}
    with path.open(newline="", encoding="utf-8") as handle:
        for row in csv.DictReader(handle):
            movie = clean_text(row.get("movieId"))
            tag = clean_text(row.get("tag"))
            if not movie or not tag:
                continue
            key = tag.casefold()
            spelling.setdefault(key, tag)
            per_movie = counts.setdefault(movie, {})
            per_movie[key] = per_movie.get(key, 0) + 1
    return {
        movie: tuple(
            spelling[key]
            for key, _ in sorted(per_movie.items(), key=lambda kv: (-kv[1], kv[0]))[:MAX_TAGS]
        )
        for movie, per_movie in counts.items()
    }


def read_movielens(folder: Path, posters: Path | None = None) -> Iterator[Poster | RejectedRow]:
    """Reads a MovieLens folder.

    Args:
        folder: Folder holding movies.csv, and optionally links.csv, ratings.csv and
            tags.csv.
        posters: Folder of ``<movieId>.<ext>`` or ``<tmdbId>.<ext>`` images; defaults to
            ``folder/posters``.

    Yields:
        A Poster per valid movie (its poster path may not exist; fetching reports that),
        a RejectedRow per invalid one.
    """
    movies_csv = folder / "movies.csv"
    if not movies_csv.is_file():
        raise FileNotFoundError(f"{folder}: no movies.csv (not a MovieLens folder)")
    links = read_links(folder / "links.csv")
    ratings = read_ratings(folder / "ratings.csv")
    tags = read_tags(folder / "tags.csv")
    images = PosterDir(posters if posters is not None else folder / "posters")
    seen = SeenIds()
    with open_text(movies_csv) as handle:
        reader = csv.DictReader(handle)
        for row in reader:
            line = reader.line_num
            bad_text = undecodable(row.values())
            if bad_text:
                yield RejectedRow(line, bad_text, None, "movies.csv")
                continue
            try:
                movie_id = parse_id(row.get("movieId"))
                title, year = split_title(parse_title(row.get("title")))
                if not title:
                    raise RowError("missing title")
                raw_genres = clean_text(row.get("genres"))
                genres = () if raw_genres == NO_GENRES else split_genres(raw_genres)
                seen.check(movie_id, line)
            except RowError as exc:
                raw_id = clean_text(row.get("movieId")) or None
                yield RejectedRow(line, str(exc), raw_id, "movies.csv")
                continue
            tmdb_id = links.get(movie_id)
            candidates = [movie_id] if tmdb_id is None else [movie_id, tmdb_id]
            yield Poster(
                movie_id=movie_id,
                title=title,
                genres=genres,
                year=year,
                rating=ratings.get(movie_id),
                poster=str(images.find(candidates)),
                tags=tags.get(movie_id, ()),
            )
