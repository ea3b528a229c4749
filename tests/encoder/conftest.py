"""Fixtures of the encoder tests: one loaded tiny model, encoders and servers around it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from pathlib import Path
from typing import Any

import grpc
import pytest

from encoder_service.local import LocalEncoder
from encoder_service.model import ModelRuntime
from encoder_service.server import create_server
from encoder_service.settings import EncoderSettings

MAX_IMAGE_BYTES = 200_000


@pytest.fixture(scope="session")
def tiny_settings(tiny_model_dir: Path) -> EncoderSettings:
    """Settings for the tiny model on the CPU, bound to a free local port."""
    return EncoderSettings(
        model=str(tiny_model_dir),
        device="cpu",
        host="127.0.0.1",
        port=0,
        max_batch_size=16,
        max_text_chars=200,
        max_image_bytes=MAX_IMAGE_BYTES,
        max_image_pixels=4_000_000,
        decode_workers=2,
    )


@pytest.fixture(scope="session")
def runtime(tiny_settings: EncoderSettings) -> ModelRuntime:
    """The tiny model, loaded once through the same path as a real checkpoint."""
    loaded = ModelRuntime.load(tiny_settings)
    loaded.warm_up()
    return loaded


@pytest.fixture
async def make_encoder(
    runtime: ModelRuntime, tiny_settings: EncoderSettings
) -> AsyncIterator[Callable[..., LocalEncoder]]:
    """Builds LocalEncoders over the shared model, settings overridable by keyword; closes
    them after the test."""
    made: list[LocalEncoder] = []

    def make(**overrides: Any) -> LocalEncoder:
        encoder = LocalEncoder(runtime, tiny_settings.model_copy(update=overrides))
        made.append(encoder)
        return encoder

    yield make
    for encoder in made:
        await encoder.close()


@pytest.fixture
def encoder(make_encoder: Callable[..., LocalEncoder]) -> LocalEncoder:
    """A LocalEncoder with the default test settings."""
    enc = make_encoder()
    return enc


ServerFactory = Callable[..., Awaitable[tuple[str, LocalEncoder]]]


@pytest.fixture
async def start_server(
    make_encoder: Callable[..., LocalEncoder], tiny_settings: EncoderSettings
) -> AsyncIterator[ServerFactory]:
    """Starts encoder servers on free ports; returns (target, encoder). Stops them after."""
    servers: list[grpc.aio.Server] = []

    async def start(**overrides: Any) -> tuple[str, LocalEncoder]:
        settings = tiny_settings.model_copy(update=overrides)
        enc = make_encoder(**overrides)
        server, port = create_server(settings, enc)
        await server.start()
        servers.append(server)
        return f"127.0.0.1:{port}", enc

    yield start
    for server in servers:
        await server.stop(0)
