"""Finding a movie's poster file in a folder named by id, without a stat call per guess."""

from __future__ import annotations

import os
from collections.abc import Sequence
from pathlib import Path

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".webp")


class PosterDir:
    """A folder of poster images, listed once.

    Datasets name posters by one of several ids with one of several extensions; listing
    the folder once turns tens of thousands of lookups into dictionary hits.
    """

    def __init__(self, root: Path) -> None:
        self.root = root
        self._by_name: dict[str, str] = {}
        self._by_stem: dict[str, str] = {}
        if root.is_dir():
            with os.scandir(root) as entries:
                for entry in entries:
                    stem, suffix = os.path.splitext(entry.name)
                    if suffix.lower() in IMAGE_SUFFIXES:
                        self._by_name[entry.name] = entry.name
                        self._by_stem.setdefault(stem, entry.name)

    def find(self, stems: Sequence[str], name: str | None = None) -> Path:
        """The poster named name, else the first ``<stem>.<ext>`` present.

        When none is present the path where the first guess would be is returned, so
        that fetching reports a missing file with a path a person can check.
        """
        if name and name in self._by_name:
            return self.root / name
        for stem in stems:
            found = self._by_stem.get(stem)
            if found:
                return self.root / found
        return self.root / (name or f"{stems[0]}{IMAGE_SUFFIXES[0]}")
