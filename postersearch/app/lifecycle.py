"""The life of a long-running process: run until told to stop, then stop within a grace."""

from __future__ import annotations

import asyncio
import contextlib
import logging
import signal
from typing import Any

from postersearch.encoding import Encoder

log = logging.getLogger(__name__)


async def run_until_stopped(*watch: asyncio.Task[Any]) -> None:
    """Returns on SIGINT or SIGTERM, or when any watched task ends (it stopped itself)."""
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    waiter = asyncio.create_task(stop.wait())
    try:
        await asyncio.wait([waiter, *watch], return_when=asyncio.FIRST_COMPLETED)
    finally:
        waiter.cancel()
        for sig in (signal.SIGTERM, signal.SIGINT):
            loop.remove_signal_handler(sig)


async def cancel(task: asyncio.Task[Any] | None) -> None:
    """Cancels task, if it still runs, and waits for it to end."""
    if task is not None and not task.done():
        task.cancel()
        with contextlib.suppress(asyncio.CancelledError):
            await task


async def close_within(encoder: Encoder, grace_s: float) -> None:
    """Releases the encoder; work its threads still do is left to end with the process
    (see `postersearch.grpc_server.exit_code_now`)."""
    try:
        await asyncio.wait_for(encoder.close(), max(0.5, grace_s))
    except TimeoutError:
        log.warning("releasing the encoder took longer than the grace; exiting anyway")


def failed(task: asyncio.Task[Any] | None, what: str) -> bool:
    """Whether task ended by itself with an error (logged here as what stopping)."""
    if task is None or not task.done() or task.cancelled() or task.exception() is None:
        return False
    log.error("%s stopped: %s", what, task.exception())
    return True
