"""The shared gRPC plumbing: auth, health, reflection and per-RPC metrics on a real server."""

from __future__ import annotations

from collections.abc import AsyncIterator

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc

from postersearch.grpc_server import ServerOptions, create_grpc_server, set_serving
from postersearch.metrics import GRPC_REQUESTS, GrpcMetricsInterceptor

SERVICE = "postersearch.v1.EncoderService"


@pytest.fixture
async def running(request: pytest.FixtureRequest) -> AsyncIterator[tuple[str, object]]:
    api_key = getattr(request, "param", None)
    server, health, port = create_grpc_server(
        ServerOptions(host="127.0.0.1", port=0, api_key=api_key),
        register=lambda _server: None,
        service_names=[SERVICE],
        interceptors=[GrpcMetricsInterceptor("test")],
    )
    await server.start()
    try:
        yield f"127.0.0.1:{port}", health
    finally:
        await server.stop(0)


async def _check(target: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        return int(response.status)


async def _list_services(target: str, metadata: tuple[tuple[str, str], ...] = ()) -> list[str]:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        async for response in stub.ServerReflectionInfo(iter([request]), metadata=metadata):
            return [s.name for s in response.list_services_response.service]
    return []


async def test_health_starts_not_serving_and_flips(running: tuple[str, object]) -> None:
    target, health = running
    assert await _check(target) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert await _check(target, SERVICE) == health_pb2.HealthCheckResponse.NOT_SERVING
    set_serving(health, [SERVICE], serving=True)
    assert await _check(target) == health_pb2.HealthCheckResponse.SERVING
    assert await _check(target, SERVICE) == health_pb2.HealthCheckResponse.SERVING


async def test_reflection_lists_services(running: tuple[str, object]) -> None:
    names = await _list_services(running[0])
    assert SERVICE in names
    assert "grpc.health.v1.Health" in names


async def _call_service(target: str, metadata: tuple[tuple[str, str], ...] = ()) -> None:
    async with grpc.aio.insecure_channel(target) as channel:
        call = channel.unary_unary(f"/{SERVICE}/GetInfo")
        await call(b"", metadata=metadata)


@pytest.mark.parametrize("running", ["s3cret"], indirect=True)
async def test_api_key_guards_everything_but_health_and_reflection(
    running: tuple[str, object],
) -> None:
    target, _ = running
    # Health and the schema answer without a key: orchestrators probe, grpcurl finds health.
    assert await _check(target) == health_pb2.HealthCheckResponse.NOT_SERVING
    assert SERVICE in await _list_services(target)
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await _call_service(target)
    assert missing.value.code() == grpc.StatusCode.UNAUTHENTICATED
    with pytest.raises(grpc.aio.AioRpcError) as wrong:
        await _call_service(target, (("authorization", "Bearer nope"),))
    assert wrong.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert "wrong API key" in (wrong.value.details() or "")
    with pytest.raises(grpc.aio.AioRpcError) as past_auth:
        await _call_service(target, (("authorization", "Bearer s3cret"),))
    assert past_auth.value.code() == grpc.StatusCode.UNIMPLEMENTED  # no such service here


async def test_metrics_count_calls_by_status(running: tuple[str, object]) -> None:
    target, _ = running
    ok = GRPC_REQUESTS.labels("test", "Check", "OK")
    not_found = GRPC_REQUESTS.labels("test", "Check", "NOT_FOUND")
    ok_before, not_found_before = ok._value.get(), not_found._value.get()
    await _check(target)
    with pytest.raises(grpc.aio.AioRpcError):
        await _check(target, "no.such.Service")
    assert ok._value.get() == ok_before + 1
    assert not_found._value.get() == not_found_before + 1
