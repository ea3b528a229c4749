"""PosterSearch: a description, an image or a known movie plus filters in, posters out.

The core knows the encoder and index only through their interfaces. Index calls are
blocking (Qdrant Edge runs in-process, qdrant-client is synchronous), so each runs in a
worker thread and the event loop keeps answering other requests meanwhile.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, replace
from typing import TypeVar

from poster_index.base import IndexDamagedError, IndexUnavailableError, PosterIndex
from poster_index.hybrid import BRANCH_VECTOR
from poster_index.lexical import lexical_query
from postersearch.domain import CollectionModel, SearchFilter, SearchHit, SearchMode
from postersearch.encoding import (
    Encoder,
    EncoderError,
    EncoderInfo,
    EncoderUnavailableError,
    ImageFailure,
    InvalidInputError,
    OverloadedError,
    Vectors,
)
from search_service.cache import Vector, VectorCache
from search_service.errors import (
    DependencyOverloadedError,
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
)
from search_service.settings import SearchSettings
from search_service.validation import (
    check_page,
    check_query_length,
    check_ranges,
    normalise_query,
    resolve_genres,
)

log = logging.getLogger(__name__)

T = TypeVar("T")

# Encoded by the readiness probe; short, so the probe costs one tiny forward pass.
_PROBE_TEXT = "poster"

# The filter that lets every poster through.
ANY_POSTER = SearchFilter()


@dataclass(frozen=True)
class SearchPage:
    """One page of results.

    Attributes:
        hits: Posters best first; the score is the cosine similarity (vector), BM25
            (text), the fused reciprocal-rank score (hybrid), or the rating when browsing
            by filter alone.
        model_id: The model whose vectors the collection holds.
        mode: The mode that answered a text query; None when browsing, or searching by
            image or similar movie.
        notice: Set when the answer differs from what was asked (a collection without
            words answering in vector mode).
    """

    hits: list[SearchHit]
    model_id: str
    mode: SearchMode | None = None
    notice: str = ""


NO_TEXT_NOTICE = (
    "this collection stores no words about its movies, so it was searched in vector mode; "
    "re-ingest it into a new collection for text and hybrid search"
)


def parse_mode(mode: str | SearchMode | None) -> SearchMode | None:
    """The search mode named by mode ("hybrid", "vector", "text"); None or "" for the default.

    Raises:
        InvalidRequestError: Not a known mode.
    """
    if mode is None or mode == "":
        return None
    try:
        return SearchMode(str(mode).strip().lower())
    except ValueError:
        known = ", ".join(m.value for m in SearchMode)
        raise InvalidRequestError(f"unknown search mode {mode!r}; one of {known}") from None


def _by_vector(hits: list[SearchHit]) -> list[SearchHit]:
    return [replace(hit, found_by=(BRANCH_VECTOR,)) for hit in hits]


class PosterSearch:
    """Answers searches over one poster collection.

    Args:
        encoder: Turns the query text or image into a vector (in-process or over gRPC).
        index: The poster collection.
        settings: Limits, cache size and timeouts.
    """

    def __init__(self, encoder: Encoder, index: PosterIndex, settings: SearchSettings) -> None:
        self._encoder = encoder
        self._index = index
        self._settings = settings
        self._cache = VectorCache(settings.cache_size)
        self._encoder_info: EncoderInfo | None = None
        self._collection: CollectionModel | None = None
        self._genres: dict[str, int] | None = None
        self._genres_at = 0.0
        self._has_text: bool | None = None

    @property
    def cache(self) -> VectorCache:
        """The query vector cache (its hit and miss counts show how well it serves)."""
        return self._cache

    async def search(
        self,
        query: str,
        flt: SearchFilter = ANY_POSTER,
        limit: int | None = None,
        offset: int | None = None,
        mode: str | SearchMode | None = None,
    ) -> SearchPage:
        """Posters matching a description, best first.

        Modes: hybrid (the default where the collection stores words about its movies)
        fuses the vector and the BM25 ranking in one Qdrant query; vector matches the
        poster images alone; text matches the words alone and needs no encoder. A
        collection without words answers in vector mode, and the page says so.

        With empty (or whitespace-only) text and at least one filter condition, returns the
        posters passing the filter, highest rating first, without asking the encoder.

        Raises:
            InvalidRequestError: Bad limit, offset, filter, mode or query.
            DependencyUnavailableError: The encoder or Qdrant cannot be reached.
        """
        text = normalise_query(query)
        page = self._page(limit, offset)
        asked = parse_mode(mode)
        check_query_length(text, self._settings.max_text_chars)
        if not text and flt.is_empty:
            raise InvalidRequestError(
                "the query is empty and no filter is set: describe a poster, "
                "or filter by genre, year or rating"
            )
        check_ranges(flt)
        model = await self._collection_model()
        flt = await self._resolve_genres(flt)
        if not text:
            hits = await self._call_index(self._index.browse, flt, *page)
            return SearchPage(hits, model.model_id)
        chosen, notice = await self._choose_mode(asked)
        lexical = lexical_query(text) if chosen is not SearchMode.VECTOR else None
        if lexical is not None and chosen is SearchMode.TEXT:
            if lexical.is_empty:
                raise InvalidRequestError(
                    f"the query {text!r} has no word to match in text mode (only stop words "
                    "or punctuation); describe the movie or use vector mode"
                )
            hits = await self._call_index(self._index.text_search, lexical, flt, *page)
            return SearchPage(hits, model.model_id, chosen, notice)
        vector = await self._encode_text(text, model)
        if lexical is not None and not lexical.is_empty:
            hits = await self._call_index(
                self._index.hybrid_search, vector.tolist(), lexical, flt, *page
            )
        else:
            hits = _by_vector(
                await self._call_index(self._index.search, vector.tolist(), flt, *page)
            )
        return SearchPage(hits, model.model_id, chosen, notice)

    async def _choose_mode(self, asked: SearchMode | None) -> tuple[SearchMode, str]:
        """The mode that answers, and the notice when it is not the one asked for."""
        if asked is SearchMode.VECTOR:
            return asked, ""
        if self._has_text is None:
            # Whether a collection stores words is fixed when it is created.
            self._has_text = await self._call_index(self._index.has_text)
        if not self._has_text:
            return SearchMode.VECTOR, NO_TEXT_NOTICE
        return asked or SearchMode.HYBRID, ""

    async def search_by_image(
        self,
        image: bytes,
        flt: SearchFilter = ANY_POSTER,
        limit: int | None = None,
        offset: int | None = None,
    ) -> SearchPage:
        """Posters that look like the given image file (JPEG, PNG, WebP...).

        Raises:
            InvalidRequestError: Empty or undecodable image, or a bad limit, offset or filter.
            DependencyUnavailableError: The encoder or Qdrant cannot be reached.
        """
        page = self._page(limit, offset)
        if not image:
            raise InvalidRequestError("the image is empty")
        check_ranges(flt)
        model = await self._collection_model()
        flt = await self._resolve_genres(flt)
        outcomes = await self._encoder_call(self._encoder.encode_images([image]))
        outcome = outcomes[0]
        if isinstance(outcome, ImageFailure):
            raise InvalidRequestError(f"the image cannot be used: {outcome.message}")
        self._check_dimension(len(outcome), model)
        hits = await self._call_index(self._index.search, outcome.tolist(), flt, *page)
        return SearchPage(_by_vector(hits), model.model_id)

    async def similar(
        self,
        movie_id: str,
        flt: SearchFilter = ANY_POSTER,
        limit: int | None = None,
        offset: int | None = None,
    ) -> SearchPage:
        """Posters that look like a stored movie's poster; the movie itself is left out.

        Raises:
            InvalidRequestError: Empty movie id, or a bad limit, offset or filter.
            NotFoundError: No movie with that id is in the collection.
            DependencyUnavailableError: Qdrant cannot be reached.
        """
        movie_id = movie_id.strip()
        page = self._page(limit, offset)
        if not movie_id:
            raise InvalidRequestError("movie_id is empty")
        check_ranges(flt)
        model = await self._collection_model()
        flt = await self._resolve_genres(flt)
        vector = await self._call_index(self._index.get_vector, movie_id)
        if vector is None:
            raise NotFoundError(f"no movie with id {movie_id!r} in the collection")
        hits = await self._call_index(
            self._index.search, vector, flt, *page, exclude_movie_id=movie_id
        )
        return SearchPage(_by_vector(hits), model.model_id)

    async def check_filter(self, flt: SearchFilter) -> SearchFilter:
        """Checks a filter without searching; returns it with genres in the collection's spelling.

        Raises:
            InvalidRequestError: An empty year range, a rating off the scale, or an unknown
                genre (the message lists the known ones).
            DependencyUnavailableError: Qdrant cannot be reached, or there is no collection.
        """
        check_ranges(flt)
        await self._collection_model()
        return await self._resolve_genres(flt)

    async def genre_counts(self) -> dict[str, int]:
        """Every genre in the collection with its number of posters (briefly cached)."""
        return dict(await self._known_genres())

    async def check_ready(self) -> None:
        """Asks both dependencies whether they answer, and whether their models agree.

        The encoder is asked to encode a short text, not just for its info: a remote
        encoder's info is remembered by its client, so only a real call notices it going
        away. A missing collection makes the service not ready (every query would be
        refused); it becomes ready once an ingest creates the collection.

        Raises:
            DependencyUnavailableError: Either dependency does not answer, there is no
                collection yet, the collection is damaged, or the encoder runs another
                model than the one whose vectors the collection holds.
        """
        info = await self._encoder_call(self._encoder.info())
        self._encoder_info = info
        await self._encoder_call(self._encoder.encode_texts([_PROBE_TEXT]))
        collection = await self._collection_model()
        self._check_model(info, collection)

    def _page(self, limit: int | None, offset: int | None) -> tuple[int, int]:
        s = self._settings
        return check_page(limit, offset, s.default_limit, s.max_limit, s.max_offset)

    async def _resolve_genres(self, flt: SearchFilter) -> SearchFilter:
        if not flt.genres():
            return flt
        try:
            return resolve_genres(flt, await self._known_genres())
        except InvalidRequestError:
            # The genre may have arrived with posters ingested since the facet was cached.
            return resolve_genres(flt, await self._known_genres(refresh=True))

    async def _known_genres(self, refresh: bool = False) -> dict[str, int]:
        fresh = time.monotonic() - self._genres_at < self._settings.genre_cache_s
        if self._genres is None or refresh or not fresh:
            self._genres = await self._call_index(self._index.genre_counts)
            self._genres_at = time.monotonic()
        return self._genres

    async def _collection_model(self) -> CollectionModel:
        # The collection's model never changes once created, so one successful look-up
        # holds; a missing collection is asked again on every query until it exists.
        if self._collection is None:
            self._collection = await self._call_index(self._index.collection_model)
        if self._collection is None:
            raise DependencyUnavailableError(
                "qdrant",
                "the poster collection does not exist yet: ingest posters first "
                "(poster-search ingest, or poster-search demo)",
            )
        return self._collection

    async def _info(self) -> EncoderInfo:
        if self._encoder_info is None:
            self._encoder_info = await self._encoder_call(self._encoder.info())
        return self._encoder_info

    async def _encode_text(self, text: str, model: CollectionModel) -> Vector:
        cached = self._cache.get(text)
        if cached is not None:
            return cached
        self._check_model(await self._info(), model)
        vectors: Vectors = await self._encoder_call(self._encoder.encode_texts([text]))
        vector: Vector = vectors[0]
        self._check_dimension(len(vector), model)
        self._cache.put(text, vector)
        return vector

    @staticmethod
    def _check_model(info: EncoderInfo, model: CollectionModel) -> None:
        if info.model_id != model.model_id or info.dimension != model.dimension:
            raise DependencyUnavailableError(
                "encoder",
                f"the encoder runs {info.model_id} ({info.dimension}-d) but the collection "
                f"holds vectors of {model.model_id} ({model.dimension}-d); start the encoder "
                "with the collection's model",
            )

    @staticmethod
    def _check_dimension(dimension: int, model: CollectionModel) -> None:
        if dimension != model.dimension:
            raise DependencyUnavailableError(
                "encoder",
                f"the encoder returned {dimension}-d vectors but the collection holds "
                f"{model.dimension}-d vectors of {model.model_id}",
            )

    async def _encoder_call(self, call: Awaitable[T]) -> T:
        try:
            return await call
        except OverloadedError as exc:
            raise DependencyOverloadedError(
                "encoder", f"the encoder is overloaded, retry shortly: {exc}"
            ) from exc
        except EncoderUnavailableError as exc:
            raise DependencyUnavailableError(
                "encoder", f"the encoder is unavailable: {exc}"
            ) from exc
        except InvalidInputError as exc:
            raise InvalidRequestError(f"the encoder refused the input: {exc}") from exc
        except EncoderError as exc:
            # Refused for a reason of the service's own making (its key): not the caller's.
            raise DependencyUnavailableError("encoder", str(exc)) from exc

    async def _call_index(self, fn: Callable[..., T], *args: object, **kwargs: object) -> T:
        try:
            return await asyncio.to_thread(fn, *args, **kwargs)
        except IndexDamagedError as exc:
            raise DependencyUnavailableError("qdrant", str(exc)) from exc
        except IndexUnavailableError as exc:
            raise DependencyUnavailableError("qdrant", f"Qdrant is unavailable: {exc}") from exc
