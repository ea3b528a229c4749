"""The index interface: one Qdrant schema, reached in-process (Edge) or through a server."""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Protocol

from poster_index.hybrid import DEFAULT_FUSION, FusionWeights
from poster_index.lexical import LexicalQuery
from poster_index.steer import Steer
from postersearch.domain import CollectionModel, Poster, PosterVector, SearchFilter, SearchHit

DEFAULT_COLLECTION = "posters"
VECTOR_NAME = "image"


class PosterIndexError(Exception):
    """Base of the index's own errors."""


class ModelMismatchError(PosterIndexError):
    """The collection holds vectors of another model or size than the caller's."""


class IndexUnavailableError(PosterIndexError):
    """The Qdrant server cannot be reached, or the local shard cannot be opened."""


class IndexDamagedError(IndexUnavailableError):
    """The collection on disk is damaged (files truncated or missing); re-ingest it."""


@dataclass(frozen=True)
class StoredContent:
    """What a stored point was written from, as recorded in its payload.

    Attributes:
        metadata_hash: Hash of the poster's metadata payload; None for points written
            before hashes were recorded.
        image_hash: Hash of the poster file the vector was encoded from; None likewise.
    """

    metadata_hash: str | None
    image_hash: str | None


@dataclass(frozen=True)
class PayloadUpdate:
    """New metadata for a stored poster whose vector stays.

    Attributes:
        poster: The poster as the dataset has it now.
        image_hash: Hash of the poster file the stored vector belongs to.
    """

    poster: Poster
    image_hash: str


class PosterIndex(Protocol):
    """A collection of poster vectors with genre, year and rating payloads.

    Point ids are derived from movie ids, so writing a poster twice keeps one point.
    """

    def ensure_collection(self, model: CollectionModel) -> None:
        """Creates the collection with its payload indexes, or checks the existing one.

        Raises:
            ModelMismatchError: It exists with another model id or dimension.
        """
        ...

    def collection_model(self) -> CollectionModel | None:
        """The model recorded with the collection, or None when there is no collection."""
        ...

    def upsert(
        self, items: Sequence[PosterVector], image_hashes: Mapping[str, str] | None = None
    ) -> None:
        """Stores posters with their vectors, replacing any with the same movie id.

        Index-owned payload fields (a caption) of a replaced point are kept unless the
        poster sets them.

        Args:
            items: Posters with their vectors.
            image_hashes: movie id -> hash of the poster file each vector was encoded
                from, recorded with the point so that a later sync can tell it changed.
        """
        ...

    def update_payloads(self, items: Sequence[PayloadUpdate]) -> None:
        """Replaces the payload of stored posters, keeping their vectors.

        Index-owned fields (a caption) are kept unless the poster sets them; posters that
        are not stored are left out.
        """
        ...

    def optimize(self) -> bool:
        """Builds what the collection still lacks for fast search (Edge: the HNSW graph of
        posters written since the last build); blocks until done.

        Returns:
            True when anything was optimized.
        """
        ...

    def existing_ids(self, movie_ids: Iterable[str]) -> set[str]:
        """The subset of movie_ids already stored."""
        ...

    def stored_content(self, movie_ids: Iterable[str]) -> dict[str, StoredContent]:
        """The recorded hashes of each of movie_ids that is stored."""
        ...

    def movie_ids(self) -> set[str]:
        """Every movie id in the collection."""
        ...

    def delete(self, movie_ids: Iterable[str]) -> set[str]:
        """Deletes movies by id; returns those that were stored (the others are ignored)."""
        ...

    def search(
        self,
        vector: Sequence[float],
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """Nearest posters to vector (cosine) among those passing flt, best first."""
        ...

    def has_text(self) -> bool:
        """True when the collection stores words for lexical and hybrid search.

        Collections created before lexical search have none; they answer vector searches.
        """
        ...

    def refresh_text(self, movie_ids: Iterable[str]) -> int:
        """Re-derives the stored movies' BM25 vector and term list from their payload, the
        image vectors kept; returns how many were stored. For steps that change the words
        (a caption, re-applied metadata) without re-encoding."""
        ...

    def text_search(
        self, query: LexicalQuery, flt: SearchFilter, limit: int, offset: int = 0
    ) -> list[SearchHit]:
        """Posters passing flt ranked by Qdrant's BM25 over their words, best first."""
        ...

    def hybrid_search(
        self,
        vector: Sequence[float],
        query: LexicalQuery,
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        fusion: FusionWeights = DEFAULT_FUSION,
    ) -> list[SearchHit]:
        """Posters passing flt, the vector and lexical rankings fused in one Qdrant query.

        Each hit's `found_by` names the branches that returned it.
        """
        ...

    def browse(self, flt: SearchFilter, limit: int, offset: int = 0) -> list[SearchHit]:
        """Posters passing flt, highest rating first; score is the rating."""
        ...

    def steered_search(
        self,
        query: Steer,
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """Posters passing flt ranked by a vector query with negatives and/or diversity.

        Negatives are a best-score recommend query, diversity Qdrant's MMR (see
        `poster_index.steer`); pages add up to one long answer, as those of `search`.
        """
        ...

    def steered_hybrid_search(
        self,
        query: Steer,
        lexical_query: LexicalQuery,
        flt: SearchFilter,
        limit: int,
        offset: int = 0,
        fusion: FusionWeights = DEFAULT_FUSION,
    ) -> list[SearchHit]:
        """`hybrid_search` whose vector branch carries the negatives; diverse pages by MMR."""
        ...

    def get_vector(self, movie_id: str) -> list[float] | None:
        """The stored vector of a movie, or None when it is not in the collection."""
        ...

    def get_vectors(self, movie_ids: Sequence[str]) -> dict[str, list[float]]:
        """The stored vectors of those movies that are in the collection, by movie id, read
        in one call (a page of hits scored against the query)."""
        ...

    def get_poster(self, movie_id: str) -> Poster | None:
        """The stored payload of a movie, or None."""
        ...

    def genre_counts(self) -> dict[str, int]:
        """Every genre in the collection with its number of posters."""
        ...

    def count(self, flt: SearchFilter | None = None) -> int:
        """Number of posters passing flt (all when None)."""
        ...

    def close(self) -> None:
        """Flushes and releases the collection."""
        ...

    # Payload fields written after ingest (captions), without touching the vectors.

    def posters_missing(
        self, field: str, limit: int, page: str | None = None
    ) -> tuple[list[Poster], str | None]:
        """A page of stored posters whose payload lacks field (absent or null), in id order.

        Args:
            field: Payload field name.
            limit: Most posters in the page.
            page: Where the page starts: None for the first, else the token the previous
                page returned.

        Returns:
            The posters and the token of the next page, None after the last one.
        """
        ...

    def count_missing(self, field: str) -> int:
        """Number of stored posters whose payload lacks field (absent or null)."""
        ...

    def set_payload_field(self, field: str, values: Mapping[str, object]) -> None:
        """Sets field to values[movie_id] in each stored movie's payload.

        Vectors and the payload's other fields are kept; movie ids not stored are ignored.
        """
        ...
