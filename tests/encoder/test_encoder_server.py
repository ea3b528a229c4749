"""The encoder over gRPC: real servers on free ports, called through real channels."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence

import grpc
import numpy as np
import pytest
from encoder_samples import bad_images, jpeg
from grpc_health.v1 import health_pb2, health_pb2_grpc
from grpc_reflection.v1alpha import reflection_pb2, reflection_pb2_grpc
from prometheus_client import REGISTRY

from encoder_service.client import EncoderAuthError, GrpcEncoder
from encoder_service.local import LocalEncoder, open_local_encoder
from encoder_service.server import SERVICE_NAME, EncoderServer
from encoder_service.settings import EncoderSettings
from postersearch.encoding import (
    EncoderUnavailableError,
    ImageErrorCode,
    ImageFailure,
    InvalidInputError,
    OverloadedError,
)
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc

ServerFactory = Callable[..., Awaitable[tuple[str, LocalEncoder]]]


async def _call_text(
    target: str, texts: Sequence[str], key: str | None = None
) -> pb.EncodeTextResponse:
    async with grpc.aio.insecure_channel(target) as channel:
        metadata = (("authorization", f"Bearer {key}"),) if key else ()
        stub = encoder_pb2_grpc.EncoderServiceStub(channel)
        response: pb.EncodeTextResponse = await stub.EncodeText(
            pb.EncodeTextRequest(texts=texts), metadata=metadata
        )
        return response


async def _health(target: str, service: str = "") -> int:
    async with grpc.aio.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        response = await stub.Check(health_pb2.HealthCheckRequest(service=service))
        return int(response.status)


async def test_texts_and_info_through_the_client(start_server: ServerFactory) -> None:
    target, local = await start_server()
    client = GrpcEncoder(target)
    try:
        vectors = await client.encode_texts(["dark red horror poster", "네온사인이 많은 느낌"])
        info = await client.info()
    finally:
        await client.close()

    assert vectors.shape == (2, 32)
    assert vectors.dtype == np.float32
    np.testing.assert_allclose(
        vectors,
        await local.encode_texts(["dark red horror poster", "네온사인이 많은 느낌"]),
        atol=1e-6,
    )
    assert info == await local.info()


async def test_mixed_image_batch_through_the_client(start_server: ServerFactory) -> None:
    target, _ = await start_server()
    bad = bad_images(200_000)
    client = GrpcEncoder(target)
    try:
        outcomes = await client.encode_images(
            [jpeg(seed=1), bad["truncated"], bad["too_many_pixels"], jpeg(seed=2), b""]
        )
    finally:
        await client.close()

    assert [type(o).__name__ for o in outcomes] == [
        "ndarray", "ImageFailure", "ImageFailure", "ndarray", "ImageFailure",
    ]  # fmt: skip
    failures = [o for o in outcomes if isinstance(o, ImageFailure)]
    assert [(f.index, f.code) for f in failures] == [
        (1, ImageErrorCode.UNDECODABLE),
        (2, ImageErrorCode.TOO_MANY_PIXELS),
        (4, ImageErrorCode.EMPTY),
    ]
    assert all(f.message.startswith(f"image {f.index}: ") for f in failures)


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "no texts given"),
        (["ok", ""], "text 1 is empty"),
        (["x" * 201], "more than the limit of 200"),
        (["q"] * 17, "at most 16"),
    ],
)
async def test_bad_text_requests_are_invalid_and_the_server_stays_up(
    start_server: ServerFactory, texts: list[str], message: str
) -> None:
    target, _ = await start_server()

    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _call_text(target, texts)

    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert message in (raised.value.details() or "")
    assert len((await _call_text(target, ["next one"])).vectors) == 1


@pytest.mark.parametrize("images", [[], [b"x"] * 17])
async def test_bad_image_requests_map_to_invalid_input(
    start_server: ServerFactory, images: list[bytes]
) -> None:
    target, _ = await start_server()
    client = GrpcEncoder(target)
    try:
        with pytest.raises(InvalidInputError):
            await client.encode_images(images)
        assert len(await client.encode_images([jpeg()])) == 1
    finally:
        await client.close()


async def test_a_request_over_the_message_limit_is_invalid_input(
    start_server: ServerFactory,
) -> None:
    target, _ = await start_server(max_message_bytes=100_000)
    client = GrpcEncoder(target)
    try:
        with pytest.raises(InvalidInputError, match="too large"):
            await client.encode_images([jpeg(seed=i) + b"\x00" * 40_000 for i in range(3)])
        assert len(await client.encode_images([jpeg()])) == 1
    finally:
        await client.close()


async def test_overload_is_resource_exhausted(start_server: ServerFactory) -> None:
    target, _ = await start_server(max_queue=4)
    client = GrpcEncoder(target)
    try:
        results = await asyncio.gather(
            *(client.encode_texts(["a", "b", "c"]) for _ in range(40)), return_exceptions=True
        )
        after = await client.encode_texts(["a", "b", "c"])
    finally:
        await client.close()

    assert any(isinstance(r, OverloadedError) for r in results)
    assert any(isinstance(r, np.ndarray) for r in results)
    assert all(isinstance(r, OverloadedError | np.ndarray) for r in results)
    assert after.shape == (3, 32)


async def test_concurrent_clients_coalesce_into_few_forward_passes(
    start_server: ServerFactory,
) -> None:
    target, local = await start_server()
    clients = [GrpcEncoder(target) for _ in range(8)]
    before = local.runtime.forward_passes["text"]
    try:
        results = await asyncio.gather(
            *(clients[i % 8].encode_texts([f"query {i}"]) for i in range(32))
        )
    finally:
        for client in clients:
            await client.close()

    assert len(results) == 32
    assert local.runtime.forward_passes["text"] - before < 32


@pytest.mark.parametrize("text", ["\x00\x00", "\u200b\u200c\u200d", "\ufeff \u2060\t"])
async def test_text_with_nothing_visible_is_refused(start_server: ServerFactory, text: str) -> None:
    target, _ = await start_server()
    with pytest.raises(grpc.aio.AioRpcError) as raised:
        await _call_text(target, ["a poster", text])
    assert raised.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "text 1 has no visible characters" in (raised.value.details() or "")


async def test_health_goes_from_not_serving_to_serving_while_the_model_loads(
    tiny_settings: EncoderSettings,
) -> None:
    server = EncoderServer(tiny_settings)
    await server.start()
    target = f"127.0.0.1:{server.port}"
    encoder: LocalEncoder | None = None
    try:
        load = asyncio.create_task(open_local_encoder(tiny_settings))
        assert await _health(target) == health_pb2.HealthCheckResponse.NOT_SERVING
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _call_text(target, ["too early"])
        assert raised.value.code() == grpc.StatusCode.UNAVAILABLE

        encoder = await load
        server.attach(encoder)
        assert await _health(target, SERVICE_NAME) == health_pb2.HealthCheckResponse.SERVING
        assert await _health(target) == health_pb2.HealthCheckResponse.SERVING
        assert len((await _call_text(target, ["now"])).vectors) == 1
    finally:
        await server.stop(0)
        if encoder is not None:
            await encoder.close()


async def test_api_key_guards_every_call_but_health(start_server: ServerFactory) -> None:
    target, _ = await start_server(api_key="s3cret")

    for key in (None, "wrong"):
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await _call_text(target, ["hi"], key=key)
        assert raised.value.code() == grpc.StatusCode.UNAUTHENTICATED
    assert len((await _call_text(target, ["hi"], key="s3cret")).vectors) == 1
    assert await _health(target) == health_pb2.HealthCheckResponse.SERVING

    wrong, right = GrpcEncoder(target, api_key="nope"), GrpcEncoder(target, api_key="s3cret")
    try:
        # Not "unavailable": a wrong key is no outage, and retrying cannot fix it.
        with pytest.raises(EncoderAuthError, match="refused the API key") as refused:
            await wrong.encode_texts(["hi"])
        assert not isinstance(refused.value, EncoderUnavailableError)
        assert (await right.encode_texts(["hi"])).shape == (1, 32)
    finally:
        await wrong.close()
        await right.close()


async def test_without_api_key_no_metadata_is_needed(start_server: ServerFactory) -> None:
    target, _ = await start_server()

    assert len((await _call_text(target, ["open"])).vectors) == 1


async def test_reflection_lists_the_encoder_service(start_server: ServerFactory) -> None:
    target, _ = await start_server()
    async with grpc.aio.insecure_channel(target) as channel:
        stub = reflection_pb2_grpc.ServerReflectionStub(channel)
        request = reflection_pb2.ServerReflectionRequest(list_services="")
        responses = [r async for r in stub.ServerReflectionInfo(iter([request]))]

    names = {s.name for s in responses[0].list_services_response.service}
    assert SERVICE_NAME in names


def test_every_rpc_of_the_contract_is_unary() -> None:
    # Bulk callers keep several unary EncodeImages calls in flight, each retried or split
    # on its own; a streaming call would fail every batch it carries on one error.
    service = pb.DESCRIPTOR.services_by_name["EncoderService"]
    methods = {m.name: (m.client_streaming, m.server_streaming) for m in service.methods}

    assert methods == {
        name: (False, False) for name in ("EncodeText", "EncodeImages", "GetInfo", "Translate")
    }


async def test_dns_target_with_round_robin(start_server: ServerFactory) -> None:
    target, _ = await start_server()
    port = target.rsplit(":", 1)[1]
    client = GrpcEncoder(f"dns:///localhost:{port}")
    try:
        assert (await client.encode_texts(["via dns"])).shape == (1, 32)
    finally:
        await client.close()


async def test_unreachable_server_is_unavailable() -> None:
    client = GrpcEncoder("127.0.0.1:1", timeout_s=2)
    try:
        with pytest.raises(EncoderUnavailableError):
            await client.encode_texts(["anyone?"])
    finally:
        await client.close()


def _unavailable_calls() -> float:
    labels = {"service": "encoder", "method": "EncodeText", "code": "UNAVAILABLE"}
    return REGISTRY.get_sample_value("postersearch_grpc_requests_total", labels) or 0.0


@pytest.mark.parametrize(("retries", "tries"), [(True, 3), (False, 1)])
async def test_the_channel_retries_unavailable_only_when_asked(
    tiny_settings: EncoderSettings, retries: bool, tries: int
) -> None:
    # A server whose model is still loading answers every call UNAVAILABLE; its metrics
    # count what arrived.
    server = EncoderServer(tiny_settings)
    await server.start()
    client = GrpcEncoder(f"127.0.0.1:{server.port}", retries=retries)
    before = _unavailable_calls()
    try:
        with pytest.raises(EncoderUnavailableError):
            await client.encode_texts(["anyone?"])
    finally:
        await client.close()
        await server.stop(0)

    assert _unavailable_calls() - before == tries
