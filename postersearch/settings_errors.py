"""One line instead of a traceback when an environment variable holds a bad value.

The settings classes validate ``ENCODER_*``, ``SEARCH_*`` and ``QDRANT_*`` values when a
command builds them; a value out of range or of the wrong type then names the variable,
the value and the rule, and the command exits 2.
"""

from __future__ import annotations

import functools
import sys
from collections.abc import Callable
from typing import Any, TypeVar

from pydantic import ValidationError
from pydantic_settings import BaseSettings

from postersearch.status import Outcome

F = TypeVar("F", bound=Callable[..., int])


def _prefix_of(title: str) -> str:
    """The env prefix of the settings class named title ("" when it is not one)."""
    pending: list[type[BaseSettings]] = [BaseSettings]
    while pending:
        cls = pending.pop()
        if cls.__name__ == title:
            return str(cls.model_config.get("env_prefix", ""))
        pending.extend(cls.__subclasses__())
    return ""


def describe(exc: ValidationError) -> str:
    """One line naming every bad variable, its value and what is accepted."""
    prefix = _prefix_of(exc.title)
    parts = []
    for error in exc.errors():
        field = ".".join(str(p) for p in error.get("loc", ()))
        name = f"{prefix}{field}".upper() if prefix else field
        value = repr(error.get("input"))
        if len(value) > 60:
            value = value[:57] + "..."
        parts.append(f"{name}={value}: {error.get('msg', 'invalid')}")
    return "bad setting " + "; ".join(parts)


def one_line_settings_errors(command: F) -> F:
    """Makes a command print `describe` and return 2 when its settings do not validate."""

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> int:
        try:
            return command(*args, **kwargs)
        except ValidationError as exc:
            print(f"error: {describe(exc)}", file=sys.stderr)
            return Outcome.INVALID.exit_code

    return wrapper  # type: ignore[return-value]
