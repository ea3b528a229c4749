"""GrpcEncoder: the Encoder interface over gRPC, for ingest and the search service."""

from __future__ import annotations

import json
from collections.abc import Sequence

import grpc

from encoder_service.convert import (
    info_from_proto,
    outcomes_from_proto,
    tokens_from_proto,
    vectors_from_proto,
)
from postersearch.encoding import (
    EncodedTexts,
    EncoderError,
    EncoderInfo,
    EncoderUnavailableError,
    ImageOutcome,
    InvalidInputError,
    OverloadedError,
    TranslatorUnavailableError,
    Vectors,
)
from postersearch.status import Outcome, error_class, outcome_of_code
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc

_MAX_MESSAGE_BYTES = 64 * 1024 * 1024
# round_robin spreads calls over every address a dns:/// target resolves to (one per
# replica); the retry policy absorbs a replica restarting. Encoding is idempotent.
_SERVICE_CONFIG = {
    "loadBalancingConfig": [{"round_robin": {}}],
    "methodConfig": [
        {
            "name": [
                {"service": "postersearch.v1.EncoderService", "method": "EncodeText"},
                {"service": "postersearch.v1.EncoderService", "method": "EncodeImages"},
                {"service": "postersearch.v1.EncoderService", "method": "GetInfo"},
                {"service": "postersearch.v1.EncoderService", "method": "Translate"},
            ],
            "retryPolicy": {
                "maxAttempts": 3,
                "initialBackoff": "0.1s",
                "maxBackoff": "1s",
                "backoffMultiplier": 2,
                "retryableStatusCodes": ["UNAVAILABLE"],
            },
        }
    ],
}


def channel_options(
    max_message_bytes: int = _MAX_MESSAGE_BYTES, retries: bool = True
) -> list[tuple[str, object]]:
    """Options of a channel to the encoder: message size, keepalive, balancing, retries.

    Args:
        max_message_bytes: Largest message sent or received.
        retries: Let the channel retry UNAVAILABLE calls; False where the caller retries
            itself (ingest), so that the two layers do not multiply.
    """
    config = (
        _SERVICE_CONFIG
        if retries
        else {"loadBalancingConfig": _SERVICE_CONFIG["loadBalancingConfig"]}
    )
    return [
        ("grpc.max_receive_message_length", max_message_bytes),
        ("grpc.max_send_message_length", max_message_bytes),
        # Pings only while calls are open: they detect a dead replica behind a load balancer
        # without tripping the server's too-many-pings guard on idle connections.
        ("grpc.keepalive_time_ms", 60_000),
        ("grpc.keepalive_timeout_ms", 20_000),
        ("grpc.keepalive_permit_without_calls", 0),
        ("grpc.service_config", json.dumps(config)),
        ("grpc.enable_retries", int(retries)),
    ]


class EncoderAuthError(EncoderError):
    """The encoder refused the API key: no retry helps until the key is fixed."""


# The errors a call raises, one per row of the status table; any other status (DEADLINE_
# EXCEEDED, INTERNAL...) means, for the caller, that the encoder cannot answer.
_CALL_ERRORS = (InvalidInputError, OverloadedError, EncoderAuthError, TranslatorUnavailableError)


def _error(exc: grpc.aio.AioRpcError) -> EncoderError:
    code, details = exc.code(), exc.details() or ""
    outcome = outcome_of_code(code)
    if outcome is Outcome.OVERLOADED and "larger than max" in details:
        # gRPC's own message size limit: retrying the same request cannot help.
        return InvalidInputError(
            f"the request is too large for the encoder ({details}); send fewer or "
            "smaller images per request"
        )
    error = error_class(outcome, _CALL_ERRORS, EncoderUnavailableError)
    if error is EncoderAuthError:
        return EncoderAuthError(
            f"the encoder refused the API key ({details}); set the key the encoder "
            "expects (ENCODER_API_KEY for ingest, SEARCH_ENCODER_API_KEY for search)"
        )
    if error is EncoderUnavailableError:
        # The message keeps the reason.
        return EncoderUnavailableError(f"encoder {code.name}: {details}")
    return error(details)


class GrpcEncoder:
    """Implements postersearch.encoding.Encoder by calling an encoder server.

    Args:
        target: "host:port", or "dns:///host:port" to balance over every replica the
            name resolves to.
        api_key: Sent as ``authorization: Bearer <key>`` when set.
        timeout_s: Deadline of each unary call.
        retries: Retry UNAVAILABLE calls in the channel (up to 3 tries); pass False when
            the caller has its own retry layer.
    """

    def __init__(
        self,
        target: str,
        api_key: str | None = None,
        timeout_s: float = 30.0,
        retries: bool = True,
    ) -> None:
        self._channel = grpc.aio.insecure_channel(target, options=channel_options(retries=retries))
        self._stub = encoder_pb2_grpc.EncoderServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),) if api_key else ()
        self._timeout = timeout_s
        self._info: EncoderInfo | None = None

    async def info(self) -> EncoderInfo:
        """The model and limits of the server (asked once, then remembered)."""
        if self._info is None:
            try:
                message = await self._stub.GetInfo(
                    pb.GetInfoRequest(), metadata=self._metadata, timeout=self._timeout
                )
            except grpc.aio.AioRpcError as exc:
                raise _error(exc) from exc
            self._info = info_from_proto(message)
        return self._info

    async def encode_texts(self, texts: Sequence[str]) -> Vectors:
        """Encodes texts into an (n, dimension) array, row i for texts[i]."""
        return (await self.encode_texts_read(texts)).vectors

    async def encode_texts_read(self, texts: Sequence[str]) -> EncodedTexts:
        """Encodes texts and says how much of each the model read (one call)."""
        try:
            response = await self._stub.EncodeText(
                pb.EncodeTextRequest(texts=texts), metadata=self._metadata, timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from exc
        return EncodedTexts(
            vectors_from_proto(response.vectors), tokens_from_proto(response.tokens)
        )

    async def translate(self, texts: Sequence[str]) -> list[str]:
        """texts in English, by the server's translator."""
        try:
            response = await self._stub.Translate(
                pb.TranslateRequest(texts=texts), metadata=self._metadata, timeout=self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from exc
        return list(response.translations)

    async def encode_images(self, images: Sequence[bytes]) -> list[ImageOutcome]:
        """Encodes image files; item i is images[i]'s vector or the reason it has none."""
        try:
            response = await self._stub.EncodeImages(
                pb.EncodeImagesRequest(images=images),
                metadata=self._metadata,
                timeout=self._timeout,
            )
        except grpc.aio.AioRpcError as exc:
            raise _error(exc) from exc
        return outcomes_from_proto(response.results)

    async def close(self) -> None:
        """Closes the channel."""
        await self._channel.close()
