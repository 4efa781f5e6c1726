"""The gateway as `python -m gateway serve` in its own process, for tests that measure the process (its memory)
or its connection handling as an operator runs it."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

import httpx

from tests.support.live_server import free_port


@dataclass(frozen=True)
class ServerProcess:
    process: subprocess.Popen[bytes]
    port: int

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}"

    def rss_bytes(self) -> int:
        """The server's resident memory now (VmRSS)."""
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith("VmRSS:"):
                return int(line.split()[1]) * 1024
        raise RuntimeError("no VmRSS in /proc/<pid>/status")


@contextmanager
def gateway_process(
    tmp_path: Path, env: dict[str, str] | None = None, *, port: int | None = None
) -> Iterator[ServerProcess]:
    """`port`: where to listen (a restarted gateway takes its predecessor's port, the URL it gave Twilio)."""
    port = port or free_port()
    flows = tmp_path / "flows"
    flows.mkdir(exist_ok=True)
    values = {
        **os.environ,
        "DATABASE_URL": f"sqlite+aiosqlite:///{tmp_path / 'gateway.db'}",
        "TRUNKLINE_FLOWS_DIR": str(flows),
        "TRUNKLINE_LOG_LEVEL": "WARNING",
        **(env or {}),
    }
    log = (tmp_path / "server.log").open("ab")
    process = subprocess.Popen(
        [sys.executable, "-m", "gateway", "serve", "--port", str(port)],
        env=values,
        stdout=log,
        stderr=subprocess.STDOUT,
        cwd=tmp_path,
    )
    server = ServerProcess(process, port)
    try:
        deadline = time.monotonic() + 30
        while True:
            if process.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(
                    f"the gateway did not start: {(tmp_path / 'server.log').read_text()[-2000:]}"
                )
            try:
                if httpx.get(server.url + "/health/live", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                time.sleep(0.1)
        yield server
    finally:
        if process.poll() is None:
            process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()
