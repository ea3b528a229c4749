"""Conversions between the proto messages and the domain types of postersearch.encoding."""

from __future__ import annotations

from collections.abc import Iterable, Sequence

import numpy as np

from postersearch.encoding import (
    EncoderInfo,
    ImageErrorCode,
    ImageFailure,
    ImageOutcome,
    TextTokens,
    Vectors,
)
from postersearch.v1 import encoder_pb2 as pb

_CODE_TO_PROTO = {
    ImageErrorCode.EMPTY: pb.IMAGE_ERROR_CODE_EMPTY,
    ImageErrorCode.TOO_MANY_BYTES: pb.IMAGE_ERROR_CODE_TOO_MANY_BYTES,
    ImageErrorCode.TOO_MANY_PIXELS: pb.IMAGE_ERROR_CODE_TOO_MANY_PIXELS,
    ImageErrorCode.UNDECODABLE: pb.IMAGE_ERROR_CODE_UNDECODABLE,
}
_CODE_FROM_PROTO = {proto: code for code, proto in _CODE_TO_PROTO.items()}


def vectors_to_proto(vectors: Vectors) -> list[pb.Vector]:
    """One Vector message per row."""
    return [pb.Vector(values=row) for row in vectors.tolist()]


def vectors_from_proto(vectors: Sequence[pb.Vector]) -> Vectors:
    """An (n, dimension) float32 array from Vector messages."""
    if not vectors:
        return np.empty((0, 0), dtype=np.float32)
    return np.array([list(v.values) for v in vectors], dtype=np.float32)


def outcomes_to_proto(outcomes: Iterable[ImageOutcome]) -> list[pb.ImageResult]:
    """One ImageResult per image, carrying its vector or its error."""
    results = []
    for index, outcome in enumerate(outcomes):
        if isinstance(outcome, ImageFailure):
            error = pb.ImageError(code=_CODE_TO_PROTO[outcome.code], message=outcome.message)
            results.append(pb.ImageResult(index=index, error=error))
        else:
            results.append(pb.ImageResult(index=index, vector=pb.Vector(values=outcome.tolist())))
    return results


def outcomes_from_proto(results: Sequence[pb.ImageResult]) -> list[ImageOutcome]:
    """Per-image outcomes in request order, from ImageResult messages."""
    ordered = sorted(results, key=lambda r: r.index)
    outcomes: list[ImageOutcome] = []
    for result in ordered:
        if result.WhichOneof("outcome") == "error":
            code = _CODE_FROM_PROTO.get(result.error.code, ImageErrorCode.UNDECODABLE)
            outcomes.append(ImageFailure(result.index, code, result.error.message))
        else:
            outcomes.append(np.array(result.vector.values, dtype=np.float32))
    return outcomes


def info_to_proto(info: EncoderInfo) -> pb.EncoderInfo:
    """The EncoderInfo message of an EncoderInfo."""
    return pb.EncoderInfo(
        model_id=info.model_id,
        dimension=info.dimension,
        device=info.device,
        dtype=info.dtype,
        max_batch_size=info.max_batch_size,
        max_text_chars=info.max_text_chars,
        max_image_bytes=info.max_image_bytes,
        max_image_pixels=info.max_image_pixels,
        max_message_bytes=info.max_message_bytes,
        image_size=info.image_size,
        max_text_tokens=info.max_text_tokens,
        logit_scale=info.logit_scale,
        logit_bias=info.logit_bias,
        text_preprocessing=info.text_preprocessing,
        translator_model_id=info.translator_model_id,
        translation_scripts=info.translation_scripts,
    )


def tokens_to_proto(tokens: Sequence[TextTokens]) -> list[pb.TextTokens]:
    """TextTokens messages, in order."""
    return [pb.TextTokens(tokens=t.tokens, read=t.read, read_text=t.read_text) for t in tokens]


def tokens_from_proto(messages: Iterable[pb.TextTokens]) -> list[TextTokens]:
    """TextTokens of their messages, in order."""
    return [TextTokens(m.tokens, m.read, m.read_text) for m in messages]


def info_from_proto(message: pb.EncoderInfo) -> EncoderInfo:
    """The EncoderInfo of an EncoderInfo message."""
    return EncoderInfo(
        model_id=message.model_id,
        dimension=message.dimension,
        device=message.device,
        dtype=message.dtype,
        max_batch_size=message.max_batch_size,
        max_text_chars=message.max_text_chars,
        max_image_bytes=message.max_image_bytes,
        max_image_pixels=message.max_image_pixels,
        max_message_bytes=message.max_message_bytes,
        image_size=message.image_size,
        max_text_tokens=message.max_text_tokens,
        logit_scale=message.logit_scale if message.HasField("logit_scale") else None,
        logit_bias=message.logit_bias if message.HasField("logit_bias") else None,
        text_preprocessing=message.text_preprocessing,
        translator_model_id=message.translator_model_id,
        translation_scripts=tuple(message.translation_scripts),
    )
