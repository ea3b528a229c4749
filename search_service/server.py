"""The search gRPC server: SearchService beside health and reflection.

Health reports NOT_SERVING until both the encoder and the index answer (and agree on the
model), and follows them afterwards, so a load balancer stops sending traffic while a
dependency is down and resumes once it is back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging

from grpc_health.v1 import health

from postersearch.grpc_server import (
    ServerOptions,
    create_grpc_server,
    drain_and_stop,
    set_serving,
)
from postersearch.metrics import GrpcMetricsInterceptor
from postersearch.v1 import search_pb2_grpc
from search_service.core import PosterSearch
from search_service.errors import DependencyUnavailableError
from search_service.servicer import SERVICE_NAME, SearchServicer
from search_service.settings import SearchSettings

log = logging.getLogger(__name__)


class SearchServer:
    """A SearchService gRPC server with its readiness probe.

    Args:
        settings: Bind address, key and limits.
        search: The search core the servicer answers with.
        probe_interval_s: Seconds between dependency checks once serving.
    """

    def __init__(
        self, settings: SearchSettings, search: PosterSearch, probe_interval_s: float = 5.0
    ) -> None:
        self._search = search
        self._probe_interval_s = probe_interval_s
        self._grace_s = settings.grace_s
        self._probe: asyncio.Task[None] | None = None
        self.serving = False
        self._serving_event = asyncio.Event()
        options = ServerOptions(
            host=settings.host,
            port=settings.port,
            max_message_bytes=settings.max_message_bytes,
            api_key=settings.api_key,
            grace_s=settings.grace_s,
        )
        servicer = SearchServicer(search)
        self.server, self._health, self.port = create_grpc_server(
            options,
            lambda server: search_pb2_grpc.add_SearchServiceServicer_to_server(servicer, server),
            [SERVICE_NAME],
            interceptors=[GrpcMetricsInterceptor("search")],
        )

    @property
    def health(self) -> health.HealthServicer:
        """The health servicer (NOT_SERVING until the dependencies answer)."""
        return self._health

    async def start(self) -> None:
        """Starts answering calls and probing the dependencies."""
        await self.server.start()
        self._probe = asyncio.create_task(self._watch(), name="search-readiness")

    async def stop(self, grace_s: float | None = None) -> None:
        """Stops probing, then drains: new calls get UNAVAILABLE, in-flight ones finish
        within grace_s seconds."""
        if self._probe is not None:
            self._probe.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await self._probe
            self._probe = None
        self.serving = False
        self._serving_event.clear()
        await drain_and_stop(self.server, self._grace_s if grace_s is None else grace_s)

    async def check_now(self) -> bool:
        """Probes the dependencies once and updates health; True when serving."""
        try:
            await self._search.check_ready()
        except DependencyUnavailableError as exc:
            if self.serving or self._probe is None:
                log.warning("search not serving: %s", exc)
            self._set(False)
        else:
            if not self.serving:
                log.info("search serving: encoder and index answer")
            self._set(True)
        return self.serving

    async def wait_serving(self, timeout_s: float) -> bool:
        """Waits until the server reports SERVING, up to timeout_s seconds; True when it does."""
        with contextlib.suppress(TimeoutError):
            await asyncio.wait_for(self._serving_event.wait(), timeout_s)
        return self.serving

    def _set(self, serving: bool) -> None:
        self.serving = serving
        if serving:
            self._serving_event.set()
        else:
            self._serving_event.clear()
        set_serving(self._health, [SERVICE_NAME], serving)

    async def _watch(self) -> None:
        while True:
            serving = await self.check_now()
            # Until first ready, check often so that start-up is not delayed by the interval.
            await asyncio.sleep(self._probe_interval_s if serving else 0.5)


def create_server(
    settings: SearchSettings, search: PosterSearch, probe_interval_s: float = 5.0
) -> tuple[SearchServer, int]:
    """Builds the search server (not started) and returns it with its bound port."""
    server = SearchServer(settings, search, probe_interval_s)
    return server, server.port
