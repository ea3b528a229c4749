"""The containers' health checks, run as Docker would run them, against real servers.

The encoder's check is taken from the resolved compose file and run against the real
encoder server (tiny model); Qdrant's bash probe runs against an HTTP server that answers
/readyz the way Qdrant does, with 200 or 503.
"""

from __future__ import annotations

import asyncio
import contextlib
import http.server
import socket
import subprocess
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest

from postersearch.grpc_server import ServerOptions, create_grpc_server, set_serving

ResolveCompose = Callable[..., dict[str, Any]]
SERVICE = "postersearch.v1.EncoderService"


def _probe_argv(test: Sequence[str], grpc_health: list[str]) -> list[str]:
    """The healthcheck's command, run by this Python rather than the image's."""
    assert test[0] == "CMD"
    argv = list(test[1:])
    assert argv[0] == "grpc-health"
    return [*grpc_health, *argv[1:]]


async def _run(argv: Sequence[str], env: dict[str, str] | None = None) -> tuple[int, str]:
    # A subprocess that does not block the event loop the server under test runs in.
    process = await asyncio.create_subprocess_exec(
        *argv,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.STDOUT,
        env=env,
    )
    output, _ = await asyncio.wait_for(process.communicate(), timeout=30)
    assert process.returncode is not None
    return process.returncode, output.decode()


async def test_encoder_healthcheck_passes_once_the_real_encoder_serves(
    resolve_compose: ResolveCompose, grpc_health: list[str], tiny_model_dir: Path
) -> None:
    from encoder_service.local import open_local_encoder
    from encoder_service.server import EncoderServer
    from encoder_service.settings import EncoderSettings

    settings = EncoderSettings(
        model=str(tiny_model_dir),
        device="cpu",
        host="127.0.0.1",
        port=0,
        # Health stays open when the service needs a key, as the container's check has none.
        api_key="a-key-the-probe-does-not-know",
        decode_workers=1,
    )
    server = EncoderServer(settings)
    await server.start()
    port = server.port
    load = asyncio.create_task(open_local_encoder(settings))
    load.add_done_callback(lambda task: server.attach(task.result()))
    try:
        test = resolve_compose(env={"ENCODER_PORT": str(port)})["services"]["encoder"][
            "healthcheck"
        ]["test"]
        argv = _probe_argv(test, grpc_health)
        # The model loads in the background: the check fails until it is served.
        deadline = time.monotonic() + 60
        code, output = await _run(argv)
        while code != 0 and time.monotonic() < deadline:
            await asyncio.sleep(0.2)
            code, output = await _run(argv)
        assert code == 0, output
        assert "SERVING" in output
    finally:
        await server.stop(0)
        await (await load).close()
    # Nothing listens any more: the check fails.
    code, output = await _run(argv)
    assert code == 1
    assert "UNAVAILABLE" in output


async def test_probe_fails_while_not_serving_and_passes_once_serving(
    grpc_health: list[str],
) -> None:
    server, health, port = create_grpc_server(
        ServerOptions(host="127.0.0.1", port=0, api_key="secret"),
        register=lambda _server: None,
        service_names=[SERVICE],
    )
    await server.start()
    try:
        probe = [*grpc_health, str(port)]
        code, output = await _run(probe)
        assert (code, output.strip()) == (1, f"127.0.0.1:{port}: NOT_SERVING")
        set_serving(health, [SERVICE], serving=True)
        code, output = await _run(probe)
        assert (code, output.strip()) == (0, f"127.0.0.1:{port}: SERVING")
        # A named service, as the second argument.
        code, _ = await _run([*probe, SERVICE])
        assert code == 0
        code, output = await _run([*probe, "no.such.Service"])
        assert (code, output.strip()) == (1, f"127.0.0.1:{port}: NOT_FOUND")
    finally:
        await server.stop(0)


async def test_image_healthcheck_without_arguments_reads_encoder_port(
    grpc_health: list[str],
) -> None:
    # The Dockerfile's HEALTHCHECK runs plain `grpc-health`: the port comes from ENCODER_PORT.
    server, health, port = create_grpc_server(
        ServerOptions(host="127.0.0.1", port=0),
        register=lambda _server: None,
        service_names=[SERVICE],
    )
    set_serving(health, [SERVICE], serving=True)
    await server.start()
    try:
        code, output = await _run(
            grpc_health,
            env={"ENCODER_PORT": str(port), "PATH": "/usr/bin:/bin"},
        )
        assert code == 0, output
    finally:
        await server.stop(0)


class _Readyz(http.server.BaseHTTPRequestHandler):
    """Answers /readyz like Qdrant: 200 when ready, 503 while shards are loading."""

    ready = True

    def do_GET(self) -> None:
        if self.path != "/readyz":
            self.send_error(404)
            return
        ready = type(self).ready
        body = b"all shards are ready" if ready else b"some shards are not ready"
        # The probe hangs up after the status line: a reset while writing is its doing.
        with contextlib.suppress(ConnectionError):
            self.send_response(200 if ready else 503)
            self.send_header("Content-Length", str(len(body)))
            self.end_headers()
            self.wfile.write(body)

    def log_message(self, *_args: object) -> None:
        pass


@pytest.fixture
def readyz_server() -> Iterator[tuple[int, type[_Readyz]]]:
    handler = type("Readyz", (_Readyz,), {"ready": True})
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield server.server_address[1], handler
    finally:
        server.shutdown()
        server.server_close()


def _qdrant_probe(resolve_compose: ResolveCompose, port: int) -> list[str]:
    test = resolve_compose()["services"]["qdrant"]["healthcheck"]["test"]
    assert test[:3] == ["CMD", "bash", "-c"]
    # `docker compose config` keeps $$ escaped; the container sees a single $.
    script = test[3].replace("$$", "$")
    assert "/dev/tcp/127.0.0.1/6333" in script
    return ["bash", "-c", script.replace("/dev/tcp/127.0.0.1/6333", f"/dev/tcp/127.0.0.1/{port}")]


def test_qdrant_healthcheck_follows_readyz(
    resolve_compose: ResolveCompose, readyz_server: tuple[int, type[_Readyz]]
) -> None:
    port, handler = readyz_server
    probe = _qdrant_probe(resolve_compose, port)
    assert subprocess.run(probe, capture_output=True, timeout=20, check=False).returncode == 0
    handler.ready = False
    assert subprocess.run(probe, capture_output=True, timeout=20, check=False).returncode != 0


def test_qdrant_healthcheck_fails_when_nothing_listens(resolve_compose: ResolveCompose) -> None:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    probe = _qdrant_probe(resolve_compose, port)
    assert subprocess.run(probe, capture_output=True, timeout=20, check=False).returncode != 0
