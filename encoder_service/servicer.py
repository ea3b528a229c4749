"""The gRPC servicer: protobuf in, domain types to the encoder, protobuf out.

It holds no model logic; validation, batching and decoding live in the encoder it wraps.
"""

from __future__ import annotations

import logging
from typing import NoReturn

import grpc

from encoder_service.admission import DecodeBudget, admitted
from encoder_service.convert import (
    info_to_proto,
    outcomes_to_proto,
    tokens_to_proto,
    vectors_to_proto,
)
from postersearch.callers import CALLER, caller_of_peer
from postersearch.encoding import Encoder, EncoderError, InvalidInputError
from postersearch.grpc_server import bounded
from postersearch.status import Outcome, outcome_of
from postersearch.text import is_blank
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc

log = logging.getLogger(__name__)


async def _abort(context: grpc.aio.ServicerContext, exc: Exception) -> NoReturn:
    if isinstance(exc, EncoderError):
        code = (outcome_of(exc) or Outcome.INTERNAL).grpc_code
        await context.abort(code, bounded(str(exc)))
    else:
        # The details go to the log, not to the caller.
        log.error("encoder failed", exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, "the encoder failed; see its log")
    raise AssertionError("context.abort returned")  # it always raises


class EncoderServicer(encoder_pb2_grpc.EncoderServiceServicer):
    """Serves an Encoder over gRPC; answers UNAVAILABLE until one is attached.

    Args:
        encoder: The encoder, or None while the model is still loading.
        budget: Admission control of image decoding, charged to each call's peer.
    """

    def __init__(self, encoder: Encoder | None, budget: DecodeBudget | None = None) -> None:
        self._budget = budget or DecodeBudget()
        self._encoder = admitted(encoder, self._budget) if encoder is not None else None

    def attach(self, encoder: Encoder) -> None:
        """Starts answering with encoder."""
        self._encoder = admitted(encoder, self._budget)

    async def _ready(self, context: grpc.aio.ServicerContext) -> Encoder:
        # Decode work of this call is charged to the connection it came from.
        CALLER.set(caller_of_peer(context.peer()))
        if self._encoder is None:
            await context.abort(
                grpc.StatusCode.UNAVAILABLE, "the model is still loading; retry shortly"
            )
        assert self._encoder is not None
        return self._encoder

    async def EncodeText(
        self, request: pb.EncodeTextRequest, context: grpc.aio.ServicerContext
    ) -> pb.EncodeTextResponse:
        """One vector per text, in request order."""
        encoder = await self._ready(context)
        try:
            texts = list(request.texts)
            for i, text in enumerate(texts):
                if text and is_blank(text):
                    # Control, zero-width and space characters only: nothing to encode.
                    raise InvalidInputError(
                        f"text {i} has no visible characters: describe what to look for"
                    )
            encoded = await encoder.encode_texts_read(texts)
            info = await encoder.info()
        except Exception as exc:
            await _abort(context, exc)
        return pb.EncodeTextResponse(
            vectors=vectors_to_proto(encoded.vectors),
            model_id=info.model_id,
            tokens=tokens_to_proto(encoded.tokens),
        )

    async def Translate(
        self, request: pb.TranslateRequest, context: grpc.aio.ServicerContext
    ) -> pb.TranslateResponse:
        """Each text in English; FAILED_PRECONDITION when no translator runs."""
        encoder = await self._ready(context)
        try:
            translations = await encoder.translate(list(request.texts))
            info = await encoder.info()
        except Exception as exc:
            await _abort(context, exc)
        return pb.TranslateResponse(translations=translations, model_id=info.translator_model_id)

    async def EncodeImages(
        self, request: pb.EncodeImagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.EncodeImagesResponse:
        """One result per image: a vector or the reason it has none."""
        encoder = await self._ready(context)
        try:
            info = await encoder.info()
            outcomes = await encoder.encode_images(list(request.images))
        except Exception as exc:
            await _abort(context, exc)
        return pb.EncodeImagesResponse(results=outcomes_to_proto(outcomes), model_id=info.model_id)

    async def GetInfo(
        self, request: pb.GetInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.EncoderInfo:
        """The model and the limits this server enforces."""
        encoder = await self._ready(context)
        return info_to_proto(await encoder.info())
