"""Carrier webhooks are read before their signature is checked, so their bodies are capped at what carriers send:
a bigger one is refused with 413 before it is read (Content-Length) or as soon as it passes the cap (chunked), and
many at once do not grow the server's memory."""

from __future__ import annotations

import socket
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.web.limits import API_MAX_BODY, LIVEKIT_WEBHOOK_MAX_BODY, TWILIO_WEBHOOK_MAX_BODY
from tests.conftest import Api
from tests.support.subprocess_server import ServerProcess, gateway_process

ANNOUNCED = 9_800_000
"""What an attacker announces: just under Litestar's default limit (10 MB), which the gateway used to read."""
FORM = "application/x-www-form-urlencoded"


def _status_of(answer: bytes) -> int:
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def _read_answer(sock: socket.socket) -> bytes:
    answer = b""
    try:
        while b"\r\n\r\n" not in answer:
            chunk = sock.recv(65536)
            if not chunk:
                break
            answer += chunk
    except ConnectionResetError:
        pass
    return answer


def _announced_post(port: int, path: str) -> tuple[int, int]:
    """Announce a 9.8 MB body, send 64 KiB of it, then wait for the answer: (status, bytes sent)."""
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nContent-Length: {ANNOUNCED}\r\n\r\n"
        )
        sock.sendall(head.encode() + b"a" * 65536)
        return _status_of(_read_answer(sock)), 65536


def _chunked_post(port: int, path: str, total: int) -> tuple[int, int]:
    """Stream `total` bytes in 64 KiB chunks until the server stops listening: (status, bytes sent)."""
    chunk = b"a" * 65536
    sent = 0
    with socket.create_connection(("127.0.0.1", port), timeout=10) as sock:
        head = (
            f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Type: {FORM}\r\nTransfer-Encoding: chunked\r\n\r\n"
        )
        sock.sendall(head.encode())
        try:
            while sent < total:
                sock.sendall(b"%x\r\n%s\r\n" % (len(chunk), chunk))
                sent += len(chunk)
            sock.sendall(b"0\r\n\r\n")
        except (BrokenPipeError, ConnectionResetError):
            pass
        return _status_of(_read_answer(sock)), sent


@pytest.fixture
def server(tmp_path: Path) -> Any:
    with gateway_process(tmp_path) as process:
        yield process


def test_many_oversized_unsigned_webhooks_are_refused_unread_and_memory_stays_flat(
    server: ServerProcess,
) -> None:
    before = server.rss_bytes()
    paths = ["/carriers/twilio/voice", "/carriers/twilio/status", "/webhooks/livekit"] * 20
    with ThreadPoolExecutor(max_workers=30) as pool:
        announced = list(pool.map(lambda path: _announced_post(server.port, path), paths))
        chunked = list(pool.map(lambda path: _chunked_post(server.port, path, 32_000_000), paths[:30]))
    grown = server.rss_bytes() - before
    assert [status for status, _ in announced] == [413] * len(paths)
    assert [status for status, _ in chunked] == [413] * 30
    # the server stopped reading each chunked body soon after its cap and hung up (socket buffers took some MB)
    assert max(sent for _, sent in chunked) < 16_000_000
    print(f"RSS grew by {grown / 1e6:.1f} MB over {len(paths)} announced and 30 chunked oversized posts")
    assert grown < 40_000_000, f"RSS grew by {grown / 1e6:.0f} MB"


def test_caps_are_what_senders_send_and_the_413_says_so(client: TestClient[Any], api: Api) -> None:
    twilio = client.post("/carriers/twilio/voice", content=b"a" * (TWILIO_WEBHOOK_MAX_BODY + 1))
    assert twilio.status_code == 413
    assert twilio.headers["content-type"].startswith("application/problem+json")
    assert twilio.json()["limit"] == TWILIO_WEBHOOK_MAX_BODY
    assert "at most 65536 bytes" in twilio.json()["detail"]
    # under the cap, an unsigned post is read and refused for its signature as before
    assert client.post("/carriers/twilio/voice", content=b"a" * TWILIO_WEBHOOK_MAX_BODY).status_code == 403
    livekit = client.post("/webhooks/livekit", content=b"a" * (LIVEKIT_WEBHOOK_MAX_BODY + 1))
    assert livekit.status_code == 413
    assert client.post("/webhooks/livekit", content=b"a" * 100_000).status_code == 403
    big = api.post(
        "/v1/agents", content=b" " * (API_MAX_BODY + 1), headers={"content-type": "application/json"}
    )
    assert big.status_code == 413
    assert big.json()["limit"] == API_MAX_BODY
