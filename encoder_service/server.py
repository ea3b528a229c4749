"""The encoder's gRPC server: servicer, health, reflection, auth and metrics."""

from __future__ import annotations

import grpc
from grpc_health.v1 import health

from encoder_service.servicer import EncoderServicer
from encoder_service.settings import EncoderSettings
from postersearch.encoding import Encoder
from postersearch.grpc_server import (
    ServerOptions,
    create_grpc_server,
    drain_and_stop,
    set_serving,
)
from postersearch.metrics import GrpcMetricsInterceptor
from postersearch.v1 import encoder_pb2, encoder_pb2_grpc

SERVICE_NAME = encoder_pb2.DESCRIPTOR.services_by_name["EncoderService"].full_name


class EncoderServer:
    """An EncoderService gRPC server; build it inside a running event loop.

    With an encoder, the server is SERVING as soon as it starts. Without one (the model
    is still loading), health says NOT_SERVING and calls get UNAVAILABLE until `attach`.
    The caller keeps ownership of the encoder.

    Args:
        settings: Bind address, limits and API key.
        encoder: A ready encoder to serve, or None until one is attached.
    """

    def __init__(self, settings: EncoderSettings, encoder: Encoder | None = None) -> None:
        self._servicer = EncoderServicer(encoder, settings.decode_budget())
        self._grace_s = settings.grace_s
        options = ServerOptions(
            host=settings.host,
            port=settings.port,
            max_message_bytes=settings.max_message_bytes,
            api_key=settings.api_key,
            grace_s=settings.grace_s,
        )
        self.server, self._health, self.port = create_grpc_server(
            options,
            lambda s: encoder_pb2_grpc.add_EncoderServiceServicer_to_server(self._servicer, s),
            [SERVICE_NAME],
            interceptors=[GrpcMetricsInterceptor("encoder")],
        )
        if encoder is not None:
            set_serving(self._health, [SERVICE_NAME], True)

    @property
    def health(self) -> health.HealthServicer:
        """The health servicer (NOT_SERVING until an encoder is attached)."""
        return self._health

    def attach(self, encoder: Encoder) -> None:
        """Starts answering with encoder, and reports SERVING."""
        self._servicer.attach(encoder)
        set_serving(self._health, [SERVICE_NAME], True)

    async def start(self) -> None:
        """Starts answering calls."""
        await self.server.start()

    async def stop(self, grace_s: float | None = None) -> None:
        """Drains, then stops: in-flight calls finish within grace_s seconds."""
        await drain_and_stop(self.server, self._grace_s if grace_s is None else grace_s)


def create_server(settings: EncoderSettings, encoder: Encoder) -> tuple[grpc.aio.Server, int]:
    """Builds the encoder's gRPC server over a ready encoder (SERVING once started).

    Returns:
        The unstarted server and its bound port.
    """
    server = EncoderServer(settings, encoder)
    return server.server, server.port
