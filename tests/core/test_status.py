"""The status table: every name in it names an error class, and the rows say what each
door answers."""

from __future__ import annotations

import builtins
import importlib

import grpc
import pytest

from encoder_service.client import EncoderAuthError
from ingest.caption import NoCollectionError
from ingest.retry import DependencyDownError
from poster_index.base import IndexDamagedError, ModelMismatchError
from postersearch.encoding import EncoderError, InvalidInputError, OverloadedError
from postersearch.status import (
    ERRORS,
    Outcome,
    dotted_name,
    error_class,
    outcome_of,
    outcome_of_code,
)
from search_service.errors import (
    DependencyOverloadedError,
    DependencyUnavailableError,
    InvalidRequestError,
    NotFoundError,
)


@pytest.mark.parametrize("name", sorted(ERRORS))
def test_every_name_in_the_table_is_an_error_class(name: str) -> None:
    module, _, attribute = name.rpartition(".")
    owner = builtins if module == "builtins" else importlib.import_module(module)
    cls = getattr(owner, attribute)
    assert isinstance(cls, type) and issubclass(cls, BaseException)
    assert dotted_name(cls) == name


@pytest.mark.parametrize(
    ("error", "outcome"),
    [
        (InvalidRequestError("x"), Outcome.INVALID),
        (NotFoundError("x"), Outcome.NOT_FOUND),
        (DependencyOverloadedError("encoder", "x"), Outcome.OVERLOADED),
        (DependencyUnavailableError("qdrant", "x"), Outcome.UNAVAILABLE),
        (InvalidInputError("x"), Outcome.INVALID),
        (EncoderAuthError("x"), Outcome.UNAUTHENTICATED),
        (EncoderError("x"), Outcome.INTERNAL),
        # Unlisted classes take their nearest listed base's row.
        (IndexDamagedError("x"), Outcome.UNAVAILABLE),
        (DependencyDownError("encoder", "x"), Outcome.UNAVAILABLE),
        (ModelMismatchError("x"), Outcome.INVALID),
        (NoCollectionError("x"), Outcome.INVALID),
        (FileNotFoundError("x"), Outcome.INVALID),
        (PermissionError("x"), Outcome.UNAVAILABLE),
        (ValueError("x"), None),
    ],
)
def test_an_error_takes_its_nearest_row(error: Exception, outcome: Outcome | None) -> None:
    assert outcome_of(error) is outcome


def test_the_rows_answer_as_the_doors_document() -> None:
    rows = {o: (o.grpc_code, o.http, o.exit_code) for o in Outcome}
    assert rows[Outcome.INVALID] == (grpc.StatusCode.INVALID_ARGUMENT, 400, 2)
    assert rows[Outcome.NOT_FOUND] == (grpc.StatusCode.NOT_FOUND, 404, 2)
    assert rows[Outcome.OVERLOADED] == (grpc.StatusCode.RESOURCE_EXHAUSTED, 503, 1)
    assert rows[Outcome.UNAVAILABLE] == (grpc.StatusCode.UNAVAILABLE, 503, 1)
    assert [o for o in Outcome if o.retry_later] == [Outcome.OVERLOADED, Outcome.UNAVAILABLE]


def test_a_status_code_reads_back_into_the_callers_own_error() -> None:
    among = (InvalidInputError, OverloadedError, EncoderAuthError)
    read = {
        code: error_class(outcome_of_code(code), among, EncoderError)
        for code in (
            grpc.StatusCode.INVALID_ARGUMENT,
            grpc.StatusCode.RESOURCE_EXHAUSTED,
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.DEADLINE_EXCEEDED,
        )
    }
    assert read == {
        grpc.StatusCode.INVALID_ARGUMENT: InvalidInputError,
        grpc.StatusCode.RESOURCE_EXHAUSTED: OverloadedError,
        grpc.StatusCode.PERMISSION_DENIED: EncoderAuthError,
        grpc.StatusCode.DEADLINE_EXCEEDED: EncoderError,
    }
