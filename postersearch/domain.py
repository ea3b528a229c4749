"""Domain types shared by ingest, the index and the search service. No gRPC, no Qdrant."""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum

RATING_MIN = 0.0
RATING_MAX = 10.0


@dataclass(frozen=True)
class Poster:
    """One movie and where its poster image lives.

    Attributes:
        movie_id: Stable id from the dataset (MovieLens movieId, TMDB id, manifest id).
        title: Movie title without the year.
        genres: Genre names as the dataset spells them.
        year: Release year, when known.
        rating: Average rating on the 0-10 scale, when known.
        poster: Local file path or http(s) URL of the poster image.
        original_title: The title in the film's own language, when the dataset has it.
        alternative_titles: Other titles the film is known by, in any language.
        overview: A few sentences about the story.
        tagline: The poster's or trailer's one-liner.
        keywords: Subject keywords (TMDB's keywords.csv).
        tags: Free-form tags people gave the movie (MovieLens tags.csv).
        caption: English description of the poster image, written by a captioning model;
            None until the poster is captioned.
    """

    movie_id: str
    title: str
    genres: tuple[str, ...] = ()
    year: int | None = None
    rating: float | None = None
    poster: str = ""
    original_title: str = ""
    alternative_titles: tuple[str, ...] = ()
    overview: str = ""
    tagline: str = ""
    keywords: tuple[str, ...] = ()
    tags: tuple[str, ...] = ()

    caption: str | None = None


class SearchMode(StrEnum):
    """How a text query is matched against the collection."""

    HYBRID = "hybrid"
    """The image vectors and the movie's words, fused in one Qdrant query."""
    VECTOR = "vector"
    """The query's text vector against the poster image vectors alone."""
    TEXT = "text"
    """Qdrant's BM25 over the movie's words alone."""


@dataclass(frozen=True)
class SearchFilter:
    """Conditions a poster must meet; every condition that is set must hold.

    Attributes:
        genres_any: At least one of these genres.
        genres_all: Every one of these genres.
        genres_none: None of these genres.
        year_from: Inclusive lower bound on the year.
        year_to: Inclusive upper bound on the year.
        min_rating: Inclusive lower bound on the rating.
    """

    genres_any: tuple[str, ...] = ()
    genres_all: tuple[str, ...] = ()
    genres_none: tuple[str, ...] = ()
    year_from: int | None = None
    year_to: int | None = None
    min_rating: float | None = None

    @property
    def is_empty(self) -> bool:
        """True when the filter lets every poster through."""
        return not (
            self.genres_any
            or self.genres_all
            or self.genres_none
            or self.year_from is not None
            or self.year_to is not None
            or self.min_rating is not None
        )

    def genres(self) -> set[str]:
        """Every genre the filter names."""
        return {*self.genres_any, *self.genres_all, *self.genres_none}


@dataclass(frozen=True)
class SearchHit:
    """A poster found by a query, with its score.

    Attributes:
        poster: The movie.
        score: Cosine similarity (vector search), BM25 (text search), the fused
            reciprocal-rank score (hybrid search), or the rating when browsing.
        found_by: The retrieval branches that returned this poster ("vector", "text");
            empty when browsing by filter alone.
        probability: The model's probability that the poster matches a text query,
            where the model defines one (SigLIP); None otherwise.
    """

    poster: Poster
    score: float
    found_by: tuple[str, ...] = ()
    probability: float | None = None


@dataclass(frozen=True)
class CollectionModel:
    """The model whose vectors a collection holds; a collection never mixes two."""

    model_id: str
    dimension: int


@dataclass(frozen=True)
class PosterVector:
    """A poster with its image vector, ready to be stored."""

    poster: Poster
    vector: list[float] = field(repr=False)
