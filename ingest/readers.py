"""One entry point over every dataset format: ``read_dataset(path, fmt)``.

Readers yield a Poster for each usable row and a RejectedRow for each unusable one
(missing id or title, bad year, rating outside 0-10, duplicate id...), never raising for
a bad row, so one broken line never stops an ingest of 80,000.
"""

from __future__ import annotations

import csv
from collections.abc import Iterator
from pathlib import Path

from ingest.manifest import read_manifest_csv, read_manifest_jsonl
from ingest.movielens import read_movielens
from ingest.rows import RejectedRow
from ingest.tmdb import read_tmdb
from postersearch.domain import Poster

__all__ = ["FORMATS", "RejectedRow", "detect_format", "read_dataset"]

FORMATS = ("auto", "manifest", "movielens", "tmdb")
_MANIFEST_NAMES = ("manifest.jsonl", "manifest.csv")


class DatasetFormatError(ValueError):
    """The path is not a dataset in the requested (or any recognised) format."""


def _csv_header(path: Path) -> list[str]:
    with path.open(newline="", encoding="utf-8-sig", errors="replace") as handle:
        return next(csv.reader(handle), [])


def detect_format(path: Path) -> str:
    """Guesses the format of a dataset path.

    A folder with movies.csv is MovieLens, with movies_metadata.csv TMDB, with
    manifest.jsonl or manifest.csv a manifest. A file is judged by its name and, for CSV,
    its header.

    Raises:
        DatasetFormatError: Nothing recognisable at path.
    """
    if path.is_dir():
        if (path / "movies.csv").is_file():
            return "movielens"
        if (path / "movies_metadata.csv").is_file():
            return "tmdb"
        if any((path / name).is_file() for name in _MANIFEST_NAMES):
            return "manifest"
        raise DatasetFormatError(
            f"{path}: no movies.csv, movies_metadata.csv or manifest.jsonl/.csv in it"
        )
    if not path.is_file():
        raise DatasetFormatError(f"{path}: no such file or folder")
    suffix = path.suffix.lower()
    if suffix in {".jsonl", ".ndjson"}:
        return "manifest"
    if suffix == ".csv":
        header = set(_csv_header(path))
        if {"movieId", "title", "genres"} <= header:
            return "movielens"
        if {"poster_path", "release_date", "vote_average"} <= header:
            return "tmdb"
        if {"id", "title", "poster"} <= header:
            return "manifest"
    raise DatasetFormatError(f"{path}: not a manifest, MovieLens or TMDB file")


def read_dataset(
    path: Path,
    fmt: str = "auto",
    *,
    posters: Path | None = None,
    poster_base_url: str | None = None,
) -> Iterator[Poster | RejectedRow]:
    """Reads a dataset into posters and rejected rows, streaming.

    Args:
        path: A manifest file (.csv/.jsonl), a MovieLens folder (or its movies.csv), a
            TMDB movies_metadata.csv (or its folder), or a folder holding a manifest.
        fmt: "auto", "manifest", "movielens" or "tmdb".
        posters: Folder of poster images for MovieLens and TMDB (default: ``posters``
            beside the data).
        poster_base_url: TMDB only: base URL for poster_path when no folder is used.

    Yields:
        Poster or RejectedRow, in file order.

    Raises:
        DatasetFormatError: The path does not hold the format asked for.
    """
    if fmt not in FORMATS:
        raise DatasetFormatError(f"unknown format {fmt!r}; one of {', '.join(FORMATS)}")
    kind = detect_format(path) if fmt == "auto" else fmt
    if kind == "movielens":
        folder = path if path.is_dir() else path.parent
        return read_movielens(folder, posters=posters)
    if kind == "tmdb":
        file = path / "movies_metadata.csv" if path.is_dir() else path
        return read_tmdb(file, posters=posters, poster_base_url=poster_base_url)
    if path.is_dir():
        found = [path / name for name in _MANIFEST_NAMES if (path / name).is_file()]
        if not found:
            raise DatasetFormatError(f"{path}: no manifest.jsonl or manifest.csv")
        path = found[0]
    if path.suffix.lower() == ".csv":
        return read_manifest_csv(path)
    return read_manifest_jsonl(path)
