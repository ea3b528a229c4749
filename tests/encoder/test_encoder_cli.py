"""``poster-search encoder`` end to end: settings from flags and environment, health,
metrics, SIGTERM."""

from __future__ import annotations

import os
import signal
import socket
import threading
import time
import urllib.request
from pathlib import Path

import grpc
import pytest
from grpc_health.v1 import health_pb2, health_pb2_grpc

from encoder_service.settings import EncoderSettings
from postersearch.app import cli
from postersearch.v1 import encoder_pb2 as pb
from postersearch.v1 import encoder_pb2_grpc


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def _use_then_stop(port: int, metrics_port: int, seen: dict[str, object]) -> None:
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                try:
                    status = health.Check(health_pb2.HealthCheckRequest(), timeout=1).status
                except grpc.RpcError:
                    status = None
                if status == health_pb2.HealthCheckResponse.SERVING:
                    break
                time.sleep(0.1)
            stub = encoder_pb2_grpc.EncoderServiceStub(channel)
            seen["info"] = stub.GetInfo(pb.GetInfoRequest(), timeout=10)
            seen["vectors"] = stub.EncodeText(pb.EncodeTextRequest(texts=["a poster"]), timeout=10)
        url = f"http://127.0.0.1:{metrics_port}/metrics"
        with urllib.request.urlopen(url, timeout=10) as response:
            seen["metrics"] = response.read().decode()
    finally:
        os.kill(os.getpid(), signal.SIGTERM)


def test_encoder_command_serves_until_sigterm(
    tiny_model_dir: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    port, metrics_port = _free_port(), _free_port()
    monkeypatch.setenv("ENCODER_HOST", "127.0.0.1")
    monkeypatch.setenv("ENCODER_METRICS_PORT", str(metrics_port))
    monkeypatch.setenv("ENCODER_MAX_BATCH_SIZE", "12")
    seen: dict[str, object] = {}
    client = threading.Thread(target=_use_then_stop, args=(port, metrics_port, seen))
    client.start()

    code = cli.main(["encoder", "--model", str(tiny_model_dir), "--port", str(port)])
    client.join(timeout=30)

    assert code == 0
    info = seen["info"]
    assert isinstance(info, pb.EncoderInfo)
    assert (info.model_id, info.dimension, info.max_batch_size) == (str(tiny_model_dir), 32, 12)
    assert isinstance(seen["vectors"], pb.EncodeTextResponse)
    assert len(seen["vectors"].vectors[0].values) == 32
    metrics = str(seen["metrics"])
    assert 'postersearch_encoder_batch_size_count{kind="text"}' in metrics
    assert 'method="EncodeText"' in metrics


def test_encoder_command_fails_when_the_model_cannot_load(tmp_path: Path) -> None:
    missing = tmp_path / "no-model-here"

    code = cli.main(["encoder", "--model", str(missing), "--port", str(_free_port())])

    assert code == 1


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ENCODER_PORT", "6001")
    monkeypatch.setenv("ENCODER_DTYPE", "bf16")
    monkeypatch.setenv("ENCODER_API_KEY", "")
    monkeypatch.setenv("ENCODER_MAX_QUEUE", "10")

    settings = EncoderSettings()

    assert (settings.port, settings.dtype, settings.api_key) == (6001, "bfloat16", None)
    assert settings.max_queue == 10
    assert settings.model == "google/siglip2-base-patch16-256"
    assert EncoderSettings(port=7000).port == 7000


def test_bad_encoder_settings_are_one_line(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("ENCODER_MAX_BATCH_SIZE", "0")
    monkeypatch.setenv("ENCODER_PORT", "eighty")
    assert cli.main(["encoder"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and err.startswith("error: bad setting ")
    assert "ENCODER_MAX_BATCH_SIZE='0'" in err and "ENCODER_PORT='eighty'" in err
    assert "Traceback" not in err


@pytest.mark.slow
def test_sigterm_during_heavy_decoding_exits_within_the_grace(tiny_model_dir: Path) -> None:
    """Decoding threads cannot be interrupted; the process must not wait for them."""
    import io
    import subprocess
    import sys

    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (6000, 6000), (10, 200, 10)).save(out, format="PNG")
    giant = out.getvalue()
    port = _free_port()
    env = {
        **os.environ,
        "ENCODER_HOST": "127.0.0.1",
        "ENCODER_GRACE_SECONDS": "1",
        "ENCODER_DECODE_WORKERS": "2",
        "HF_HUB_OFFLINE": "1",
    }
    process = subprocess.Popen(
        [sys.executable, "-m", "postersearch.app.cli", "encoder", "--model", str(tiny_model_dir),
         "--port", str(port), "--device", "cpu"],
        env=env, stderr=subprocess.DEVNULL,
    )  # fmt: skip
    try:
        with grpc.insecure_channel(f"127.0.0.1:{port}") as channel:
            grpc.channel_ready_future(channel).result(timeout=60)
            health = health_pb2_grpc.HealthStub(channel)
            deadline = time.monotonic() + 60
            while health.Check(health_pb2.HealthCheckRequest()).status != 1:
                assert time.monotonic() < deadline
                time.sleep(0.1)
            stub = encoder_pb2_grpc.EncoderServiceStub(channel)
            # Several seconds of decoding on two threads: five 36-million-pixel PNGs.
            pending = stub.EncodeImages.future(pb.EncodeImagesRequest(images=[giant] * 5))
            time.sleep(1.0)
            stopped_at = time.monotonic()
            process.send_signal(signal.SIGTERM)
            process.wait(timeout=30)
            took = time.monotonic() - stopped_at
            pending.cancel()
    finally:
        if process.poll() is None:
            process.kill()
    assert process.returncode == 0
    assert took < 1 + 2.0, f"took {took:.1f} s to exit after SIGTERM with a 1 s grace"
