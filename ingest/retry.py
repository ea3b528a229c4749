"""Retrying calls to the encoder and the index while they are briefly unavailable."""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")


@dataclass(frozen=True)
class RetryPolicy:
    """How long to keep trying a dependency that does not answer.

    Attributes:
        attempts: Tries in all, the first included.
        base_delay_s: Delay before the second try; doubled for each next one.
        max_delay_s: Cap on one delay.
    """

    attempts: int = 6
    base_delay_s: float = 0.5
    max_delay_s: float = 10.0

    def delay(self, retry: int) -> float:
        """Seconds to wait before retry number retry (0-based), with +-20% jitter.

        Jitter keeps several ingest workers that lost the same dependency from all
        knocking again in the same instant.
        """
        base = min(self.max_delay_s, self.base_delay_s * (2**retry))
        return float(base * random.uniform(0.8, 1.2))


class IngestError(Exception):
    """An ingest run cannot go on (as opposed to one row or poster being skipped)."""


class DependencyDownError(IngestError):
    """The encoder or the index stayed unavailable through every retry.

    Attributes:
        dependency: "encoder" or "index".
    """

    def __init__(self, dependency: str, message: str) -> None:
        super().__init__(message)
        self.dependency = dependency


async def call_with_retries(
    call: Callable[[], Awaitable[T]],
    *,
    dependency: str,
    retry_on: tuple[type[BaseException], ...],
    policy: RetryPolicy,
) -> T:
    """Awaits call(), retrying with backoff while it raises one of retry_on.

    Args:
        call: Makes a fresh awaitable for each try.
        dependency: Name used in messages ("encoder", "index").
        retry_on: Exceptions meaning "briefly unavailable".
        policy: Number of tries and delays.

    Raises:
        DependencyDownError: Every try failed with a retryable error.
    """
    started = time.monotonic()
    for attempt in range(policy.attempts):
        try:
            return await call()
        except retry_on as exc:
            if attempt + 1 >= policy.attempts:
                raise DependencyDownError(
                    dependency,
                    f"the {dependency} is unavailable: {type(exc).__name__}: {exc} "
                    f"(gave up after {policy.attempts} tries over "
                    f"{time.monotonic() - started:.1f} s)",
                ) from exc
            delay = policy.delay(attempt)
            logger.warning(
                "%s unavailable (%s: %s); retrying in %.1f s",
                dependency,
                type(exc).__name__,
                exc,
                delay,
            )
            await asyncio.sleep(delay)
    raise AssertionError("unreachable: attempts must be >= 1")
