"""The model runtime: loading, vector size, normalisation, and our image path against
sentence-transformers' own."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
import torch
from encoder_samples import encode, jpeg, poster
from PIL import Image

from encoder_service.images import ImageLimits, decode
from encoder_service.local import LocalEncoder
from encoder_service.model import (
    ModelRuntime,
    dtype_name,
    image_preprocessing,
    resolve_device,
    resolve_dtype,
)
from encoder_service.settings import EncoderSettings


def test_vector_size_and_image_size_come_from_the_model(runtime: ModelRuntime) -> None:
    # The tiny checkpoint has 32-wide towers and 32 px images; nothing here is a constant.
    assert runtime.dimension == 32
    assert runtime.image.size == 32
    assert runtime.image.mean == (0.5, 0.5, 0.5)


def test_text_vectors_are_unit_float32(runtime: ModelRuntime) -> None:
    vectors = runtime.encode_texts(["dark red horror poster", "네온사인이 많은 사이버펑크 느낌"])

    assert vectors.dtype == np.float32
    assert vectors.shape == (2, 32)
    np.testing.assert_allclose(np.linalg.norm(vectors, axis=1), 1.0, atol=1e-5)
    assert not np.allclose(vectors[0], vectors[1])


def test_a_texts_vector_does_not_depend_on_its_batch(runtime: ModelRuntime) -> None:
    alone = runtime.encode_texts(["red"])
    batched = runtime.encode_texts(["red", "a much longer description of a neon city at night"])

    np.testing.assert_allclose(alone[0], batched[0], atol=1e-5)


def _ours(runtime: ModelRuntime, data: bytes) -> np.ndarray:
    size, resample = runtime.image.size, runtime.image.resample
    pixels = decode(0, data, ImageLimits(10**7, 10**8), size, resample)
    assert isinstance(pixels, np.ndarray)
    return np.asarray(runtime.encode_pixels([torch.from_numpy(pixels).permute(2, 0, 1)])[0])


def _sentence_transformers(runtime: ModelRuntime, data: bytes) -> np.ndarray:
    image = Image.open(io.BytesIO(data)).convert("RGB")
    vectors = runtime._model.encode([image], normalize_embeddings=True, convert_to_numpy=True)
    return np.asarray(vectors[0], dtype=np.float32)


def test_our_image_path_matches_sentence_transformers_on_a_png(runtime: ModelRuntime) -> None:
    data = encode(poster(300, 450), "PNG")

    ours, reference = _ours(runtime, data), _sentence_transformers(runtime, data)

    np.testing.assert_allclose(ours, reference, atol=1e-4)


def test_our_image_path_matches_sentence_transformers_on_a_jpeg(runtime: ModelRuntime) -> None:
    # Our JPEG path decodes at a reduced DCT scale first, so only close, not identical.
    data = jpeg(300, 450, seed=3)

    ours, reference = _ours(runtime, data), _sentence_transformers(runtime, data)

    assert float(ours @ reference) > 0.99


async def test_local_encoder_images_match_sentence_transformers(
    encoder: LocalEncoder, runtime: ModelRuntime
) -> None:
    data = encode(poster(200, 300, seed=5), "PNG")

    [vector] = await encoder.encode_images([data])

    assert isinstance(vector, np.ndarray)
    np.testing.assert_allclose(vector, _sentence_transformers(runtime, data), atol=1e-4)


def test_device_and_dtype_choice() -> None:
    assert resolve_device("cpu") == "cpu"
    assert resolve_device("cuda:1") == "cuda:1"
    if not torch.cuda.is_available() and not torch.backends.mps.is_available():
        assert resolve_device("auto") == "cpu"
    assert resolve_dtype("auto", "cpu") == torch.float32
    assert resolve_dtype("auto", "cuda") == torch.bfloat16
    assert resolve_dtype("auto", "cuda:1") == torch.bfloat16
    assert resolve_dtype("float16", "cuda") == torch.float16
    assert dtype_name(torch.bfloat16) == "bfloat16"


def test_bfloat16_on_cpu_still_gives_unit_float32(tiny_settings: EncoderSettings) -> None:
    runtime = ModelRuntime.load(tiny_settings.model_copy(update={"dtype": "bfloat16"}))

    vectors = runtime.encode_texts(["poster"])

    assert runtime.dtype == torch.bfloat16
    assert vectors.dtype == np.float32
    assert np.linalg.norm(vectors[0]) == pytest.approx(1.0, abs=1e-3)


def test_an_unknown_model_fails_to_load(tiny_settings: EncoderSettings, tmp_path: Path) -> None:
    with pytest.raises(Exception):  # noqa: B017 - whatever sentence-transformers raises
        ModelRuntime.load(tiny_settings.model_copy(update={"model": str(tmp_path / "missing")}))


def test_processors_we_cannot_match_are_refused() -> None:
    from types import SimpleNamespace

    from transformers import CLIPImageProcessor, SiglipImageProcessor

    with pytest.raises(ValueError, match="without cropping"):
        image_preprocessing(SimpleNamespace(image_processor=CLIPImageProcessor()))
    with pytest.raises(ValueError, match="no image processor"):
        image_preprocessing(SimpleNamespace(tokenizer=None))
    siglip = image_preprocessing(
        SimpleNamespace(image_processor=SiglipImageProcessor(size={"height": 384, "width": 384}))
    )
    assert (siglip.size, siglip.resample) == (384, int(Image.Resampling.BICUBIC))
    bilinear = SiglipImageProcessor(resample=Image.Resampling.BILINEAR)
    assert image_preprocessing(SimpleNamespace(image_processor=bilinear)).resample == int(
        Image.Resampling.BILINEAR
    )


def test_the_former_grace_variable_still_works_with_a_warning(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.delenv("ENCODER_GRACE_S", raising=False)
    monkeypatch.setenv("ENCODER_GRACE_SECONDS", "7.5")
    with pytest.warns(DeprecationWarning, match="ENCODER_GRACE_S"):
        assert EncoderSettings().grace_s == 7.5

    monkeypatch.setenv("ENCODER_GRACE_S", "2")
    with pytest.warns(DeprecationWarning):
        assert EncoderSettings().grace_s == 2.0, "the new name wins"
