"""The health listener: GET answers with JSON, HEAD with the same head and no body."""

from __future__ import annotations

import asyncio

from tau.http import HttpServer
from tau.metrics import Metrics


async def _ask(port: int, method: str) -> bytes:
    reader, writer = await asyncio.open_connection("127.0.0.1", port)
    writer.write(f"{method} /healthz HTTP/1.1\r\nHost: x\r\n\r\n".encode())
    await writer.drain()
    answer = await asyncio.wait_for(reader.read(), timeout=5)
    writer.close()
    return answer


async def test_head_healthz_has_no_body_and_get_has_it() -> None:
    server = HttpServer("127.0.0.1", 0, lambda: {"healthy": True}, Metrics(), lambda: None)
    await server.start()
    try:
        got = await _ask(server.port, "GET")
        head = await _ask(server.port, "HEAD")
        post = await _ask(server.port, "POST")
    finally:
        await server.stop()
    get_head, get_body = got.split(b"\r\n\r\n", 1)
    head_head, head_body = head.split(b"\r\n\r\n", 1)
    assert get_body == b'{"healthy": true}'
    assert head_body == b""
    assert head_head == get_head  # same status and Content-Length
    assert head_head.startswith(b"HTTP/1.1 200 OK")
    assert post.startswith(b"HTTP/1.1 405 Method Not Allowed")
    assert post.endswith(b"only GET and HEAD\n")
