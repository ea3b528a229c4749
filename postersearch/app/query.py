"""One search from the command line: in this process over the embedded index, or sent to a
running search server."""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import grpc

from poster_index.base import IndexUnavailableError
from poster_index.settings import IndexSettings
from postersearch.app.wiring import encoder_settings, open_encoder, open_index
from postersearch.domain import SearchFilter, SearchMode
from postersearch.encoding import EncodedTexts, EncoderInfo, ImageOutcome, Vectors
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch, SearchPage
from search_service.errors import (
    DependencyOverloadedError,
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
    SearchError,
)
from search_service.mapping import filter_to_pb, mode_to_pb, page_from_pb
from search_service.settings import SearchSettings


@dataclass(frozen=True)
class Ask:
    """What one command-line search asks for; at most one of image and similar is set.

    Attributes:
        query: Description text (may be empty when filters are set).
        flt: Filter conditions.
        limit: Results per page (None: the service's default).
        offset: Results to skip.
        image: An image file to search by, instead of the text.
        similar: A movie id whose poster to search by, instead of the text.
        mode: How the text is matched (None: hybrid where the collection has words).
        min_probability: Least match probability a poster needs (None: no cutoff).
        translate: Search a query in another script with its English translation too.
    """

    query: str
    flt: SearchFilter
    limit: int | None = None
    offset: int | None = None
    image: Path | None = None
    similar: str | None = None
    mode: SearchMode | None = None
    min_probability: float | None = None
    translate: bool = True


async def ask_core(search: PosterSearch, ask: Ask) -> SearchPage:
    """Answers ask with a PosterSearch in this process."""
    if ask.image is not None:
        data = await asyncio.to_thread(ask.image.read_bytes)
        return await search.search_by_image(data, ask.flt, ask.limit, ask.offset)
    if ask.similar is not None:
        return await search.similar(ask.similar, ask.flt, ask.limit, ask.offset)
    return await search.search(
        ask.query,
        ask.flt,
        ask.limit,
        ask.offset,
        ask.mode,
        min_probability=ask.min_probability,
        translate=ask.translate,
    )


async def ask_embedded(
    ask: Ask,
    settings: SearchSettings,
    index_settings: IndexSettings,
    model: str | None = None,
    device: str | None = None,
) -> SearchPage:
    """Answers ask over the configured index, with an encoder for the collection's model.

    Raises:
        SearchError: The request was refused, or a dependency is missing.
    """
    index = await asyncio.to_thread(open_index, index_settings, False)
    try:
        try:
            collection = await asyncio.to_thread(index.collection_model)
        except IndexUnavailableError as exc:
            # Damaged, or locked by a running ingest: one line saying which.
            raise DependencyUnavailableError("qdrant", str(exc)) from exc
        if collection is None:
            where = index_settings.path if index_settings.backend == "edge" else index_settings.url
            raise DependencyUnavailableError(
                "qdrant",
                f"there is no poster collection {index_settings.collection!r} at {where}: "
                "ingest posters first (poster-search ingest, or poster-search demo)",
            )
        without_model = PosterSearch(_NoEncoder(), index, settings)
        needs_encoder = ask.image is not None or (ask.similar is None and ask.query.strip())
        if needs_encoder and ask.mode is SearchMode.TEXT:
            needs_encoder = not await asyncio.to_thread(index.has_text)
        if not needs_encoder:
            # Browsing, similar-to-movie and text mode need no model, so none is loaded.
            return await ask_core(without_model, ask)
        # A bad filter is refused before the model takes seconds to load.
        await without_model.check_filter(ask.flt)
        encoder = await open_encoder(
            encoder_settings(model, device, collection),
            settings.encoder_target,
            settings.encoder_api_key,
            settings.encoder_timeout_s,
        )
        try:
            return await ask_core(PosterSearch(encoder, index, settings), ask)
        finally:
            await encoder.close()
    finally:
        await asyncio.to_thread(index.close)


_STATUS_ERRORS: dict[grpc.StatusCode, type[SearchError]] = {
    grpc.StatusCode.INVALID_ARGUMENT: InvalidRequestError,
    grpc.StatusCode.NOT_FOUND: NotFoundError,
}


async def ask_server(
    ask: Ask, target: str, api_key: str | None = None, timeout_s: float = 30.0
) -> SearchPage:
    """Sends ask to a search server at target ("host:port") and returns its answer.

    Raises:
        SearchError: The server refused the request or could not answer; the message
            carries the server's explanation.
    """
    metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
    flt = filter_to_pb(ask.flt)
    paging: dict[str, int] = {}
    if ask.limit is not None:
        paging["limit"] = ask.limit
    if ask.offset is not None:
        paging["offset"] = ask.offset
    async with grpc.aio.insecure_channel(target) as channel:
        stub = search_pb2_grpc.SearchServiceStub(channel)
        try:
            if ask.image is not None:
                data = await asyncio.to_thread(ask.image.read_bytes)
                response = await stub.SearchByImage(
                    search_pb2.SearchByImageRequest(image=data, filter=flt, **paging),
                    metadata=metadata,
                    timeout=timeout_s,
                )
            elif ask.similar is not None:
                response = await stub.SimilarPosters(
                    search_pb2.SimilarPostersRequest(movie_id=ask.similar, filter=flt, **paging),
                    metadata=metadata,
                    timeout=timeout_s,
                )
            else:
                request = search_pb2.SearchRequest(
                    query=ask.query,
                    filter=flt,
                    mode=mode_to_pb(ask.mode),
                    no_translate=not ask.translate,
                    **paging,
                )
                if ask.min_probability is not None:
                    request.min_probability = ask.min_probability
                response = await stub.Search(
                    request,
                    metadata=metadata,
                    timeout=timeout_s,
                )
        except grpc.aio.AioRpcError as exc:
            raise _error_of(exc, target) from exc
    return page_from_pb(response)


def _error_of(exc: grpc.aio.AioRpcError, target: str) -> SearchError:
    code, details = exc.code(), exc.details() or ""
    error_type = _STATUS_ERRORS.get(code)
    if error_type is not None:
        return error_type(details)
    if code == grpc.StatusCode.RESOURCE_EXHAUSTED:
        return DependencyOverloadedError("search", details)
    return DependencyUnavailableError(
        "search", f"the search server at {target} answered {code.name}: {details}"
    )


class _NoEncoder:
    """Stands in for the encoder where a request needs none (browsing, similar posters).

    Any call would be a bug in the dispatch above, so every call says so plainly.
    """

    async def info(self) -> EncoderInfo:
        raise AssertionError("this request needs no encoder")

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        raise AssertionError("this request needs no encoder")

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        raise AssertionError("this request needs no encoder")

    async def translate(self, texts: Sequence[str]) -> list[str]:
        raise AssertionError("this request needs no encoder")

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        raise AssertionError("this request needs no encoder")

    async def close(self) -> None:
        return None
