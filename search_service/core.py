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

import numpy as np

from poster_index.base import IndexDamagedError, IndexUnavailableError, PosterIndex
from poster_index.hybrid import BRANCH_VECTOR
from poster_index.lexical import LexicalQuery, lexical_query
from poster_index.steer import image_and_words, steer
from postersearch.domain import CollectionModel, SearchFilter, SearchHit, SearchMode
from postersearch.encoding import (
    Encoder,
    EncoderError,
    EncoderInfo,
    EncoderUnavailableError,
    ImageFailure,
    InvalidInputError,
    OverloadedError,
    TextTokens,
)
from search_service.cache import Vector, VectorCache
from search_service.errors import (
    DependencyOverloadedError,
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
)
from search_service.merge import merge_rankings
from search_service.probability import (
    PROBABILITY_UNDEFINED_NOTICE,
    TEXT_MODE_PROBABILITY_NOTICE,
    apply_cutoff,
    check_min_probability,
    with_probabilities,
)
from search_service.settings import SearchSettings
from search_service.steering import NO_STEERING, Steering
from search_service.translation import NOT_ASKED, QueryTranslator, Translation
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
# Longest query of text mode when no limit is configured: BM25 reads every word, so no
# tokenizer bounds it; this only bounds the work of one request.
TEXT_MODE_MAX_CHARS = 2000


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
            words answering in vector mode, a query longer than the model reads, a
            translation that failed); several are joined by "; ".
        translation: The English translation searched alongside the query, if any.
        no_good_match: min_probability left no poster of those found.
        query_tokens: How much of the query the model read; None when no model read it.
    """

    hits: list[SearchHit]
    model_id: str
    mode: SearchMode | None = None
    notice: str = ""
    translation: Translation | None = None
    no_good_match: bool = False
    query_tokens: TextTokens | None = None


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


def _joined(*notices: str) -> str:
    return "; ".join(n for n in notices if n)


def cut_notice(tokens: TextTokens) -> str:
    """What a page says when the model read only part of the query."""
    tail = tokens.read_text[-40:]
    ellipsis = "…" if len(tokens.read_text) > len(tail) else ""
    return (
        f"the query is {tokens.tokens} tokens long but the model reads {tokens.read}: only "
        f'its first {tokens.read} tokens were used (up to "{ellipsis}{tail}")'
    )


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
        # How much of each cached query the model read, beside its vector.
        self._read: dict[str, TextTokens] = {}
        self._translator = QueryTranslator(encoder, settings.translation_cache_size)
        self._encoder_info: EncoderInfo | None = None
        self._collection: CollectionModel | None = None
        self._genres: dict[str, int] | None = None
        self._genres_at = 0.0
        self._has_text: bool | None = None

    @property
    def cache(self) -> VectorCache:
        """The query vector cache (its hit and miss counts show how well it serves)."""
        return self._cache

    @property
    def translations(self) -> QueryTranslator:
        """The query translator and its cache."""
        return self._translator

    async def search(
        self,
        query: str,
        flt: SearchFilter = ANY_POSTER,
        limit: int | None = None,
        offset: int | None = None,
        mode: str | SearchMode | None = None,
        steering: Steering = NO_STEERING,
        min_probability: float | None = None,
        translate: bool = True,
    ) -> SearchPage:
        """Posters matching a description, best first.

        Modes: hybrid (the default where the collection stores words about its movies)
        fuses the vector and the BM25 ranking in one Qdrant query; vector matches the
        poster images alone; text matches the words alone and needs no encoder. A
        collection without words answers in vector mode, and the page says so.

        A query in a script the encoder's translator reads (Hangul by default) is also
        searched in English, and the two answers merged (see search_service.merge); the
        words of both feed the lexical branch. Each hit of the model's modes carries the
        model's match probability where it defines one; min_probability drops the
        posters below it (those found by their words are kept), and a page left with
        none says there is no good match.

        With empty (or whitespace-only) text and at least one filter condition, returns the
        posters passing the filter, highest rating first, without asking the encoder.

        steering excludes descriptions and movies' looks (the vector branch becomes a Qdrant
        recommend query) and asks for a diverse page (Qdrant's MMR); see `poster_index.steer`.

        Args:
            query: The description.
            flt: Filter conditions.
            limit: Results per page.
            offset: Results to skip.
            mode: "hybrid", "vector" or "text" (None: hybrid where possible).
            steering: Descriptions and movies to steer away from, and a diverse page.
            min_probability: Least match probability (0-1) a poster needs; None keeps all.
            translate: False searches with the query as typed only.

        Raises:
            InvalidRequestError: Bad limit, offset, filter, mode, probability or query.
            DependencyUnavailableError: The encoder or Qdrant cannot be reached.
        """
        text = normalise_query(query)
        page = self._page(limit, offset)
        asked = parse_mode(mode)
        check_min_probability(min_probability)
        if self._settings.max_text_chars is not None:
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
            if not steering.is_empty:
                raise InvalidRequestError(
                    "exclusions and diverse pages need a description to steer: the query is empty"
                )
            hits = await self._call_index(self._index.browse, flt, *page)
            return SearchPage(hits, model.model_id)
        chosen, notice = await self._choose_mode(asked)
        if chosen is SearchMode.TEXT:
            if not steering.is_empty:
                raise InvalidRequestError(
                    "exclusions and diverse pages steer the image vectors, which text mode "
                    "does not use; search in hybrid or vector mode"
                )
            return await self._text_search(text, flt, page, model, notice, min_probability)
        info = await self._info()
        self._check_model(info, model)
        check_query_length(text, self._settings.max_text_chars or info.max_text_chars)
        wanted = translate and self._settings.translate
        outcome = await self._translator.translate(text, info) if wanted else NOT_ASKED
        translation = outcome.translation
        limit_chars = self._settings.max_text_chars or info.max_text_chars
        if translation is not None and len(translation.text) > limit_chars:
            # A translation longer than the model can ever read: its first part is all
            # the model would read anyway, and the query must not fail for it.
            translation = replace(translation, text=translation.text[:limit_chars].strip())
        texts = [text] if translation is None else [text, translation.text]
        vectors, read = await self._encode_texts(texts, model)
        words = text if translation is None else f"{text} {translation.text}"
        lexical = lexical_query(words) if chosen is not SearchMode.VECTOR else None
        negatives = await self._negatives(steering, model)
        hits = await self._ranked(vectors, lexical, flt, page, steering, negatives)
        # A steered query's scores are Qdrant's recommend or MMR scores, not cosines.
        hits = await self._score(hits, vectors, info, exact=lexical is None and steering.is_empty)
        kept, no_good = apply_cutoff(hits, min_probability, page[1])
        notices = [notice, cut_notice(read) if read.cut else "", outcome.notice]
        if min_probability is not None and info.logit_scale is None:
            notices.append(PROBABILITY_UNDEFINED_NOTICE)
        return SearchPage(
            kept,
            model.model_id,
            chosen,
            _joined(*notices, no_good),
            translation,
            no_good_match=bool(no_good),
            query_tokens=read,
        )

    async def _text_search(
        self,
        text: str,
        flt: SearchFilter,
        page: tuple[int, int],
        model: CollectionModel,
        notice: str,
        min_probability: float | None,
    ) -> SearchPage:
        """BM25 over the movie's words as typed; no model reads the query."""
        check_query_length(text, self._settings.max_text_chars or TEXT_MODE_MAX_CHARS)
        lexical = lexical_query(text)
        if lexical.is_empty:
            raise InvalidRequestError(
                f"the query {text!r} has no word to match in text mode (only stop words "
                "or punctuation); describe the movie or use vector mode"
            )
        hits = await self._call_index(self._index.text_search, lexical, flt, *page)
        extra = TEXT_MODE_PROBABILITY_NOTICE if min_probability is not None else ""
        return SearchPage(hits, model.model_id, SearchMode.TEXT, _joined(notice, extra))

    async def _ranked(
        self,
        vectors: list[Vector],
        lexical: LexicalQuery | None,
        flt: SearchFilter,
        page: tuple[int, int],
        steering: Steering,
        negatives: list[list[float]],
    ) -> list[SearchHit]:
        """One page of posters for the query vectors (and words), merged when several."""
        limit, offset = page
        if len(vectors) == 1:
            return await self._one_ranking(
                vectors[0], lexical, flt, limit, offset, steering, negatives
            )
        # The first offset + limit posters of the merged ranking are among the first
        # offset + limit of each ranking, under either merge rule.
        depth = limit + offset
        rankings = await asyncio.gather(
            *(self._one_ranking(v, lexical, flt, depth, 0, steering, negatives) for v in vectors)
        )
        merged = merge_rankings(rankings, self._settings.translation_merge)
        return merged[offset : offset + limit]

    async def _one_ranking(
        self,
        vector: Vector | list[float],
        lexical: LexicalQuery | None,
        flt: SearchFilter,
        limit: int,
        offset: int,
        steering: Steering = NO_STEERING,
        negatives: list[list[float]] | None = None,
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """One ranking of the index for one query vector: hybrid where there are words to
        match, steered where steering asks for anything. exclude_movie_id leaves a movie
        out of a search by its look (the "more like" movie itself)."""
        query: list[float] = np.asarray(vector).tolist()
        words = lexical is not None and not lexical.is_empty
        if steering.is_empty:
            if words:
                return await self._call_index(
                    self._index.hybrid_search, query, lexical, flt, limit, offset
                )
            hits = await self._call_index(
                self._index.search, query, flt, limit, offset, exclude_movie_id=exclude_movie_id
            )
            return _by_vector(hits)
        steered = steer(query, negatives or [], steering.diverse)
        if words:
            return await self._call_index(
                self._index.steered_hybrid_search, steered, lexical, flt, limit, offset
            )
        hits = await self._call_index(
            self._index.steered_search,
            steered,
            flt,
            limit,
            offset,
            exclude_movie_id=exclude_movie_id,
        )
        return _by_vector(hits)

    async def _score(
        self, hits: list[SearchHit], vectors: list[Vector], info: EncoderInfo, exact: bool
    ) -> list[SearchHit]:
        """The hits with the model's match probability, where it defines one.

        In vector mode under the "best" rule a hit's score is already its best cosine;
        otherwise (fused or reciprocal-rank scores) the posters' vectors are read back.
        """
        if info.logit_scale is None or not hits:
            return hits
        if exact and (len(vectors) == 1 or self._settings.translation_merge == "best"):
            return with_probabilities(hits, [h.score for h in hits], info)
        stored = await self._call_index(self._index.get_vectors, [h.poster.movie_id for h in hits])
        cosines = [
            max(float(np.dot(v, s)) for v in vectors) if s is not None else None
            for s in (stored.get(h.poster.movie_id) for h in hits)
        ]
        return with_probabilities(hits, cosines, info)

    async def _negatives(self, steering: Steering, model: CollectionModel) -> list[list[float]]:
        """The vectors of what steering excludes: its descriptions' and its movies' posters'.

        Raises:
            InvalidRequestError: An excluded description is too long.
            NotFoundError: An excluded movie is not in the collection.
        """
        negatives: list[list[float]] = []
        if steering.exclude:
            # Asked only when there are words to check: a search by a stored movie needs
            # no encoder otherwise.
            limit = self._settings.max_text_chars or (await self._info()).max_text_chars
            for text in steering.exclude:
                try:
                    check_query_length(text, limit)
                except InvalidRequestError as exc:
                    raise InvalidRequestError(
                        f"an excluded description is too long: {exc}"
                    ) from None
            vectors, _ = await self._encode_texts(list(steering.exclude), model)
            negatives.extend(v.tolist() for v in vectors)
        for movie_id in steering.exclude_movie_ids:
            excluded = await self._call_index(self._index.get_vector, movie_id)
            if excluded is None:
                raise NotFoundError(f"no movie with id {movie_id!r} in the collection to exclude")
            negatives.append(excluded)
        return negatives

    async def _vector_hits(
        self,
        vector: list[float],
        steering: Steering,
        model: CollectionModel,
        flt: SearchFilter,
        page: tuple[int, int],
        exclude_movie_id: str | None = None,
    ) -> list[SearchHit]:
        """The vector search of an image or a movie's poster, steered when steering asks for
        anything."""
        negatives = await self._negatives(steering, model)
        return await self._one_ranking(
            vector, None, flt, *page, steering, negatives, exclude_movie_id
        )

    async def _with_words(
        self, vector: list[float], words: str, model: CollectionModel
    ) -> list[float]:
        """The query vector of an image (or a movie's poster) plus words ("but in blue").

        The two are added as L2-normalised vectors (`poster_index.steer.image_and_words`).
        """
        text = normalise_query(words)
        if not text:
            return vector
        check_query_length(
            text, self._settings.max_text_chars or (await self._info()).max_text_chars
        )
        vectors, _ = await self._encode_texts([text], model)
        return image_and_words(vector, vectors[0].tolist())

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
        words: str = "",
        steering: Steering = NO_STEERING,
    ) -> SearchPage:
        """Posters that look like the given image file (JPEG, PNG, WebP...).

        words ("but in blue") are added to the image's vector; steering as in `search`.

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
        vector = await self._with_words(outcome.tolist(), words, model)
        hits = await self._vector_hits(vector, steering, model, flt, page)
        return SearchPage(hits, model.model_id)

    async def similar(
        self,
        movie_id: str,
        flt: SearchFilter = ANY_POSTER,
        limit: int | None = None,
        offset: int | None = None,
        words: str = "",
        steering: Steering = NO_STEERING,
    ) -> SearchPage:
        """Posters that look like a stored movie's poster; the movie itself is left out.

        words ("but in blue") are added to the poster's vector; steering as in `search`.

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
        vector = await self._with_words(vector, words, model)
        hits = await self._vector_hits(vector, steering, model, flt, page, movie_id)
        return SearchPage(hits, model.model_id)

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

    async def _encode_texts(
        self, texts: list[str], model: CollectionModel
    ) -> tuple[list[Vector], TextTokens]:
        """The vector of each text (one encoder call for those not cached), and how much
        of the first the model read."""
        found: dict[str, Vector] = {}
        reads: dict[str, TextTokens] = {}
        for text in texts:
            vector = self._cache.get(text)
            if vector is not None and text in self._read:
                # Used now: the record moves to the newest end, as the vector did.
                self._read[text] = self._read.pop(text)
                found[text], reads[text] = vector, self._read[text]
        missing = [text for text in texts if text not in found]
        if missing:
            encoded = await self._encoder_call(self._encoder.encode_texts_read(missing))
            for text, vector, tokens in zip(missing, encoded.vectors, encoded.tokens, strict=True):
                self._check_dimension(len(vector), model)
                found[text], reads[text] = vector, tokens
                self._cache.put(text, vector)
                self._remember_read(text, tokens)
        return [found[text] for text in texts], reads[texts[0]]

    def _remember_read(self, text: str, tokens: TextTokens) -> None:
        # Bounded like the vector cache; a vector whose record was dropped is encoded
        # again, so the two never disagree.
        if self._settings.cache_size <= 0:
            return
        self._read.pop(text, None)
        self._read[text] = tokens
        while len(self._read) > self._settings.cache_size:
            self._read.pop(next(iter(self._read)))

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
