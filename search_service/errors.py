"""Errors the search service raises, each with a message a person understands.

The gRPC servicer, the web page and the command line answer each with the statuses the
table in postersearch.status gives it; callers never see a raw encoder or Qdrant exception.
"""

from __future__ import annotations


class SearchError(Exception):
    """Base of the search service's errors."""


class InvalidRequestError(SearchError):
    """The request cannot be answered as asked (gRPC INVALID_ARGUMENT, HTTP 400)."""


class NotFoundError(SearchError):
    """The movie named in the request is not in the collection (NOT_FOUND, HTTP 404)."""


class DependencyUnavailableError(SearchError):
    """The encoder or Qdrant cannot be reached right now (UNAVAILABLE, HTTP 503).

    Attributes:
        dependency: "encoder" or "qdrant".
    """

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency


class DependencyOverloadedError(DependencyUnavailableError):
    """The encoder's queue is full; retry shortly (RESOURCE_EXHAUSTED, HTTP 503).

    A subclass of DependencyUnavailableError, so callers that only know that error
    still answer "try again later".
    """
