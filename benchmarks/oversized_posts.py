"""Memory under oversized unsigned webhooks: 60 clients at once each post a 9.8 MB body to the Twilio voice webhook
(unsigned, so the gateway can only refuse them); the server's resident memory before and at its peak, and how the
posts were answered. `--code DIR` runs the server from another checkout (say, a previous release) to compare.
Last line: one JSON object."""

from __future__ import annotations

import argparse
import json
import os
import socket
import subprocess
import sys
import tempfile
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PYTHON, ROOT, rss_mb, wait_ready
from tests.support.live_server import free_port

CLIENTS = 60
BODY = 9_800_000


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def post(port: int) -> int:
    """Send the whole body (as a client that ignores an early answer would), then read the status."""
    head = (
        "POST /carriers/twilio/voice HTTP/1.1\r\nHost: gw\r\nContent-Type: application/x-www-form-urlencoded\r\n"
        f"Content-Length: {BODY}\r\n\r\n"
    ).encode()
    chunk = b"a" * 65536
    with socket.create_connection(("127.0.0.1", port), timeout=60) as sock:
        try:
            sock.sendall(head)
            for _ in range(BODY // len(chunk)):
                sock.sendall(chunk)
            sock.sendall(b"a" * (BODY % len(chunk)))
        except (BrokenPipeError, ConnectionResetError):
            pass
        try:
            answer = sock.recv(4096)
        except ConnectionResetError:
            return 0
    return int(answer.split(b" ", 2)[1]) if answer.startswith(b"HTTP/1.1 ") else 0


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--code", type=Path, default=ROOT, help="checkout whose gateway to run")
    code = parser.parse_args().code.resolve()
    with tempfile.TemporaryDirectory() as tmp:
        port = free_port()
        env = {
            **os.environ,
            "PYTHONPATH": str(code),
            "DATABASE_URL": f"sqlite+aiosqlite:///{tmp}/gw.db",
            "TRUNKLINE_FLOWS_DIR": tmp,
            "TRUNKLINE_LOG_LEVEL": "ERROR",
        }
        server = subprocess.Popen(
            [PYTHON, "-m", "gateway", "serve", "--port", str(port)],
            cwd=code,
            env=env,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        try:
            wait_ready(f"http://127.0.0.1:{port}/health/live")
            before = rss_mb(server.pid)
            started = time.perf_counter()
            with ThreadPoolExecutor(CLIENTS) as pool:
                statuses = list(pool.map(lambda _: post(port), range(CLIENTS)))
            seconds = time.perf_counter() - started
            figures = {
                "rss_before_mb": round(before, 1),
                "rss_peak_mb": round(peak_rss_mb(server.pid), 1),
                "rss_after_mb": round(rss_mb(server.pid), 1),
                "seconds": round(seconds, 2),
                "statuses": {str(s): statuses.count(s) for s in sorted(set(statuses))},
            }
        finally:
            server.terminate()
            server.wait(timeout=10)
    print(f"{CLIENTS} unsigned {BODY / 1e6:.1f} MB posts from {code}:")
    for name, value in figures.items():
        print(f"  {name}: {value}")
    print(json.dumps({"benchmark": "oversized_posts", **figures}))


if __name__ == "__main__":
    main()
