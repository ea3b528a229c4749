"""Where the browser fetches each poster image, and which local files may be served.

Only image files under the configured poster roots are ever served. A request path is joined
to a root and fully resolved (``..`` and symlinks included) before the check, so neither
a crafted path nor a symlink inside a root can reach a file outside the roots.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path, PurePosixPath
from urllib.parse import quote

POSTER_URL_PREFIX = "/posters/"
# Only image files are ever served, so a root wider than intended (a home folder, say)
# still exposes no documents, keys or configuration that happen to sit under it.
IMAGE_SUFFIXES = frozenset({".jpg", ".jpeg", ".png", ".webp", ".gif", ".avif", ".bmp"})
# Longer than any path a poster folder holds (Linux allows 4,096 bytes in all).
MAX_PATH_CHARS = 1024


def _is_url(poster: str) -> bool:
    return poster.startswith(("http://", "https://"))


class PosterFiles:
    """Maps poster references (local paths or URLs) to addresses the page can load.

    Local files are served as ``/posters/<path relative to its root>``; the first root
    holding the path wins, so roots should not overlap.
    """

    def __init__(self, roots: Sequence[Path]) -> None:
        """Keeps the roots, resolved once so later checks compare real paths.

        Args:
            roots: Folders whose files may be served. Folders that do not exist are kept
                (they may appear later) but serve nothing until they do.
        """
        self._roots = tuple(Path(root).expanduser().resolve() for root in roots)

    @property
    def roots(self) -> tuple[Path, ...]:
        """The resolved roots, in the order they are searched."""
        return self._roots

    def image_url(self, poster: str) -> str | None:
        """The address the browser should load a poster image from.

        Args:
            poster: The poster field of a stored movie: an http(s) URL or a local path.

        Returns:
            The URL itself for http(s) posters; ``/posters/...`` for a file under one of
            the roots; None when the file is outside every root, missing or unset.
        """
        if not poster:
            return None
        if _is_url(poster):
            return poster
        if "\x00" in poster or len(poster) > MAX_PATH_CHARS:
            return None
        path = Path(poster).expanduser()
        for root in self._roots:
            try:
                candidate = (path if path.is_absolute() else root / path).resolve()
                if self._servable(candidate, root):
                    relative = candidate.relative_to(root).as_posix()
                    return POSTER_URL_PREFIX + quote(relative)
            except (OSError, ValueError):
                continue
        return None

    def resolve(self, relative: str) -> Path | None:
        """The file a ``/posters/<relative>`` request names, or None when it must be refused.

        Refuses absolute paths, any ``..`` component, and anything that resolves outside
        every root or is not a regular image file; the caller answers 404 for all of them, so a
        prober learns nothing about files outside the roots.
        """
        pure = PurePosixPath(relative)
        if not relative or pure.is_absolute() or ".." in pure.parts or "\\" in relative:
            return None
        if "\x00" in relative or len(relative) > MAX_PATH_CHARS:
            return None
        for root in self._roots:
            try:
                candidate = (root / pure).resolve()
                if self._servable(candidate, root):
                    return candidate
            except (OSError, ValueError):
                # A component too long for the file system, or a byte it refuses.
                continue
        return None

    @staticmethod
    def _servable(candidate: Path, root: Path) -> bool:
        return (
            candidate.is_relative_to(root)
            and candidate.suffix.lower() in IMAGE_SUFFIXES
            and candidate.is_file()
        )
