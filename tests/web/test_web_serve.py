"""serve_http: the app served by uvicorn in the caller's event loop, stopped by cancelling."""

from __future__ import annotations

import asyncio
import socket
from typing import Any

import httpx
import pytest

from web_ui.app import create_app, serve_http


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def _raw_get(port: int, path: str) -> str:
    # httpx would normalise "..", so the request line is written by hand, as an attacker would.
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"GET {path} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n".encode())
    await writer.drain()
    status_line = (await reader.readline()).decode()
    writer.close()
    await writer.wait_closed()
    return status_line


async def test_serves_until_cancelled_and_refuses_raw_traversal(web_collection: Any) -> None:
    port = _free_port()
    app = create_app(web_collection.search, [web_collection.root])
    task = asyncio.create_task(serve_http(app, "127.0.0.1", port))
    async with httpx.AsyncClient(base_url=f"http://127.0.0.1:{port}") as client:
        for _ in range(200):
            try:
                health = await client.get("/healthz")
                break
            except httpx.ConnectError:
                await asyncio.sleep(0.02)
        assert health.json() == {"status": "ok"}
        found = await client.get("/api/search", params={"query": "green", "limit": 1})
        assert found.json()["hits"][0]["poster"]["title"] in {"Green Valley", "Forest Law"}

    assert (await _raw_get(port, "/posters/covers/1.jpg")).startswith("HTTP/1.1 200")
    for path in ("/posters/../elsewhere.jpg", "/posters/covers/../../elsewhere.jpg"):
        assert (await _raw_get(port, path)).startswith("HTTP/1.1 404"), path

    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task
    with pytest.raises(OSError):
        await asyncio.open_connection("127.0.0.1", port)


async def test_a_port_in_use_is_an_error_not_an_exit(web_collection: Any) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        app = create_app(web_collection.search)
        with pytest.raises(OSError, match=f"cannot listen on 127.0.0.1:{port}"):
            await asyncio.wait_for(serve_http(app, "127.0.0.1", port), timeout=10)
