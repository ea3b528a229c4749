"""Who is asking: the caller a request is charged to, carried through the call's context.

Servers set it from the connection (the peer's address) before calling the encoder; the
encoder's admission control charges decode work to it, so one caller's flood of large
images is refused without starving everyone else.
"""

from __future__ import annotations

from contextvars import ContextVar

IN_PROCESS = "in-process"

CALLER: ContextVar[str] = ContextVar("postersearch_caller", default=IN_PROCESS)


def caller_of_peer(peer: str | None) -> str:
    """The caller of a gRPC peer ("ipv4:10.0.0.5:51234" -> "ipv4:10.0.0.5"): its host."""
    if not peer:
        return "unknown"
    host, sep, port = peer.rpartition(":")
    return host if sep and port.isdigit() else peer
