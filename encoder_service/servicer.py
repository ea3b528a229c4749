"""The gRPC servicer: protobuf in, domain types to the encoder, protobuf out.

It holds no model logic; validation, batching and decoding live in the encoder it wraps.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import AsyncIterator
from dataclasses import dataclass
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
from postersearch.encoding import (
    Encoder,
    EncoderError,
    EncoderUnavailableError,
    InvalidInputError,
    OverloadedError,
    TranslatorUnavailableError,
)
from postersearch.grpc_server import bounded
from postersearch.text import is_blank
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc

log = logging.getLogger(__name__)

_STATUS_OF = {
    InvalidInputError: grpc.StatusCode.INVALID_ARGUMENT,
    OverloadedError: grpc.StatusCode.RESOURCE_EXHAUSTED,
    EncoderUnavailableError: grpc.StatusCode.UNAVAILABLE,
    # The server runs no translator: asking again will not help, unlike UNAVAILABLE.
    TranslatorUnavailableError: grpc.StatusCode.FAILED_PRECONDITION,
}
_END = object()


@dataclass(frozen=True)
class _Failed:
    sequence: int | None
    error: Exception


async def _abort(context: grpc.aio.ServicerContext, exc: Exception, prefix: str = "") -> NoReturn:
    if isinstance(exc, EncoderError):
        code = _STATUS_OF.get(type(exc), grpc.StatusCode.INTERNAL)
        await context.abort(code, bounded(f"{prefix}{exc}"))
    else:
        # The details go to the log, not to the caller.
        log.error("encoder failed", exc_info=exc)
        await context.abort(grpc.StatusCode.INTERNAL, f"{prefix}the encoder failed; see its log")
    raise AssertionError("context.abort returned")  # it always raises


class EncoderServicer(encoder_pb2_grpc.EncoderServiceServicer):
    """Serves an Encoder over gRPC; answers UNAVAILABLE until one is attached.

    Args:
        encoder: The encoder, or None while the model is still loading.
        stream_concurrency: Batches of one EncodeImagesStream call encoded together.
        budget: Admission control of image decoding, charged to each call's peer.
    """

    def __init__(
        self,
        encoder: Encoder | None,
        stream_concurrency: int,
        budget: DecodeBudget | None = None,
    ) -> None:
        self._budget = budget or DecodeBudget()
        self._encoder = admitted(encoder, self._budget) if encoder is not None else None
        self._stream_concurrency = stream_concurrency

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

    async def _encode_images(
        self, encoder: Encoder, request: pb.EncodeImagesRequest, in_stream: bool = False
    ) -> pb.EncodeImagesResponse:
        info = await encoder.info()
        if in_stream and not request.images:
            # An empty batch of a stream has an empty answer; the stream goes on.
            return pb.EncodeImagesResponse(sequence=request.sequence, model_id=info.model_id)
        outcomes = await encoder.encode_images(list(request.images))
        return pb.EncodeImagesResponse(
            results=outcomes_to_proto(outcomes), sequence=request.sequence, model_id=info.model_id
        )

    async def EncodeImages(
        self, request: pb.EncodeImagesRequest, context: grpc.aio.ServicerContext
    ) -> pb.EncodeImagesResponse:
        """One result per image: a vector or the reason it has none."""
        encoder = await self._ready(context)
        try:
            return await self._encode_images(encoder, request)
        except Exception as exc:
            await _abort(context, exc)

    async def EncodeImagesStream(
        self,
        request_iterator: AsyncIterator[pb.EncodeImagesRequest],
        context: grpc.aio.ServicerContext,
    ) -> AsyncIterator[pb.EncodeImagesResponse]:
        """Answers each batch of the stream as soon as it is encoded, several at a time."""
        encoder = await self._ready(context)
        # Several batches in flight keep the model busy while the next ones decode; the
        # semaphore bounds the batches read but not yet answered.
        slots = asyncio.Semaphore(self._stream_concurrency)
        answers: asyncio.Queue[object] = asyncio.Queue()
        tasks: set[asyncio.Task[None]] = set()

        async def encode_one(request: pb.EncodeImagesRequest) -> None:
            try:
                await answers.put(await self._encode_images(encoder, request, in_stream=True))
            except Exception as exc:
                await answers.put(_Failed(request.sequence, exc))

        async def read_all() -> None:
            try:
                async for request in request_iterator:
                    await slots.acquire()
                    task = asyncio.create_task(encode_one(request))
                    tasks.add(task)
                    task.add_done_callback(tasks.discard)
                if tasks:
                    # wait, not gather: cancelling this reader must not cancel them.
                    await asyncio.wait(list(tasks))
                await answers.put(_END)
            except Exception as exc:
                await answers.put(_Failed(None, exc))

        reader = asyncio.create_task(read_all())
        try:
            while (answer := await answers.get()) is not _END:
                if isinstance(answer, _Failed):
                    # No new batch starts; the batches already encoding are answered
                    # first, so a failure never loses work that succeeded.
                    reader.cancel()
                    if tasks:
                        await asyncio.wait(list(tasks))
                    while not answers.empty():
                        done = answers.get_nowait()
                        if isinstance(done, pb.EncodeImagesResponse):
                            yield done
                    where = f"batch {answer.sequence}: " if answer.sequence is not None else ""
                    await _abort(context, answer.error, where)
                assert isinstance(answer, pb.EncodeImagesResponse)
                yield answer
                # A slot frees only once its answer is sent: a client that stops reading
                # stops the reading of its requests too, so answers never pile up.
                slots.release()
        finally:
            reader.cancel()
            for task in list(tasks):
                task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await reader

    async def GetInfo(
        self, request: pb.GetInfoRequest, context: grpc.aio.ServicerContext
    ) -> pb.EncoderInfo:
        """The model and the limits this server enforces."""
        encoder = await self._ready(context)
        return info_to_proto(await encoder.info())
