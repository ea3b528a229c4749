"""Dynamic batching: concurrent requests share one forward pass.

Callers first reserve room for their items (admission control: beyond ``max_queue`` items
they get OverloadedError at once, so memory stays bounded), may then prepare them (decode
images), and submit them. One collector task per batcher gathers submitted items into
batches of at most ``max_batch_size`` and runs each on the inference executor. While a
pass runs, new requests pile up and go together in the next one, so coalescing needs no
fixed delay; the collector only waits (up to ``max_wait``) for items that are reserved but
still being prepared.
"""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Executor
from dataclasses import dataclass, field
from typing import Generic, TypeVar

import numpy as np

from postersearch.encoding import OverloadedError, Vectors
from postersearch.metrics import ENCODER_BATCH_SIZE, ENCODER_QUEUE_DEPTH

T = TypeVar("T")


@dataclass
class Reservation:
    """Room reserved for one request's items; unsubmitted items count as on their way."""

    size: int
    unsubmitted: int


@dataclass
class _Job(Generic[T]):
    items: Sequence[T]
    future: asyncio.Future[Vectors] = field(repr=False)


class DynamicBatcher(Generic[T]):
    """Coalesces concurrent submissions into batched calls of run_batch.

    run_batch returns one row per item; each submitter gets its own rows back.

    Args:
        kind: Label of the metrics ("text" or "image").
        run_batch: Blocking function mapping a batch of items to one vector per item.
        executor: Where run_batch runs (one thread: the model runs one pass at a time).
        max_batch_size: Most items in one call of run_batch.
        max_wait_s: How long a batch may wait for reserved items still being prepared.
        max_queue: Most items reserved at once.
    """

    def __init__(
        self,
        kind: str,
        run_batch: Callable[[Sequence[T]], Vectors],
        executor: Executor,
        max_batch_size: int,
        max_wait_s: float,
        max_queue: int,
    ) -> None:
        self._kind = kind
        self._run_batch = run_batch
        self._executor = executor
        self._max_batch = max_batch_size
        self._max_wait = max_wait_s
        self._max_queue = max_queue
        self._queue: asyncio.Queue[_Job[T]] = asyncio.Queue()
        self._reserved = 0
        self._unsubmitted = 0
        self._running = 0
        self._task: asyncio.Task[None] | None = None
        self._batch_size = ENCODER_BATCH_SIZE.labels(kind=kind)
        self._depth = ENCODER_QUEUE_DEPTH.labels(kind=kind)

    def _update_depth(self) -> None:
        self._depth.set(self._reserved - self._running)

    @contextlib.contextmanager
    def reserve(self, count: int) -> Iterator[Reservation]:
        """Reserves room for count items until the block ends.

        Raises:
            OverloadedError: The items would take more than max_queue in all.
        """
        if self._reserved + count > self._max_queue:
            raise OverloadedError(
                f"the encoder is overloaded: {self._reserved} {self._kind} items are queued "
                f"(limit {self._max_queue}); retry later"
            )
        reservation = Reservation(size=count, unsubmitted=count)
        self._reserved += count
        self._unsubmitted += count
        self._update_depth()
        try:
            yield reservation
        finally:
            self._reserved -= reservation.size
            self._unsubmitted -= reservation.unsubmitted
            self._update_depth()

    async def submit(self, reservation: Reservation, items: Sequence[T]) -> Vectors:
        """Queues items (at most the reservation's size) and waits for their results."""
        if len(items) > reservation.unsubmitted:
            raise ValueError("more items submitted than reserved")
        # Whatever was reserved but not submitted will never come (failed to decode).
        self._unsubmitted -= reservation.unsubmitted
        reservation.unsubmitted = 0
        if not items:
            return np.empty((0, 0), dtype=np.float32)
        if self._task is None:
            self._task = asyncio.get_running_loop().create_task(self._collect())
        future: asyncio.Future[Vectors] = asyncio.get_running_loop().create_future()
        self._queue.put_nowait(_Job(items, future))
        return await future

    async def close(self) -> None:
        """Stops the collector; jobs still queued fail with CancelledError."""
        if self._task is not None:
            self._task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._task
            self._task = None
        while not self._queue.empty():
            self._queue.get_nowait().future.cancel()

    async def _next_batch(self, first: _Job[T]) -> tuple[list[_Job[T]], _Job[T] | None]:
        loop = asyncio.get_running_loop()
        jobs, count = [first], len(first.items)
        deadline = loop.time() + self._max_wait
        while count < self._max_batch:
            if self._queue.empty():
                remaining = deadline - loop.time()
                if self._unsubmitted <= 0 or remaining <= 0:
                    break
                try:
                    job = await asyncio.wait_for(self._queue.get(), remaining)
                except TimeoutError:
                    break
            else:
                job = self._queue.get_nowait()
            if count + len(job.items) > self._max_batch:
                return jobs, job
            jobs.append(job)
            count += len(job.items)
        return jobs, None

    async def _collect(self) -> None:
        loop = asyncio.get_running_loop()
        carry: _Job[T] | None = None
        while True:
            first = carry if carry is not None else await self._queue.get()
            jobs, carry = await self._next_batch(first)
            # A caller that went away (cancelled) needs no pass.
            jobs = [job for job in jobs if not job.future.done()]
            if not jobs:
                continue
            items = [item for job in jobs for item in job.items]
            self._running = len(items)
            self._update_depth()
            self._batch_size.observe(len(items))
            try:
                results = await loop.run_in_executor(self._executor, self._run_batch, items)
            except Exception as exc:
                for job in jobs:
                    if not job.future.done():
                        job.future.set_exception(exc)
                continue
            finally:
                self._running = 0
                self._update_depth()
            start = 0
            for job in jobs:
                end = start + len(job.items)
                if not job.future.done():
                    job.future.set_result(results[start:end])
                start = end
