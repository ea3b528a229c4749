"""LocalEncoder: validation, per-item errors, dynamic batching and overload."""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pytest
from encoder_samples import bad_images, every_mode, jpeg

from encoder_service.batcher import DynamicBatcher
from encoder_service.local import LocalEncoder
from encoder_service.settings import EncoderSettings
from postersearch.encoding import (
    EncoderUnavailableError,
    ImageErrorCode,
    ImageFailure,
    InvalidInputError,
    OverloadedError,
    Vectors,
)

MakeEncoder = Callable[..., LocalEncoder]


@pytest.mark.parametrize(
    ("texts", "message"),
    [
        ([], "no texts given"),
        (["fine", ""], "text 1 is empty"),
        (["   "], "text 0 is empty"),
        (["x" * 201], "text 0 has 201 characters, more than the limit of 200"),
        (["q"] * 17, "17 texts given, but at most 16"),
    ],
)
async def test_bad_text_requests_are_refused_with_a_reason(
    encoder: LocalEncoder, texts: list[str], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        await encoder.encode_texts(texts)

    assert (await encoder.encode_texts(["still works"])).shape == (1, 32)


@pytest.mark.parametrize(
    ("images", "message"), [([], "no images given"), ([b"x"] * 17, "17 images given")]
)
async def test_bad_image_requests_are_refused_with_a_reason(
    encoder: LocalEncoder, images: list[bytes], message: str
) -> None:
    with pytest.raises(InvalidInputError, match=message):
        await encoder.encode_images(images)


async def test_a_mixed_batch_gets_vectors_for_good_images_and_reasons_for_bad(
    encoder: LocalEncoder,
) -> None:
    bad = bad_images(200_000)
    batch = [jpeg(seed=1), bad["empty"], bad["too_many_bytes"], jpeg(seed=2)]
    batch += [bad["too_many_pixels"], bad["undecodable"], bad["truncated"], jpeg(seed=3)]

    outcomes = await encoder.encode_images(batch)

    assert len(outcomes) == len(batch)
    vectors = [outcomes[i] for i in (0, 3, 7)]
    for vector in vectors:
        assert isinstance(vector, np.ndarray)
        assert vector.shape == (32,)
        assert np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-5)
    failures = [outcomes[i] for i in (1, 2, 4, 5, 6)]
    assert [(f.index, f.code) for f in failures if isinstance(f, ImageFailure)] == [
        (1, ImageErrorCode.EMPTY),
        (2, ImageErrorCode.TOO_MANY_BYTES),
        (4, ImageErrorCode.TOO_MANY_PIXELS),
        (5, ImageErrorCode.UNDECODABLE),
        (6, ImageErrorCode.UNDECODABLE),
    ]
    alone = await encoder.encode_images([jpeg(seed=2)])
    np.testing.assert_allclose(alone[0], outcomes[3], atol=1e-5)  # type: ignore[arg-type]


async def test_a_batch_of_only_bad_images_needs_no_forward_pass(encoder: LocalEncoder) -> None:
    before = encoder.runtime.forward_passes["image"]

    outcomes = await encoder.encode_images([b"", b"nope"])

    assert all(isinstance(o, ImageFailure) for o in outcomes)
    assert encoder.runtime.forward_passes["image"] == before


async def test_every_colour_mode_and_format_is_encoded(encoder: LocalEncoder) -> None:
    files = every_mode()

    outcomes = await encoder.encode_images(list(files.values()))

    for name, outcome in zip(files, outcomes, strict=True):
        assert isinstance(outcome, np.ndarray), (name, outcome)


async def test_concurrent_single_queries_share_forward_passes(encoder: LocalEncoder) -> None:
    before = encoder.runtime.forward_passes["text"]

    results = await asyncio.gather(*(encoder.encode_texts([f"query {i}"]) for i in range(32)))

    passes = encoder.runtime.forward_passes["text"] - before
    # 32 requests of one text, at most 16 per pass: two passes when all coalesce.
    assert passes <= 4
    alone = await encoder.encode_texts(["query 5"])
    np.testing.assert_allclose(results[5], alone, atol=1e-5)


async def test_concurrent_image_requests_share_forward_passes(encoder: LocalEncoder) -> None:
    before = encoder.runtime.forward_passes["image"]

    results = await asyncio.gather(*(encoder.encode_images([jpeg(seed=i)]) for i in range(12)))

    assert encoder.runtime.forward_passes["image"] - before <= 3
    assert all(isinstance(r[0], np.ndarray) for r in results)


async def test_overload_is_refused_at_once_and_clears(make_encoder: MakeEncoder) -> None:
    encoder = make_encoder(max_queue=8)

    results = await asyncio.gather(
        *(encoder.encode_texts(["a", "b", "c", "d"]) for _ in range(5)), return_exceptions=True
    )

    overloaded = [r for r in results if isinstance(r, OverloadedError)]
    assert len(overloaded) == 3
    assert "overloaded" in str(overloaded[0])
    assert sum(isinstance(r, np.ndarray) for r in results) == 2
    assert (await encoder.encode_texts(["a", "b", "c", "d"])).shape == (4, 32)


async def test_closed_encoder_is_unavailable(make_encoder: MakeEncoder) -> None:
    encoder = make_encoder()
    await encoder.close()

    with pytest.raises(EncoderUnavailableError):
        await encoder.encode_texts(["late"])


async def test_info_reports_model_and_limits(
    encoder: LocalEncoder, tiny_settings: EncoderSettings
) -> None:
    info = await encoder.info()

    assert info.model_id == tiny_settings.model
    assert (info.dimension, info.device, info.dtype, info.image_size) == (32, "cpu", "float32", 32)
    assert (info.max_batch_size, info.max_text_chars) == (16, 200)


async def test_batcher_splits_at_the_batch_size_and_keeps_each_callers_rows() -> None:
    sizes: list[int] = []

    def run(items: Sequence[int]) -> Vectors:
        sizes.append(len(items))
        return np.array([[float(i)] for i in items], dtype=np.float32)

    with ThreadPoolExecutor(1) as pool:
        batcher: DynamicBatcher[int] = DynamicBatcher("test", run, pool, 4, 0.01, 100)

        async def call(values: list[int]) -> Vectors:
            with batcher.reserve(len(values)) as reservation:
                return await batcher.submit(reservation, values)

        requests = [[1, 2], [3], [4, 5, 6], [7], [8, 9]]
        results = await asyncio.gather(*(call(r) for r in requests))
        await batcher.close()

    for request, result in zip(requests, results, strict=True):
        assert result[:, 0].tolist() == request
    assert max(sizes) <= 4
    assert sum(sizes) == 9
    assert len(sizes) < len(requests)


async def test_batcher_passes_a_failing_pass_to_every_caller_and_goes_on() -> None:
    calls = 0

    def run(items: Sequence[int]) -> Vectors:
        nonlocal calls
        calls += 1
        if calls == 1:
            raise RuntimeError("device lost")
        return np.zeros((len(items), 1), dtype=np.float32)

    with ThreadPoolExecutor(1) as pool:
        batcher: DynamicBatcher[int] = DynamicBatcher("test", run, pool, 8, 0.0, 100)

        async def call(values: list[int]) -> Vectors:
            with batcher.reserve(len(values)) as reservation:
                return await batcher.submit(reservation, values)

        first = await asyncio.gather(call([1]), call([2]), return_exceptions=True)
        second = await call([3])
        await batcher.close()

    assert all(isinstance(r, RuntimeError) for r in first)
    assert second.shape == (1, 1)
