"""The SearchService gRPC servicer: protobuf in, PosterSearch, protobuf out.

It maps the service's errors onto status codes (the table in postersearch.status) and
honours the caller's deadline: the remaining time bounds the whole call, encoder request
included, and a call that runs out of time ends with DEADLINE_EXCEEDED instead of
finishing work nobody waits for.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from typing import TypeVar

import grpc

from postersearch.callers import CALLER, caller_of_peer
from postersearch.grpc_server import bounded
from postersearch.status import Outcome, outcome_of
from postersearch.v1 import search_pb2, search_pb2_grpc
from search_service.core import PosterSearch
from search_service.errors import SearchError
from search_service.mapping import (
    genres_to_pb,
    page_to_pb,
    run_search,
    run_search_by_image,
    run_similar,
)

T = TypeVar("T")

log = logging.getLogger(__name__)

SERVICE_NAME: str = search_pb2.DESCRIPTOR.services_by_name["SearchService"].full_name


def status_of(error: SearchError) -> grpc.StatusCode:
    """The gRPC status code a search error is answered with (postersearch.status)."""
    return (outcome_of(error) or Outcome.INTERNAL).grpc_code


async def _within_deadline(
    context: grpc.aio.ServicerContext, work: Callable[[], Awaitable[T]]
) -> T:
    remaining = context.time_remaining()
    if remaining is not None and remaining <= 0:
        await context.abort(grpc.StatusCode.DEADLINE_EXCEEDED, "the deadline passed")
    deadline = asyncio.timeout(remaining)
    try:
        # The timeout cancels the encoder call too, so a GrpcEncoder request is cut off
        # with the caller's remaining time rather than its own longer default.
        async with deadline:
            return await work()
    except TimeoutError:
        if not deadline.expired():
            log.exception("search call timed out inside a dependency")
            await context.abort(grpc.StatusCode.UNAVAILABLE, "a dependency timed out")
        await context.abort(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            f"the deadline ({remaining or 0:.3f} s left on arrival) passed before the "
            "search finished",
        )
    except SearchError as exc:
        await context.abort(status_of(exc), bounded(str(exc)))
    except Exception:
        # The details of an unexpected failure go to the log, not to the caller.
        log.exception("search call failed")
        await context.abort(grpc.StatusCode.INTERNAL, "internal error; see the search log")
    raise AssertionError("unreachable: abort raises")


class SearchServicer(search_pb2_grpc.SearchServiceServicer):
    """Thin adapter from SearchService RPCs to a PosterSearch.

    Args:
        search: The search core shared with the web page and the CLI.
    """

    def __init__(self, search: PosterSearch) -> None:
        self._search = search

    async def Search(
        self, request: search_pb2.SearchRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.SearchResponse:
        """Posters matching a description; filter-only requests browse by rating."""
        page = await _within_deadline(context, lambda: run_search(self._search, request))
        return page_to_pb(page)

    async def SearchByImage(
        self, request: search_pb2.SearchByImageRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.SearchResponse:
        """Posters that look like the given image."""
        CALLER.set(caller_of_peer(context.peer()))
        page = await _within_deadline(context, lambda: run_search_by_image(self._search, request))
        return page_to_pb(page)

    async def SimilarPosters(
        self, request: search_pb2.SimilarPostersRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.SearchResponse:
        """Posters that look like a stored movie's poster, that movie left out."""
        page = await _within_deadline(context, lambda: run_similar(self._search, request))
        return page_to_pb(page)

    async def ListGenres(
        self, request: search_pb2.ListGenresRequest, context: grpc.aio.ServicerContext
    ) -> search_pb2.ListGenresResponse:
        """Every genre in the collection with its number of posters."""
        counts = await _within_deadline(context, self._search.genre_counts)
        return genres_to_pb(counts)
