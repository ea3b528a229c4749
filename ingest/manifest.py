"""The project's own dataset manifest, as CSV or JSONL.

Each record has ``id``, ``title``, ``genres``, ``year``, ``rating`` and ``poster``. In CSV
the genres are pipe-separated (``Action|Drama``); in JSONL they are a list or a pipe-separated
string. ``poster`` is a path relative to the manifest's folder, an absolute path, or an
http(s) URL.

Optional words about the movie, matched by text and hybrid search: ``original_title``,
``overview`` and ``tagline`` (text), and ``alternative_titles``, ``keywords`` and ``tags``
(lists in JSONL, pipe-separated in CSV, in any language).
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Mapping
from pathlib import Path

from ingest.rows import (
    RejectedRow,
    RowError,
    SeenIds,
    clean_text,
    is_url,
    open_text,
    parse_id,
    parse_rating,
    parse_text,
    parse_title,
    parse_year,
    split_genres,
    split_texts,
    undecodable,
)
from postersearch.domain import Poster

MANIFEST_FIELDS = ("id", "title", "genres", "year", "rating", "poster")
TEXT_FIELDS = ("original_title", "overview", "tagline")
TEXT_LIST_FIELDS = ("alternative_titles", "keywords", "tags")


def resolve_poster_ref(ref: str, base_dir: Path) -> str:
    """An http(s) URL as is; a path made absolute against base_dir."""
    if is_url(ref):
        return ref
    path = Path(ref).expanduser()
    return str(path if path.is_absolute() else base_dir / path)


def poster_from_record(
    record: Mapping[str, object], base_dir: Path, seen: SeenIds, line: int
) -> Poster:
    """Validates one manifest record and builds its Poster.

    Raises:
        RowError: A field is missing or invalid, or the id was already seen.
    """
    movie_id = parse_id(record.get("id"))
    title = parse_title(record.get("title"))
    genres = split_genres(record.get("genres"))
    year = parse_year(record.get("year"))
    rating = parse_rating(record.get("rating"))
    ref = clean_text(record.get("poster"))
    if not ref:
        raise RowError("missing poster")
    texts = {name: parse_text(name, record.get(name)) for name in TEXT_FIELDS}
    lists = {name: split_texts(record.get(name)) for name in TEXT_LIST_FIELDS}
    seen.check(movie_id, line)
    return Poster(
        movie_id=movie_id,
        title=title,
        genres=genres,
        year=year,
        rating=rating,
        poster=resolve_poster_ref(ref, base_dir),
        original_title=texts["original_title"],
        alternative_titles=lists["alternative_titles"],
        overview=texts["overview"],
        tagline=texts["tagline"],
        keywords=lists["keywords"],
        tags=lists["tags"],
    )


def read_manifest_csv(path: Path) -> Iterator[Poster | RejectedRow]:
    """Reads a CSV manifest with a header row.

    Yields:
        A Poster per valid row, a RejectedRow (with its line number) per invalid one.
    """
    base_dir = path.resolve().parent
    seen = SeenIds()
    with open_text(path) as handle:
        reader = csv.DictReader(handle)
        missing = {"id", "title", "poster"} - set(reader.fieldnames or ())
        if missing:
            raise ValueError(f"{path}: manifest header lacks {', '.join(sorted(missing))}")
        for record in reader:
            line = reader.line_num
            bad_text = undecodable(record.values())
            if bad_text:
                yield RejectedRow(line, bad_text, None, path.name)
                continue
            try:
                yield poster_from_record(record, base_dir, seen, line)
            except RowError as exc:
                yield RejectedRow(line, str(exc), _raw_id(record), path.name)


def read_manifest_jsonl(path: Path) -> Iterator[Poster | RejectedRow]:
    """Reads a JSONL manifest, one JSON object per line; blank lines are skipped.

    Yields:
        A Poster per valid line, a RejectedRow (with its line number) per invalid one.
    """
    base_dir = path.resolve().parent
    seen = SeenIds()
    with open_text(path) as handle:
        for line, text in enumerate(handle, start=1):
            if not text.strip():
                continue
            bad_text = undecodable([text])
            if bad_text:
                yield RejectedRow(line, bad_text, None, path.name)
                continue
            try:
                record = json.loads(text)
            except json.JSONDecodeError as exc:
                yield RejectedRow(line, f"invalid JSON: {exc.msg}", None, path.name)
                continue
            except RecursionError:
                yield RejectedRow(line, "invalid JSON: nested too deep", None, path.name)
                continue
            if not isinstance(record, dict):
                yield RejectedRow(line, "not a JSON object", None, path.name)
                continue
            try:
                yield poster_from_record(record, base_dir, seen, line)
            except RowError as exc:
                yield RejectedRow(line, str(exc), _raw_id(record), path.name)


def _raw_id(record: Mapping[str, object]) -> str | None:
    return clean_text(record.get("id")) or None


def write_manifest(path: Path, posters: list[Poster], base_dir: Path | None = None) -> None:
    """Writes posters as a manifest; the format follows the suffix (.csv or .jsonl).

    Args:
        path: Manifest file to write.
        posters: Posters in the order to write them.
        base_dir: Poster paths under this folder are written relative to it, so the
            manifest and its posters can be moved together. Defaults to path's folder.
    """
    root = (base_dir or path.parent).resolve()

    def ref(poster: Poster) -> str:
        if is_url(poster.poster):
            return poster.poster
        target = Path(poster.poster).resolve()
        return target.relative_to(root).as_posix() if target.is_relative_to(root) else str(target)

    if path.suffix.lower() == ".csv":
        with path.open("w", newline="", encoding="utf-8") as handle:
            writer = csv.writer(handle)
            writer.writerow((*MANIFEST_FIELDS, *TEXT_FIELDS, *TEXT_LIST_FIELDS))
            for p in posters:
                writer.writerow(
                    [p.movie_id, p.title, "|".join(p.genres), p.year or "", _rating(p), ref(p)]
                    + [getattr(p, name) for name in TEXT_FIELDS]
                    + ["|".join(getattr(p, name)) for name in TEXT_LIST_FIELDS]
                )
        return
    with path.open("w", encoding="utf-8") as handle:
        for p in posters:
            record: dict[str, object] = {
                "id": p.movie_id,
                "title": p.title,
                "genres": list(p.genres),
                "year": p.year,
                "rating": p.rating,
                "poster": ref(p),
            }
            # The words are written only where the movie has them, as a person would.
            record.update((name, getattr(p, name)) for name in TEXT_FIELDS if getattr(p, name))
            record.update(
                (name, list(getattr(p, name))) for name in TEXT_LIST_FIELDS if getattr(p, name)
            )
            handle.write(json.dumps(record, ensure_ascii=False) + "\n")


def _rating(poster: Poster) -> str:
    return "" if poster.rating is None else f"{poster.rating:g}"
