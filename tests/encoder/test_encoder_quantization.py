"""int8 towers on the CPU: agreement with float32, batch independence, and when they are used."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from pydantic import ValidationError

from encoder_service.model import ModelRuntime, quantizable
from encoder_service.quantization import (
    PROBE_TEXTS,
    PerItemLinear,
    int8_available,
    probe_images,
    quantize_tower,
)
from encoder_service.settings import EncoderSettings

pytestmark = pytest.mark.skipif(not int8_available(), reason="this torch has no int8 layers")

TEXTS = ["dark red horror poster", "네온사인이 많은 사이버펑크 느낌", "a lone astronaut", "바다"]


@pytest.fixture(scope="module")
def float32(tiny_settings: EncoderSettings) -> ModelRuntime:
    return ModelRuntime.load(tiny_settings.model_copy(update={"quantize": "none"}))


@pytest.fixture(scope="module")
def int8(tiny_settings: EncoderSettings) -> ModelRuntime:
    return ModelRuntime.load(tiny_settings.model_copy(update={"quantize": "int8"}))


def test_int8_towers_agree_with_float32(float32: ModelRuntime, int8: ModelRuntime) -> None:
    reference, quantized = float32.encode_texts(TEXTS), int8.encode_texts(TEXTS)
    images = probe_images(float32.image.size, 3)
    ref_images, int8_images = float32.encode_pixels(images), int8.encode_pixels(images)

    assert {t.precision for t in int8.towers.values()} == {"int8"}
    assert {t.precision for t in float32.towers.values()} == {"float32"}
    # Quantized, so not identical, but the same direction.
    assert not np.allclose(reference, quantized, atol=1e-6)
    assert np.min(np.sum(reference * quantized, axis=1)) > 0.99
    assert np.min(np.sum(ref_images * int8_images, axis=1)) > 0.99
    np.testing.assert_allclose(np.linalg.norm(quantized, axis=1), 1.0, atol=1e-5)
    assert quantized.dtype == np.float32


def test_an_int8_vector_does_not_depend_on_its_batch(int8: ModelRuntime) -> None:
    batched = int8.encode_texts(TEXTS)
    images = probe_images(int8.image.size, 3)
    batched_images = int8.encode_pixels(images)

    for i, text in enumerate(TEXTS):
        np.testing.assert_allclose(int8.encode_texts([text])[0], batched[i], atol=1e-6)
    np.testing.assert_allclose(int8.encode_pixels(images[2:])[0], batched_images[2], atol=1e-6)


def test_auto_keeps_float32_where_int8_does_not_agree_enough(
    tiny_settings: EncoderSettings, float32: ModelRuntime
) -> None:
    # No int8 vector reaches cosine 1.0 to float32, so auto must keep both towers float32.
    strict = ModelRuntime.load(
        tiny_settings.model_copy(update={"quantize": "auto", "quantize_min_cosine": 1.0})
    )

    assert {t.precision for t in strict.towers.values()} == {"float32"}
    np.testing.assert_allclose(strict.encode_texts(TEXTS), float32.encode_texts(TEXTS), atol=1e-6)
    assert "int8" not in strict.describe()


def test_auto_quantizes_on_the_cpu_when_the_probes_agree(tiny_settings: EncoderSettings) -> None:
    runtime = ModelRuntime.load(tiny_settings.model_copy(update={"quantize": "auto"}))

    text = runtime.towers["text"]
    assert text.precision == "int8"
    assert text.min_cosine is not None and text.min_cosine >= 0.995
    assert text.probes == len(PROBE_TEXTS)
    line = runtime.describe()
    assert "on cpu, dtype float32, backend torch, int8 on" in line
    assert "text int8 (min cosine" in line and "torch threads" in line


def test_int8_is_refused_where_it_cannot_run() -> None:
    with pytest.raises(ValueError, match="CPU in float32 only"):
        quantizable("int8", "cuda", torch.float32)
    with pytest.raises(ValueError, match="CPU in float32 only"):
        quantizable("int8", "cpu", torch.bfloat16)
    assert quantizable("auto", "cuda", torch.bfloat16) is False
    assert quantizable("auto", "cpu", torch.bfloat16) is False
    assert quantizable("none", "cpu", torch.float32) is False
    assert quantizable("auto", "cpu", torch.float32) is True


def test_quantize_setting_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCODER_QUANTIZE", " INT8 ")
    monkeypatch.setenv("ENCODER_TORCH_THREADS", "1")
    settings = EncoderSettings()
    assert (settings.quantize, settings.torch_threads) == ("int8", 1)
    monkeypatch.setenv("ENCODER_QUANTIZE", "int4")
    with pytest.raises(ValidationError):
        EncoderSettings()


def test_quantize_tower_swaps_plain_linears_only_and_can_undo() -> None:
    class Block(torch.nn.Module):
        def __init__(self) -> None:
            super().__init__()
            self.proj = torch.nn.Linear(16, 16)
            self.attention = torch.nn.MultiheadAttention(16, 2, batch_first=True)

        def forward(self, x: torch.Tensor) -> torch.Tensor:
            y = self.proj(x)
            out: torch.Tensor = self.attention(y, y, y)[0]
            return out

    block = Block().eval()
    x = torch.randn(3, 5, 16)
    reference = block(x)

    swap = quantize_tower(block)

    assert swap.layers == 1
    assert isinstance(block.proj, PerItemLinear)
    # nn.MultiheadAttention reads its out_proj weight itself: it must stay float.
    assert not isinstance(block.attention.out_proj, PerItemLinear)
    quantized = block(x)
    assert torch.nn.functional.cosine_similarity(quantized.flatten(), reference.flatten(), 0) > 0.99
    swap.restore()
    assert type(block.proj) is torch.nn.Linear
    torch.testing.assert_close(block(x), reference)
