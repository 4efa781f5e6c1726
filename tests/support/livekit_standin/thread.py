"""Run a `LiveKitStandIn` on its own event loop in a background thread, for sync tests and fixtures.

@pytest.fixture
def livekit():
    with StandInThread(time_scale=0.01) as running:
        yield running

def test_something(livekit):
    ... LiveKitAPI(livekit.url, livekit.api_key, livekit.api_secret) ...
    livekit.standin.fail_next_call("+15550100", 486)
"""

from __future__ import annotations

import asyncio
import threading
from typing import Any

from .faults import DownMode
from .standin import LiveKitStandIn

START_TIMEOUT = 10.0


class StandInThread:
    """A started stand-in serving from a daemon thread; `standin` is its control API."""

    def __init__(self, **options: Any) -> None:
        self.standin = LiveKitStandIn(**options)
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._ready = threading.Event()
        self._failure: BaseException | None = None

    @property
    def url(self) -> str:
        return self.standin.url

    @property
    def api_key(self) -> str:
        return self.standin.api_key

    @property
    def api_secret(self) -> str:
        return self.standin.api_secret

    def start(self) -> StandInThread:
        self._thread = threading.Thread(target=self._serve, name="livekit-standin", daemon=True)
        self._thread.start()
        if not self._ready.wait(START_TIMEOUT):
            raise TimeoutError("the LiveKit stand-in did not start")
        if self._failure is not None:
            raise RuntimeError("the LiveKit stand-in failed to start") from self._failure
        return self

    def stop(self) -> None:
        if self._loop is not None and self._thread is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
            self._thread.join(START_TIMEOUT)
        self._loop = self._thread = None

    def __enter__(self) -> StandInThread:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def set_down(self, mode: DownMode | None) -> None:
        """`LiveKitStandIn.set_down`, run on the stand-in's loop."""
        assert self._loop is not None, "start the stand-in first"
        asyncio.run_coroutine_threadsafe(self.standin.set_down(mode), self._loop).result(START_TIMEOUT)

    def _serve(self) -> None:
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            loop.run_until_complete(self.standin.start())
        except BaseException as exc:
            self._failure = exc
            self._ready.set()
            loop.close()
            return
        self._ready.set()
        try:
            loop.run_forever()
        finally:
            loop.run_until_complete(self.standin.stop())
            loop.run_until_complete(loop.shutdown_asyncgens())
            loop.close()
