"""Clients that send a request's headers slowly, or never finish them, are disconnected at the header deadline;
ordinary clients, keep-alive included, are not."""

from __future__ import annotations

import socket
import threading
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import uvicorn

from gateway.app import create_app
from gateway.server import uvicorn_options
from gateway.settings import load_settings
from tests.support.live_server import free_port

DEADLINE = 0.5


@pytest.fixture
def port(tmp_path: Path) -> Iterator[int]:
    settings = load_settings(
        env={
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gw.db'}",
            "TRUNKLINE_FLOWS_DIR": str(tmp_path),
        },
        dotenv=None,
    )
    number = free_port()
    options = uvicorn_options("127.0.0.1", number, header_timeout=DEADLINE)
    server = uvicorn.Server(uvicorn.Config(create_app(settings, configure_logs=False), **options))
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 20
    while not server.started:
        assert thread.is_alive(), "the gateway did not start"
        assert time.monotonic() < deadline, "the gateway did not start in time"
        time.sleep(0.02)
    yield number
    server.should_exit = True
    thread.join(timeout=10)


def _closed_after(sock: socket.socket) -> float:
    """Seconds until the server closes the connection (reading and dropping anything it sends)."""
    started = time.monotonic()
    sock.settimeout(5)
    while sock.recv(4096):
        pass
    return time.monotonic() - started


def test_a_client_that_never_finishes_its_headers_is_disconnected(port: int) -> None:
    held = [socket.create_connection(("127.0.0.1", port)) for _ in range(200)]
    try:
        for sock in held:
            sock.sendall(b"POST /carriers/twilio/voice HTTP/1.1\r\nHost: gw\r\nContent-Ty")
        started = time.monotonic()
        for sock in held:
            sock.settimeout(5)
            assert sock.recv(4096) == b""  # closed without an answer, well before the 5 s read timeout
        assert time.monotonic() - started < DEADLINE + 2
    finally:
        for sock in held:
            sock.close()


def test_a_client_trickling_its_headers_is_disconnected_at_the_deadline(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        started = time.monotonic()
        try:
            for byte in b"GET /health/live HTTP/1.1\r\nHost: gw\r\nX-Slow: " + b"a" * 100:
                sock.sendall(bytes([byte]))
                time.sleep(0.05)
        except (BrokenPipeError, ConnectionResetError):
            pass
        assert _closed_after(sock) < 5
        assert time.monotonic() - started < DEADLINE + 2


def test_ordinary_and_keep_alive_clients_are_answered(port: int) -> None:
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(5)
        for _ in range(3):
            sock.sendall(b"GET /health/live HTTP/1.1\r\nHost: gw\r\n\r\n")
            answer = b""
            while not answer.endswith(b'{"status":"live"}'):  # the head and the body may come apart
                chunk = sock.recv(65536)
                assert chunk, f"closed after {answer!r}"
                answer += chunk
            assert answer.startswith(b"HTTP/1.1 200"), answer
            time.sleep(DEADLINE * 0.8)  # idle between requests, under the deadline each time
        assert _closed_after(sock) < 5 + DEADLINE  # idle past both deadlines: closed
