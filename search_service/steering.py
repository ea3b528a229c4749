"""What a search asks beyond its query: descriptions and movies to stay away from, and a
diverse page. Checked here before any model or index is touched; turned into Qdrant queries
by `poster_index.steer`."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from search_service.errors import InvalidRequestError
from search_service.validation import normalise_query

# Enough for "no blood, no gore, no clowns"; each exclusion is one more vector the recommend
# query compares every candidate with, and one more text to encode.
MAX_EXCLUSIONS = 10


@dataclass(frozen=True)
class Steering:
    """Exclusions and diversity of one search.

    Attributes:
        exclude: Descriptions the posters should not look like ("blood").
        exclude_movie_ids: Movies whose posters the results should not look like.
        diverse: Order the page by maximal marginal relevance, so one look does not fill it.
    """

    exclude: tuple[str, ...] = ()
    exclude_movie_ids: tuple[str, ...] = ()
    diverse: bool = False

    @property
    def has_negatives(self) -> bool:
        """True when something is excluded."""
        return bool(self.exclude or self.exclude_movie_ids)

    @property
    def is_empty(self) -> bool:
        """True when the search is a plain one."""
        return not self.has_negatives and not self.diverse


NO_STEERING = Steering()


def steering(
    exclude: Iterable[str] = (),
    exclude_movie_ids: Iterable[str] = (),
    diverse: bool = False,
) -> Steering:
    """Checked, normalised steering: blank entries dropped, repeats removed in order.

    The search checks each excluded description's length against its own query limit.

    Raises:
        InvalidRequestError: More than MAX_EXCLUSIONS of either kind.
    """
    texts = tuple(dict.fromkeys(t for t in (normalise_query(x) for x in exclude) if t))
    movies = tuple(dict.fromkeys(m for m in (x.strip() for x in exclude_movie_ids) if m))
    for kind, values in (("excluded descriptions", texts), ("excluded movies", movies)):
        if len(values) > MAX_EXCLUSIONS:
            raise InvalidRequestError(
                f"{len(values)} {kind} were given; at most {MAX_EXCLUSIONS} are accepted"
            )
    return Steering(texts, movies, bool(diverse))
