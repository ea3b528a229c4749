"""Text as the model was trained, token counts, match calibration and translation, through
the tiny random SigLIP and translator loaded on the real checkpoint path."""

from __future__ import annotations

import math
from collections.abc import Callable
from pathlib import Path

import grpc
import numpy as np
import pytest

from encoder_service.client import GrpcEncoder
from encoder_service.local import LocalEncoder
from encoder_service.model import ModelRuntime
from encoder_service.text_prep import preprocessing_for
from postersearch.encoding import InvalidInputError, TranslatorUnavailableError
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc
from tests.encoder.conftest import ServerFactory

MakeEncoder = Callable[..., LocalEncoder]


class _Config:
    def __init__(self, model_type: str) -> None:
        self.model_type = model_type


@pytest.mark.parametrize(
    ("family", "typed", "seen"),
    [
        ("siglip", "Dark RED Horror!", "dark red horror"),
        ("siglip2", "  Neon_city, at NIGHT...  ", "neon city at night"),
        ("siglip", "네온사인이 많은, 사이버펑크 느낌!", "네온사인이 많은 사이버펑크 느낌"),
        ("clip", "Dark RED Horror!", "dark red horror!"),
        ("some-new-family", "Dark RED  Horror!", "Dark RED Horror!"),
    ],
)
def test_each_family_reads_text_as_it_was_trained(family: str, typed: str, seen: str) -> None:
    assert preprocessing_for(_Config(family)).apply(typed) == seen


async def test_case_and_punctuation_give_the_same_vector_with_a_siglip_model(
    encoder: LocalEncoder,
) -> None:
    vectors = await encoder.encode_texts(["Dark RED Horror!", "dark red horror", "dark horror"])
    np.testing.assert_array_equal(vectors[0], vectors[1])
    assert not np.allclose(vectors[0], vectors[2])
    info = await encoder.info()
    assert info.text_preprocessing.startswith("siglip: lowercase, punctuation removed")


async def test_a_query_longer_than_the_model_reads_says_how_much_was_read(
    make_encoder: MakeEncoder, runtime: ModelRuntime
) -> None:
    encoder = make_encoder(max_text_chars=0)
    # Words the tiny tokenizer never merged cost several tokens each: 120 tokens or more.
    long_query = " ".join(f"zq{i}x" for i in range(40))
    short = "dark red horror"
    encoded = await encoder.encode_texts_read([long_query, short])
    cut, whole = encoded.tokens
    assert cut.tokens >= 120 and cut.read == runtime.max_text_tokens == 32
    assert cut.cut and long_query.startswith(cut.read_text) and cut.read_text
    assert len(cut.read_text) < len(long_query)
    assert not whole.cut and whole.read_text == short
    # The vector is that of the part that was read.
    alone = await encoder.encode_texts([cut.read_text])
    np.testing.assert_allclose(encoded.vectors[0], alone[0], atol=1e-5)


async def test_the_text_limit_comes_from_the_tokenizer(
    make_encoder: MakeEncoder, runtime: ModelRuntime
) -> None:
    derived = make_encoder(max_text_chars=0)
    info = await derived.info()
    longest = max(len(piece) for piece in runtime._tokenizer.get_vocab())
    assert info.max_text_tokens == 32
    assert info.max_text_chars == 32 * longest
    with pytest.raises(InvalidInputError, match=f"limit of {info.max_text_chars}"):
        await derived.encode_texts(["y" * (info.max_text_chars + 1)])


async def test_info_carries_the_checkpoint_calibration(
    encoder: LocalEncoder, start_server: ServerFactory
) -> None:
    # The random SigLIP is saved with scale log(10) and bias -10, as SigLIP starts training.
    info = await encoder.info()
    assert info.logit_scale == pytest.approx(10.0)
    assert info.logit_bias == pytest.approx(-10.0)
    assert info.probability(1.0) == pytest.approx(0.5)
    assert info.probability(0.0) == pytest.approx(1 / (1 + math.exp(10)))
    target, _ = await start_server()
    async with grpc.aio.insecure_channel(target) as channel:
        message = await encoder_pb2_grpc.EncoderServiceStub(channel).GetInfo(pb.GetInfoRequest())
    assert message.logit_scale == pytest.approx(10.0)
    assert message.logit_bias == pytest.approx(-10.0)
    assert message.max_text_tokens == 32
    remote = GrpcEncoder(target)
    try:
        assert (await remote.info()).probability(0.3) == pytest.approx(info.probability(0.3))
    finally:
        await remote.close()


async def test_translation_runs_the_configured_checkpoint(
    make_encoder: MakeEncoder, tiny_translator_dir: Path
) -> None:
    encoder = make_encoder(translator=str(tiny_translator_dir), translator_scripts=["Hangul"])
    info = await encoder.info()
    assert info.translator_model_id == str(tiny_translator_dir)
    assert info.translation_scripts == ("Hangul",)
    first = await encoder.translate(["네온사인이 많은 사이버펑크 느낌", "어두운 공포"])
    again = await encoder.translate(["네온사인이 많은 사이버펑크 느낌"])
    assert len(first) == 2 and all(isinstance(t, str) for t in first)
    # Greedy decoding of the same weights: the same text gives the same translation.
    assert again[0] == first[0]


async def test_a_missing_translator_is_a_clear_error(make_encoder: MakeEncoder) -> None:
    none = make_encoder(translator="")
    assert (await none.info()).translator_model_id == ""
    with pytest.raises(TranslatorUnavailableError, match="no translator is configured"):
        await none.translate(["어두운"])
    # A hub id with no route to the hub (tests run offline) fails once, then at once.
    unreachable = make_encoder(translator="Helsinki-NLP/opus-mt-ko-en")
    for _ in range(2):
        with pytest.raises(TranslatorUnavailableError, match="cannot be loaded"):
            await unreachable.translate(["어두운"])


async def test_translate_over_grpc(start_server: ServerFactory, tiny_translator_dir: Path) -> None:
    target, local = await start_server(translator=str(tiny_translator_dir))
    remote = GrpcEncoder(target)
    try:
        assert await remote.translate(["어두운 공포"]) == await local.translate(["어두운 공포"])
        info = await remote.info()
        assert info.translator_model_id == str(tiny_translator_dir)
        assert info.translation_scripts == ("Hangul",)
        encoded = await remote.encode_texts_read(["Dark RED Horror!"])
        assert encoded.tokens[0].read_text == "dark red horror"
    finally:
        await remote.close()
    missing_target, _ = await start_server(translator="")
    remote = GrpcEncoder(missing_target)
    try:
        with pytest.raises(TranslatorUnavailableError, match="no translator"):
            await remote.translate(["어두운"])
    finally:
        await remote.close()
    async with grpc.aio.insecure_channel(missing_target) as channel:
        with pytest.raises(grpc.aio.AioRpcError) as raised:
            await encoder_pb2_grpc.EncoderServiceStub(channel).Translate(
                pb.TranslateRequest(texts=["어두운"])
            )
    assert raised.value.code() == grpc.StatusCode.FAILED_PRECONDITION
