"""Prometheus metrics of every service: per-RPC traffic, encoder batching, ingest progress.

Metrics live in prometheus_client's default registry, so one /metrics endpoint per process
shows everything that process runs (encoder and search share one in ``serve``).
"""

from __future__ import annotations

import inspect
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any

import grpc
from prometheus_client import Counter, Gauge, Histogram, start_http_server

GRPC_REQUESTS = Counter(
    "postersearch_grpc_requests_total",
    "gRPC calls handled, by service, method and status code.",
    ["service", "method", "code"],
)
GRPC_LATENCY = Histogram(
    "postersearch_grpc_request_seconds",
    "Time to answer a gRPC call, by service and method.",
    ["service", "method"],
    buckets=(0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)
ENCODER_BATCH_SIZE = Histogram(
    "postersearch_encoder_batch_size",
    "Items in one forward pass of the model, by input kind (text or image).",
    ["kind"],
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256, 512),
)
ENCODER_QUEUE_DEPTH = Gauge(
    "postersearch_encoder_queue_depth",
    "Items waiting for a forward pass, by input kind.",
    ["kind"],
)
INGEST_POSTERS = Counter(
    "postersearch_ingest_posters_total",
    "Posters seen by ingest, by outcome (ingested, skipped, already_stored).",
    ["outcome"],
)


def start_metrics_server(port: int, host: str = "0.0.0.0") -> None:
    """Serves /metrics over HTTP on port; 0 leaves metrics unexposed."""
    if port:
        start_http_server(port, addr=host)


def _code_of(context: grpc.aio.ServicerContext) -> str:
    code = context.code()
    if code is None:
        return str(grpc.StatusCode.OK.name)
    # code() may be a StatusCode or the raw integer set by abort(); name both the same way.
    if isinstance(code, grpc.StatusCode):
        return str(code.name)
    return next((c.name for c in grpc.StatusCode if c.value[0] == code), str(code))


class GrpcMetricsInterceptor(grpc.aio.ServerInterceptor):  # type: ignore[misc]  # grpc ships no type information
    """Counts every call and times it, labelled with the RPC and its final status code."""

    def __init__(self, service: str) -> None:
        self._service = service

    async def intercept_service(
        self,
        continuation: Callable[[grpc.HandlerCallDetails], Awaitable[grpc.RpcMethodHandler]],
        handler_call_details: grpc.HandlerCallDetails,
    ) -> grpc.RpcMethodHandler:
        handler = await continuation(handler_call_details)
        if handler is None:
            return handler
        method = (handler_call_details.method or "").rsplit("/", 1)[-1]
        labels = (self._service, method)

        def record(context: grpc.aio.ServicerContext, started: float, failed: bool) -> None:
            code = _code_of(context)
            if failed and code == grpc.StatusCode.OK.name:
                code = grpc.StatusCode.UNKNOWN.name
            GRPC_REQUESTS.labels(*labels, code).inc()
            GRPC_LATENCY.labels(*labels).observe(time.perf_counter() - started)

        if handler.unary_unary:
            inner_uu = handler.unary_unary

            async def unary_unary(request: Any, context: grpc.aio.ServicerContext) -> Any:
                started, failed = time.perf_counter(), True
                try:
                    response = inner_uu(request, context)
                    # Synchronous handlers (the stock health servicer) return the response
                    # itself; they are cheap, so calling them on the loop is fine.
                    if inspect.isawaitable(response):
                        response = await response
                    failed = False
                    return response
                finally:
                    record(context, started, failed)

            return grpc.unary_unary_rpc_method_handler(
                unary_unary,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        if handler.stream_stream:
            inner_ss = handler.stream_stream

            async def stream_stream(
                requests: AsyncIterator[Any], context: grpc.aio.ServicerContext
            ) -> AsyncIterator[Any]:
                started, failed = time.perf_counter(), True
                try:
                    async for response in inner_ss(requests, context):
                        yield response
                    failed = False
                finally:
                    record(context, started, failed)

            return grpc.stream_stream_rpc_method_handler(
                stream_stream,
                request_deserializer=handler.request_deserializer,
                response_serializer=handler.response_serializer,
            )
        # Unary-stream and stream-unary calls are not part of the contract; pass them through.
        return handler
