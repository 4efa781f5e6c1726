"""Run the app under uvicorn and tell the operator where it listens and how to get a key."""

from __future__ import annotations

import gc
from typing import Any

import uvicorn
from litestar import Litestar

from gateway.app import create_app
from gateway.settings import Settings
from gateway.web.slow_clients import HEADER_TIMEOUT, with_header_timeout

KEEP_ALIVE_TIMEOUT = 5
"""Seconds an idle keep-alive connection stays open (uvicorn's default, stated: carriers reconnect cheaply)."""
MAX_HEAD_SIZE = 16 * 1024
"""Bytes a request's line and headers may take (h11's default; a Twilio webhook's head is well under 2 KB)."""


def _announce(app: Litestar, host: str, port: int) -> None:
    base = f"http://{host}:{port}"
    lines = [
        f"Trunkline is listening on {base}",
        f"  API docs:   {base}/schema   health: {base}/health/ready   metrics: {base}/metrics",
    ]
    key = app.state.first_run_key
    if key is not None:
        lines += [
            "  First run: created an admin API key for the default project (shown once, store it now):",
            f"    {key.token}",
        ]
    lines += ["  More keys:  trunkline keys create --project default --role admin"]
    print("\n".join(lines), flush=True)


def serve(settings: Settings, *, host: str | None = None, port: int | None = None) -> int:
    host = host or settings.host
    port = port or settings.port
    app = create_app(settings)

    async def announce(app: Litestar) -> None:
        _announce(app, host, port)
        # What start-up built lives as long as the process: freezing it keeps the cyclic garbage collector from
        # re-scanning it on every full collection, which otherwise pauses a busy server for tens of milliseconds.
        gc.collect()
        gc.freeze()

    app.on_startup.append(announce)
    uvicorn.run(app, **uvicorn_options(host, port))
    return 0


def uvicorn_options(host: str, port: int, *, header_timeout: float = HEADER_TIMEOUT) -> dict[str, Any]:
    return {
        "host": host,
        "port": port,
        "log_config": None,
        "lifespan": "on",
        "proxy_headers": False,
        "server_header": False,
        # uvicorn.access stays at WARNING (gateway.logs.DRIVER_LOGGERS: its lines carry URLs), so no access line is
        # ever printed; with access_log on, uvicorn would still format each one's client and quoted path first.
        "access_log": False,
        # Slow or stalled clients: a deadline for each request's headers, a bound on their size, and idle
        # keep-alive connections closed. (No `limit_concurrency`: it would answer 503 to carriers in a burst.)
        "http": with_header_timeout(header_timeout),
        "timeout_keep_alive": KEEP_ALIVE_TIMEOUT,
        "h11_max_incomplete_event_size": MAX_HEAD_SIZE,
    }
