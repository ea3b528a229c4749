"""The gRPC plumbing both services share: auth, health, reflection, limits and shutdown.

Each service builds its servicers and calls create_grpc_server; the conventions then
hold the same for all of them.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import signal
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = logging.getLogger(__name__)

HEALTH_SERVICE = "grpc.health.v1.Health"


@dataclass(frozen=True)
class ServerOptions:
    """What every service's server is configured with.

    Attributes:
        host: Interface to bind ("0.0.0.0" for every interface, "127.0.0.1" for local only).
        port: Port to bind; 0 picks a free one.
        max_message_bytes: Largest message received or sent.
        api_key: When set, every call but health needs ``authorization: Bearer <key>``.
        grace_seconds: How long in-flight calls may finish on shutdown.
    """

    host: str = "0.0.0.0"
    port: int = 0
    max_message_bytes: int = 64 * 1024 * 1024
    api_key: str | None = None
    grace_seconds: float = 5.0


def _reject(message: str) -> grpc.RpcMethodHandler:
    async def abort(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(grpc.StatusCode.UNAUTHENTICATED, message)

    # The same handler shape works for unary and streaming requests: it aborts before
    # reading anything.
    return grpc.unary_unary_rpc_method_handler(abort)


class ApiKeyInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without the right bearer key; the health service stays open."""

    def __init__(self, api_key: str) -> None:
        self._expected = f"Bearer {api_key}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        if method.startswith(f"/{HEALTH_SERVICE}/"):
            return await continuation(handler_call_details)
        metadata = dict(handler_call_details.invocation_metadata or ())
        given = metadata.get("authorization")
        if given is None:
            return _reject("missing 'authorization: Bearer <key>' metadata")
        given_bytes = given.encode() if isinstance(given, str) else given
        # Constant-time comparison, so the key cannot be guessed from response timing.
        if not hmac.compare_digest(given_bytes, self._expected):
            return _reject("wrong API key")
        return await continuation(handler_call_details)


def create_grpc_server(
    options: ServerOptions,
    register: Callable[[grpc.aio.Server], None],
    service_names: Iterable[str],
    interceptors: Iterable[grpc.aio.ServerInterceptor] = (),
) -> tuple[grpc.aio.Server, health.HealthServicer, int]:
    """Builds an asyncio gRPC server with health, reflection and the shared limits.

    Health starts NOT_SERVING for the overall server and every named service; the caller
    flips it with set_serving once its dependencies are ready.

    Args:
        options: Bind address, limits and the optional API key.
        register: Adds the service's own servicers to the server.
        service_names: Full names of those services, for health and reflection.
        interceptors: Extra interceptors, run after authentication.

    Returns:
        The unstarted server, its health servicer and the bound port.
    """
    all_interceptors: list[grpc.aio.ServerInterceptor] = []
    if options.api_key:
        all_interceptors.append(ApiKeyInterceptor(options.api_key))
    all_interceptors.extend(interceptors)
    server = grpc.aio.server(
        interceptors=all_interceptors,
        options=[
            ("grpc.max_receive_message_length", options.max_message_bytes),
            ("grpc.max_send_message_length", options.max_message_bytes),
        ],
    )
    register(server)
    names = list(service_names)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    health_pb2_grpc.add_HealthServicer_to_server(health_servicer, server)
    for name in ["", *names]:
        health_servicer.set(name, health_pb2.HealthCheckResponse.NOT_SERVING)
    reflection.enable_server_reflection(
        [
            *names,
            health_pb2.DESCRIPTOR.services_by_name["Health"].full_name,
            reflection.SERVICE_NAME,
        ],
        server,
    )
    port = server.add_insecure_port(f"{options.host}:{options.port}")
    if port == 0:
        raise OSError(f"could not bind {options.host}:{options.port}")
    return server, health_servicer, port


def set_serving(
    health_servicer: health.HealthServicer, service_names: Iterable[str], serving: bool
) -> None:
    """Marks the server and its services SERVING or NOT_SERVING."""
    status = (
        health_pb2.HealthCheckResponse.SERVING
        if serving
        else health_pb2.HealthCheckResponse.NOT_SERVING
    )
    for name in ["", *service_names]:
        health_servicer.set(name, status)


async def run_until_signal(
    server: grpc.aio.Server,
    grace_seconds: float,
    on_stop: Callable[[], Awaitable[None]] | None = None,
) -> None:
    """Waits for SIGTERM or SIGINT, then stops the server, letting calls finish for grace."""
    loop = asyncio.get_running_loop()
    stop = asyncio.Event()
    for sig in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(sig, stop.set)
    await stop.wait()
    log.info("stopping: in-flight calls get %.1f s", grace_seconds)
    await server.stop(grace_seconds)
    if on_stop is not None:
        await on_stop()
