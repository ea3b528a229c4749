"""The encoder's gRPC server: servicer, health, reflection, auth, metrics and lifecycle."""

from __future__ import annotations

import asyncio
import contextlib
import logging

import grpc
from grpc_health.v1 import health

from encoder_service.local import LocalEncoder, open_local_encoder
from encoder_service.servicer import EncoderServicer
from encoder_service.settings import EncoderSettings
from postersearch.encoding import Encoder, TranslatorUnavailableError
from postersearch.grpc_server import (
    ServerOptions,
    create_grpc_server,
    run_until_signal,
    set_serving,
)
from postersearch.metrics import GrpcMetricsInterceptor, start_metrics_server
from postersearch.v1 import encoder_pb2, encoder_pb2_grpc

log = logging.getLogger(__name__)

SERVICE_NAME = encoder_pb2.DESCRIPTOR.services_by_name["EncoderService"].full_name


def _build(
    settings: EncoderSettings, encoder: Encoder | None
) -> tuple[grpc.aio.Server, int, EncoderServicer, health.HealthServicer]:
    servicer = EncoderServicer(encoder, settings.stream_concurrency, settings.decode_budget())
    options = ServerOptions(
        host=settings.host,
        port=settings.port,
        max_message_bytes=settings.max_message_bytes,
        api_key=settings.api_key,
        grace_seconds=settings.grace_seconds,
    )
    server, health_servicer, port = create_grpc_server(
        options,
        lambda s: encoder_pb2_grpc.add_EncoderServiceServicer_to_server(servicer, s),
        [SERVICE_NAME],
        interceptors=[GrpcMetricsInterceptor("encoder")],
    )
    return server, port, servicer, health_servicer


async def _load_in_background(
    settings: EncoderSettings,
    server: grpc.aio.Server,
    servicer: EncoderServicer,
    health_servicer: health.HealthServicer,
) -> None:
    try:
        encoder = await open_local_encoder(settings)
    except Exception:
        log.exception("could not load the model %s; stopping", settings.model)
        await server.stop(0)
        return
    servicer.attach(encoder)
    set_serving(health_servicer, [SERVICE_NAME], True)
    log.info("model %s loaded and warmed up: serving", settings.model)
    load_translator_soon(encoder)
    try:
        await server.wait_for_termination()
    finally:
        await encoder.close()


def load_translator_soon(encoder: LocalEncoder) -> None:
    """Loads the translator in a worker thread while the server already serves, so that
    the first query to need it does not wait for it (a failure is logged and remembered:
    searches then go on untranslated)."""
    if not encoder.translator.model_id:
        return
    task = asyncio.get_running_loop().run_in_executor(None, _load_quietly, encoder)
    _BACKGROUND.add(task)
    task.add_done_callback(_BACKGROUND.discard)


def _load_quietly(encoder: LocalEncoder) -> None:
    with contextlib.suppress(TranslatorUnavailableError):
        encoder.translator.load()


# Keeps background loads referenced until they finish.
_BACKGROUND: set[asyncio.Future[None]] = set()


def create_server(
    settings: EncoderSettings, encoder: Encoder | None = None
) -> tuple[grpc.aio.Server, int]:
    """Builds the encoder's gRPC server; call it inside a running event loop.

    With an encoder, the server is SERVING as soon as it starts, and the caller keeps
    ownership of the encoder. Without one, the model named by the settings loads in the
    background: health says NOT_SERVING and calls get UNAVAILABLE until it is loaded and
    warmed up, then SERVING; the model is released when the server stops.

    Args:
        settings: Bind address, limits, API key, and the model to load.
        encoder: A ready encoder to serve, or None to load one.

    Returns:
        The unstarted server and its bound port.
    """
    server, port, servicer, health_servicer = _build(settings, encoder)
    if encoder is not None:
        set_serving(health_servicer, [SERVICE_NAME], True)
    else:
        # The servicer keeps the task referenced, so that it is not garbage-collected.
        servicer.loading = asyncio.get_running_loop().create_task(
            _load_in_background(settings, server, servicer, health_servicer)
        )
    return server, port


async def serve(settings: EncoderSettings) -> int:
    """Runs the encoder server until SIGTERM or SIGINT; the ``poster-search encoder`` command.

    The port answers from the start (health NOT_SERVING) while the model loads.

    Returns:
        The process exit code: 0 after a clean stop, 1 when the model failed to load.
    """
    start_metrics_server(settings.metrics_port)
    server, port, servicer, health_servicer = _build(settings, None)
    await server.start()
    log.info("encoder listening on %s:%d, loading %s", settings.host, port, settings.model)
    try:
        encoder = await open_local_encoder(settings)
    except Exception:
        log.exception("could not load the model %s", settings.model)
        await server.stop(0)
        return 1
    servicer.attach(encoder)
    set_serving(health_servicer, [SERVICE_NAME], True)
    load_translator_soon(encoder)
    info = await encoder.info()
    log.info(
        "serving %s (%d-d, %s, %s) on port %d",
        info.model_id,
        info.dimension,
        info.device,
        info.dtype,
        port,
    )
    await run_until_signal(server, settings.grace_seconds, on_stop=encoder.close)
    return 0
