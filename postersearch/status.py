"""How each error reaches whoever asked: one table, read by every door.

Each row of `Outcome` says how one kind of failure is answered: the gRPC status (both
servicers), the HTTP status (the web page's JSON API) and the exit code (the command
line). `ERRORS` says which row each error class is, by its dotted name, so that this
shared module names the libraries' errors without importing them (the libraries import
this, not the other way round); a test checks that every name still names a class. A
class not in the table takes the row of its nearest listed base class.

The clients read the table backwards (`outcome_of_code`, `error_class`): a gRPC status
becomes the row, and the row the caller's own error class.
"""

from __future__ import annotations

import enum
from collections.abc import Iterable
from typing import TypeVar

import grpc

E = TypeVar("E", bound=BaseException)


class Outcome(enum.Enum):
    """How one kind of failure is answered: (gRPC status, HTTP status, exit code)."""

    # The request cannot be answered as asked; asking again the same way cannot help.
    INVALID = (grpc.StatusCode.INVALID_ARGUMENT, 400, 2)
    # The request names something that is not there (a movie id).
    NOT_FOUND = (grpc.StatusCode.NOT_FOUND, 404, 2)
    # An upload over the size limit (the web page; gRPC refuses it as INVALID).
    TOO_LARGE = (grpc.StatusCode.INVALID_ARGUMENT, 413, 2)
    # A dependency refused the API key: no retry helps until the key is fixed.
    UNAUTHENTICATED = (grpc.StatusCode.UNAUTHENTICATED, 401, 1)
    # A feature this deployment does not run (an encoder without a translator).
    UNSUPPORTED = (grpc.StatusCode.FAILED_PRECONDITION, 501, 1)
    # Too much work is queued; retry shortly.
    OVERLOADED = (grpc.StatusCode.RESOURCE_EXHAUSTED, 503, 1)
    # A dependency is starting, stopped or unreachable; retry shortly.
    UNAVAILABLE = (grpc.StatusCode.UNAVAILABLE, 503, 1)
    # Anything else: a bug or a failure the log explains.
    INTERNAL = (grpc.StatusCode.INTERNAL, 500, 1)

    def __init__(self, grpc_code: grpc.StatusCode, http: int, exit_code: int) -> None:
        self.grpc_code = grpc_code
        self.http = http
        self.exit_code = exit_code

    @property
    def retry_later(self) -> bool:
        """Whether the same request may succeed shortly (HTTP Retry-After, gRPC retries)."""
        return self in (Outcome.OVERLOADED, Outcome.UNAVAILABLE)


ERRORS: dict[str, Outcome] = {
    # The encoder, in this process or over gRPC.
    "postersearch.encoding.EncoderError": Outcome.INTERNAL,
    "postersearch.encoding.InvalidInputError": Outcome.INVALID,
    "postersearch.encoding.OverloadedError": Outcome.OVERLOADED,
    "postersearch.encoding.EncoderUnavailableError": Outcome.UNAVAILABLE,
    "postersearch.encoding.TranslatorUnavailableError": Outcome.UNSUPPORTED,
    "encoder_service.client.EncoderAuthError": Outcome.UNAUTHENTICATED,
    # The search core.
    "search_service.errors.SearchError": Outcome.INTERNAL,
    "search_service.errors.InvalidRequestError": Outcome.INVALID,
    "search_service.errors.NotFoundError": Outcome.NOT_FOUND,
    "search_service.errors.DependencyUnavailableError": Outcome.UNAVAILABLE,
    "search_service.errors.DependencyOverloadedError": Outcome.OVERLOADED,
    # The web page.
    "web_ui.upload.PayloadTooLargeError": Outcome.TOO_LARGE,
    # The index, as ingest and the command line meet it.
    "poster_index.base.PosterIndexError": Outcome.UNAVAILABLE,
    "poster_index.base.ModelMismatchError": Outcome.INVALID,
    # Ingest and captioning.
    "ingest.retry.IngestError": Outcome.UNAVAILABLE,
    "ingest.readers.DatasetFormatError": Outcome.INVALID,
    "ingest.caption.NoCollectionError": Outcome.INVALID,
    "ingest.caption_config.CaptionerError": Outcome.INVALID,
    # The standard library's, as the command line meets them: a named file that is not
    # there is the person's to fix; a folder that cannot be written is the machine's.
    "builtins.FileNotFoundError": Outcome.INVALID,
    "builtins.OSError": Outcome.UNAVAILABLE,
}

# Statuses that no server here sends but a caller may meet, read as the row nearest in sense.
_OTHER_CODES = {grpc.StatusCode.PERMISSION_DENIED: Outcome.UNAUTHENTICATED}


def dotted_name(cls: type) -> str:
    """The name a class has in `ERRORS`: module and qualified name."""
    return f"{cls.__module__}.{cls.__qualname__}"


def outcome_of(error: BaseException | type[BaseException]) -> Outcome | None:
    """The row of an error (or error class), from its nearest listed class; None if unlisted."""
    cls = error if isinstance(error, type) else type(error)
    for base in cls.__mro__:
        outcome = ERRORS.get(dotted_name(base))
        if outcome is not None:
            return outcome
    return None


def outcome_of_code(code: grpc.StatusCode) -> Outcome | None:
    """The row a gRPC status code answers for (the first row with it); None if none does."""
    for outcome in Outcome:
        if outcome.grpc_code == code:
            return outcome
    return _OTHER_CODES.get(code)


def error_class(outcome: Outcome | None, among: Iterable[type[E]], default: type[E]) -> type[E]:
    """The class among the caller's own errors whose row is outcome, else default."""
    for cls in among:
        if ERRORS.get(dotted_name(cls)) is outcome:
            return cls
    return default
