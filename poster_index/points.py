"""Checks and lookups on the points of a batch, the same for both backends."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence

from poster_index.base import ModelMismatchError
from poster_index.payload import point_id
from postersearch.domain import PosterVector

# Ids asked of Qdrant per retrieve call.
RETRIEVE_CHUNK = 1_000


def check_dimensions(items: Sequence[PosterVector], dimension: int) -> None:
    """Refuses a batch holding a vector of another size than the collection's.

    Raises:
        ModelMismatchError: Naming the first movie whose vector has the wrong size.
    """
    for item in items:
        if len(item.vector) != dimension:
            raise ModelMismatchError(
                f"movie {item.poster.movie_id!r} has a {len(item.vector)}-d vector; "
                f"the collection holds {dimension}-d vectors"
            )


def stored_movie_ids(
    retrieve: Callable[[list[str]], Iterable[str]], movie_ids: Iterable[str]
) -> set[str]:
    """The subset of movie_ids stored, asked of Qdrant a chunk of point ids at a time.

    Args:
        retrieve: Returns which of the given point ids exist.
        movie_ids: The movies to look for.
    """
    by_point = {point_id(m): m for m in movie_ids}
    wanted = list(by_point)
    found: set[str] = set()
    for start in range(0, len(wanted), RETRIEVE_CHUNK):
        found.update(by_point[p] for p in retrieve(wanted[start : start + RETRIEVE_CHUNK]))
    return found
