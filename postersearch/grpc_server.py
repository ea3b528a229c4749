"""The gRPC plumbing both services share: auth, health, reflection, limits and shutdown.

Each service builds its servicers and calls create_grpc_server; the conventions then
hold the same for all of them:

- health and reflection are public; every other call needs the API key when one is set;
- a request that is not a valid message, or is over the message size limit, is answered
  INVALID_ARGUMENT (not UNKNOWN or RESOURCE_EXHAUSTED, which clients would retry);
- every error message is at most MAX_DETAILS_CHARS long, whatever the request echoed;
- on shutdown the server drains: health turns NOT_SERVING and new calls get UNAVAILABLE
  (which clients retry elsewhere) while in-flight calls finish within the grace.
"""

from __future__ import annotations

import asyncio
import hmac
import logging
import os
import sys
import threading
import time
import weakref
from collections.abc import AsyncIterator, Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

import grpc
from grpc_health.v1 import health, health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection

log = logging.getLogger(__name__)

HEALTH_SERVICE = "grpc.health.v1.Health"
# Calls anyone may make without the API key: probes, and the schema (which the proto files
# publish anyway) so that grpcurl can find the health service.
PUBLIC_SERVICES = (
    HEALTH_SERVICE,
    reflection.SERVICE_NAME,
    "grpc.reflection.v1.ServerReflection",
)
# The project's own services, whose requests are checked before they reach a servicer.
_OWN_PREFIX = "/postersearch."
MAX_DETAILS_CHARS = 1000
# gRPC's own receive limit sits above the configured one, so that a request up to twice
# the limit is still read and refused with INVALID_ARGUMENT and a message saying the
# limit; only a request over twice the limit gets gRPC's RESOURCE_EXHAUSTED.
_RECEIVE_CEILING = 2


def bounded(details: str, limit: int = MAX_DETAILS_CHARS) -> str:
    """An error message cut to limit characters, saying how much was cut."""
    if len(details) <= limit:
        return details
    cut = len(details) - limit
    return details[:limit] + f"... ({cut:,} more characters)"


@dataclass
class ServingState:
    """Whether a server still takes new calls; set by `drain_and_stop`.

    Attributes:
        draining: New calls get UNAVAILABLE; calls in flight go on.
        health: The server's health servicer, turned NOT_SERVING on drain.
        service_names: The services health reports.
    """

    draining: bool = False
    health: health.HealthServicer | None = None
    service_names: list[str] = field(default_factory=list)


_STATES: weakref.WeakKeyDictionary[grpc.aio.Server, ServingState] = weakref.WeakKeyDictionary()


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


def _reject(
    message: str, code: grpc.StatusCode = grpc.StatusCode.UNAUTHENTICATED
) -> grpc.RpcMethodHandler:
    async def abort(_request: Any, context: grpc.aio.ServicerContext) -> None:
        await context.abort(code, message)

    # The same handler shape works for unary and streaming requests: it aborts before
    # reading anything.
    return grpc.unary_unary_rpc_method_handler(abort)


class ApiKeyInterceptor(grpc.aio.ServerInterceptor):
    """Refuses calls without the right bearer key; health and reflection stay open."""

    def __init__(self, api_key: str) -> None:
        self._expected = f"Bearer {api_key}".encode()

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        if any(method.startswith(f"/{name}/") for name in PUBLIC_SERVICES):
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


class _Refused:
    """Stands in for a request that could not be accepted; the handler answers its message."""

    def __init__(self, message: str) -> None:
        self.message = message


class RequestCheckInterceptor(grpc.aio.ServerInterceptor):
    """Answers UNAVAILABLE while draining, INVALID_ARGUMENT for unusable requests.

    gRPC itself answers a request it cannot parse with UNKNOWN and the exception's type,
    and one over its size limit with RESOURCE_EXHAUSTED, which means "overloaded, retry"
    to clients. Here the request is parsed by a wrapped deserializer that never raises;
    the handler then refuses it with a message a person can act on.
    """

    def __init__(self, state: ServingState, max_message_bytes: int) -> None:
        self._state = state
        self._max_bytes = max_message_bytes

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        method = handler_call_details.method or ""
        public = any(method.startswith(f"/{name}/") for name in PUBLIC_SERVICES)
        if self._state.draining and not public:
            return _reject(
                "the server is shutting down; retry (another instance will answer)",
                grpc.StatusCode.UNAVAILABLE,
            )
        handler = await continuation(handler_call_details)
        if handler is None or not method.startswith(_OWN_PREFIX):
            return handler
        return self._checked(handler, method.rsplit("/", 1)[-1])

    def _deserializer(
        self, parse: Callable[[bytes], Any] | None, what: str
    ) -> Callable[[bytes], Any]:
        limit = self._max_bytes

        def deserialize(data: bytes) -> Any:
            if len(data) > limit:
                return _Refused(
                    f"the {what} request is too large: {len(data):,} bytes, more than the "
                    f"limit of {limit:,}; send fewer or smaller items per request"
                )
            if parse is None:
                # A handler that reads raw bytes (the key check's refusal).
                return data
            try:
                return parse(data)
            except Exception:
                return _Refused(f"the {what} request is not a valid protobuf message")

        return deserialize

    def _checked(self, handler: grpc.RpcMethodHandler, what: str) -> grpc.RpcMethodHandler:
        deserializer = self._deserializer(handler.request_deserializer, what)
        if handler.unary_unary is not None:
            unary = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                if isinstance(request, _Refused):
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, request.message)
                return await unary(request, context)

            return handler._replace(request_deserializer=deserializer, unary_unary=unary_unary)
        if handler.stream_stream is not None:
            stream = handler.stream_stream

            async def stream_stream(
                requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                refused: list[_Refused] = []

                async def usable() -> AsyncIterator[Any]:
                    async for request in requests:
                        if isinstance(request, _Refused):
                            # The stream ends here for the servicer, which answers the
                            # requests before this one; then the call is refused.
                            refused.append(request)
                            return
                        yield request

                async for response in stream(usable(), context):
                    yield response
                if refused:
                    await context.abort(grpc.StatusCode.INVALID_ARGUMENT, refused[0].message)

            return handler._replace(request_deserializer=deserializer, stream_stream=stream_stream)
        return handler


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
    state = ServingState()
    all_interceptors: list[grpc.aio.ServerInterceptor] = [
        RequestCheckInterceptor(state, options.max_message_bytes)
    ]
    if options.api_key:
        all_interceptors.append(ApiKeyInterceptor(options.api_key))
    all_interceptors.extend(interceptors)
    server = grpc.aio.server(
        interceptors=all_interceptors,
        options=[
            ("grpc.max_receive_message_length", _RECEIVE_CEILING * options.max_message_bytes),
            ("grpc.max_send_message_length", options.max_message_bytes),
        ],
    )
    register(server)
    names = list(service_names)
    health_servicer = health.HealthServicer(experimental_non_blocking=True)
    state.health = health_servicer
    state.service_names = names
    _STATES[server] = state
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


# Part of the grace spent answering UNAVAILABLE before gRPC's own stop, which cancels
# calls arriving after it: long enough for load balancers to see NOT_SERVING go by.
_DRAIN_SHARE = 0.2
_MAX_DRAIN_S = 1.0


async def drain_and_stop(server: grpc.aio.Server, grace_seconds: float) -> None:
    """Stops a server within grace_seconds, draining first.

    Health turns NOT_SERVING and new calls get UNAVAILABLE (clients retry them on another
    instance) for a short while; then gRPC stops, cancelling whatever is still in flight
    when the grace is up.
    """
    started = time.monotonic()
    state = _STATES.get(server)
    if state is not None and grace_seconds > 0:
        state.draining = True
        if state.health is not None:
            set_serving(state.health, state.service_names, False)
        await asyncio.sleep(min(_MAX_DRAIN_S, _DRAIN_SHARE * grace_seconds))
    await server.stop(max(0.0, grace_seconds - (time.monotonic() - started)))


def exit_code_now(code: int, thread_prefix: str) -> int:
    """Ends the process at once with code when its worker threads are still busy.

    Decoding threads cannot be interrupted; Python would wait for them at exit, past any
    stop timeout a container runtime allows, so the process exits without waiting for
    them (their results have no caller left). Without such threads, returns code.

    Args:
        code: The exit code.
        thread_prefix: Names of the worker threads to look for (their pools are shut
            down by now, so a live one is busy).
    """
    busy = [t for t in threading.enumerate() if t.name.startswith(thread_prefix) and t.is_alive()]
    if not busy:
        return code
    log.info("exiting with %d worker threads still busy", len(busy))
    logging.shutdown()
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)
