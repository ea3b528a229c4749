"""The record kept beside an Edge shard: which model's vectors it holds, and how many.

The point count is what the last writer left when it closed the shard cleanly; a shard
that opens with another count lost files. While a writer has the shard open the count is
unknown (null), so a writer killed mid-run is not mistaken for damage.
"""

from __future__ import annotations

import json
import os
import tempfile
from dataclasses import dataclass
from pathlib import Path

from poster_index.base import IndexUnavailableError, ModelMismatchError
from postersearch.domain import CollectionModel

MODEL_RECORD_NAME = "poster_collection.json"


@dataclass(frozen=True)
class CollectionRecord:
    """What the record says.

    Attributes:
        model: The model whose vectors the shard holds.
        points: Points in the shard when its last writer closed it; None while a writer
            has it open, after a writer was killed, or in records written before counts.
    """

    model: CollectionModel
    points: int | None = None


def read_collection_record(shard_dir: Path) -> CollectionRecord | None:
    """The record, or None when the shard has none.

    Raises:
        IndexUnavailableError: The record exists but cannot be read.
    """
    path = shard_dir / MODEL_RECORD_NAME
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
        model = CollectionModel(model_id=str(data["model_id"]), dimension=int(data["dimension"]))
        points = data.get("points")
        return CollectionRecord(model, int(points) if points is not None else None)
    except FileNotFoundError:
        return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError) as exc:
        raise IndexUnavailableError(f"cannot read the model record {path}: {exc}") from exc


def read_model_record(shard_dir: Path) -> CollectionModel | None:
    """The recorded model, or None when the shard has no record.

    Raises:
        IndexUnavailableError: The record exists but cannot be read.
    """
    record = read_collection_record(shard_dir)
    return record.model if record is not None else None


def write_model_record(shard_dir: Path, model: CollectionModel, points: int | None = None) -> None:
    """Writes the record atomically: a crash leaves either the old file or the new one."""
    shard_dir.mkdir(parents=True, exist_ok=True)
    data = json.dumps(
        {"model_id": model.model_id, "dimension": model.dimension, "points": points}, indent=2
    )
    fd, tmp = tempfile.mkstemp(dir=shard_dir, prefix=".model-", suffix=".tmp")
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as f:
            f.write(data + "\n")
            f.flush()
            os.fsync(f.fileno())
        os.replace(tmp, shard_dir / MODEL_RECORD_NAME)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    # The rename itself is durable only once the directory entry is on disk.
    dir_fd = os.open(shard_dir, os.O_RDONLY)
    try:
        os.fsync(dir_fd)
    finally:
        os.close(dir_fd)


def check_same_model(recorded: CollectionModel, wanted: CollectionModel, where: str) -> None:
    """Refuses to mix two models' vectors in one collection.

    Args:
        recorded: The model the collection was created for.
        wanted: The caller's model.
        where: The collection, named for the message.

    Raises:
        ModelMismatchError: The model id or the dimension differ.
    """
    if recorded != wanted:
        held = (
            f"model {recorded.model_id!r}"
            if recorded.model_id
            else "a model it does not record (it was not created by poster search)"
        )
        raise ModelMismatchError(
            f"{where} holds vectors of {held} ({recorded.dimension}-d), "
            f"but the caller uses {wanted.model_id!r} ({wanted.dimension}-d); "
            "use another collection or index path, or re-ingest into a fresh one"
        )
