#!/usr/bin/env python
"""Container health check: asks a gRPC server on this host whether it is SERVING.

Usage: ``grpc-health [PORT | HOST:PORT] [SERVICE]``. The port defaults to $ENCODER_PORT, then
50051; the service defaults to "" (the whole server). Exits 0 when the server answers
SERVING through the standard ``grpc.health.v1.Health/Check``, 1 for anything else
(NOT_SERVING while the model loads, no answer, a refused connection), so Docker marks the
container healthy only once it can take calls. Health needs no API key.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import grpc
from grpc_health.v1 import health_pb2, health_pb2_grpc

TIMEOUT_S = 3.0


def _target(arg: str | None) -> str:
    value = arg or os.environ.get("ENCODER_PORT") or "50051"
    return value if ":" in value else f"127.0.0.1:{value}"


def check(target: str, service: str = "", timeout_s: float = TIMEOUT_S) -> tuple[bool, str]:
    """Asks target for the health of service.

    Args:
        target: "host:port" of the gRPC server.
        service: Full service name, or "" for the server as a whole.
        timeout_s: Longest wait for the answer.

    Returns:
        Whether the server is SERVING, and a one-line description of what it said.
    """
    with grpc.insecure_channel(target) as channel:
        stub = health_pb2_grpc.HealthStub(channel)
        try:
            reply = stub.Check(health_pb2.HealthCheckRequest(service=service), timeout=timeout_s)
        except grpc.RpcError as exc:
            code = exc.code() if isinstance(exc, grpc.Call) else None
            return False, f"{target}: {code.name if code else 'error'}"
    status = health_pb2.HealthCheckResponse.ServingStatus.Name(reply.status)
    return reply.status == health_pb2.HealthCheckResponse.SERVING, f"{target}: {status}"


def main(argv: Sequence[str]) -> int:
    """Runs the check with the command-line arguments; returns the exit status."""
    serving, description = check(
        _target(argv[0] if argv else None), argv[1] if len(argv) > 1 else ""
    )
    print(description, file=sys.stdout if serving else sys.stderr)
    return 0 if serving else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
