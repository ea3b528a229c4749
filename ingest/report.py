"""What an ingest run did: the JSONL report of skipped rows and the closing summary."""

from __future__ import annotations

import json
from collections import Counter
from dataclasses import dataclass, field
from pathlib import Path
from types import TracebackType
from typing import IO

from ingest.rows import RejectedRow
from postersearch.domain import Poster

# Reason under which every row rejected by a reader is counted; the detail says which field.
BAD_METADATA = "bad_metadata"


@dataclass
class IngestSummary:
    """Counts of an ingest run.

    Attributes:
        read: Rows read from the dataset (posters and rejected rows) in this shard.
        ingested: New posters encoded and stored by this run.
        re_encoded: Stored posters whose image changed, encoded again.
        updated: Stored posters whose metadata alone changed, rewritten without encoding.
        already_stored: Posters found in the index unchanged and left untouched.
        pruned: Stored movies deleted because the dataset no longer names them.
        skipped: Rows and posters skipped, by reason.
        other_shards: Rows left to other shards.
        elapsed_s: Wall time of the run.
    """

    read: int = 0
    ingested: int = 0
    re_encoded: int = 0
    updated: int = 0
    already_stored: int = 0
    pruned: int = 0
    skipped: Counter[str] = field(default_factory=Counter)
    other_shards: int = 0
    elapsed_s: float = 0.0

    @property
    def skipped_total(self) -> int:
        """Rows and posters skipped for any reason."""
        return sum(self.skipped.values())

    @property
    def wrote(self) -> bool:
        """Whether the run changed the collection at all."""
        return bool(self.ingested or self.re_encoded or self.updated or self.pruned)

    @property
    def posters_per_s(self) -> float:
        """Posters encoded (new or re-encoded) per second of the run."""
        encoded = self.ingested + self.re_encoded
        return encoded / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def describe(self) -> str:
        """One human-readable paragraph."""
        reasons = ", ".join(f"{k} {v}" for k, v in sorted(self.skipped.items())) or "none"
        text = (
            f"read {self.read}, ingested {self.ingested}, re-encoded {self.re_encoded}, "
            f"updated {self.updated}, already stored {self.already_stored}, "
            f"skipped {self.skipped_total} ({reasons}), pruned {self.pruned}; "
            f"{self.posters_per_s:.1f} posters/s, {self.elapsed_s:.1f} s"
        )
        if self.other_shards:
            text += f"; {self.other_shards} rows left to other shards"
        return text

    def as_dict(self) -> dict[str, object]:
        """The summary as JSON-ready data."""
        return {
            "read": self.read,
            "ingested": self.ingested,
            "re_encoded": self.re_encoded,
            "updated": self.updated,
            "already_stored": self.already_stored,
            "pruned": self.pruned,
            "skipped": dict(self.skipped),
            "skipped_total": self.skipped_total,
            "other_shards": self.other_shards,
            "posters_per_s": round(self.posters_per_s, 2),
            "elapsed_s": round(self.elapsed_s, 3),
        }


class SkipReport:
    """Writes one JSON line per skipped row or poster; a no-op without a path.

    Lines: ``{"movie_id", "reason", "detail", "file", "line"}`` for rows a reader
    rejected, ``{"movie_id", "reason", "detail", "title", "poster"}`` for posters that could
    not be fetched or encoded.
    """

    def __init__(self, path: Path | None) -> None:
        self._handle: IO[str] | None = None
        if path is not None:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._handle = path.open("w", encoding="utf-8")

    def __enter__(self) -> SkipReport:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def _write(self, record: dict[str, object]) -> None:
        if self._handle is not None:
            self._handle.write(json.dumps(record, ensure_ascii=False) + "\n")

    def rejected(self, row: RejectedRow) -> None:
        """Records a row a reader rejected."""
        self._write(
            {
                "movie_id": row.raw_id,
                "reason": BAD_METADATA,
                "detail": row.reason,
                "file": row.source,
                "line": row.line,
            }
        )

    def skipped(self, poster: Poster, reason: str, detail: str) -> None:
        """Records a poster whose image could not be fetched or encoded."""
        self._write(
            {
                "movie_id": poster.movie_id,
                "reason": reason,
                "detail": detail,
                "title": poster.title,
                "poster": poster.poster,
            }
        )

    def flush(self) -> None:
        """Pushes written lines to disk, so a killed run leaves a readable report."""
        if self._handle is not None:
            self._handle.flush()

    def close(self) -> None:
        """Closes the file."""
        if self._handle is not None:
            self._handle.close()
            self._handle = None
