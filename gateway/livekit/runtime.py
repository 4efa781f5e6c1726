"""Everything LiveKit needs while the service runs, in one object (`services(state).get(LiveKitRuntime)`).

- `clients`: per-project `LiveKit` facades (`await clients.get(project)`), closed at shutdown;
- `reconciler` + `sync_loop`: desired state into LiveKit, woken by commits (`ChangeWatch`), on a timer and
  with backoff while LiveKit is down;
- `placer` and `control` (registered in the app's services for carrier "livekit");
- `ingest`: the webhook receiver (calls through the call store); `answers`: polls ringing inbound calls until they
  are answered.
"""

from __future__ import annotations

import time

from gateway.calls.store import CallStore
from gateway.db.database import Database
from gateway.db.locks import AdvisoryLock
from gateway.db.models import Project
from gateway.settings import Settings

from .answer_watch import AnswerWatch
from .clients import LiveKitClients
from .control import LiveKitCallControl
from .events import Applied, EventApplier
from .facade import LiveKit
from .ingest import Directory, Ingest
from .placer import LiveKitPlacer
from .reconciler import Reconciler
from .sync_loop import ROUND_LOCK, SyncLoop, Touched
from .tasks import Tasks

PROBE_CACHE_SECONDS = 1.0


class LiveKitRuntime:
    def __init__(self, database: Database, store: CallStore, settings: Settings) -> None:
        self.settings = settings
        self._database = database
        self.tasks = Tasks()
        self.clients = LiveKitClients(settings)
        self.reconciler = Reconciler(database, self.clients)
        self.sync_loop = SyncLoop(
            self.reconciler, database, round_lock=AdvisoryLock(database.engine, ROUND_LOCK)
        )
        self.answers = AnswerWatch(store, self.tasks)
        self.directory = Directory(settings, database)
        self.ingest = Ingest(self.directory, EventApplier(store, database), database, self._after_webhook)
        self.placer = LiveKitPlacer(self.clients, database, store, self.tasks, self._drifted)
        self.control = LiveKitCallControl(self.clients)
        self._probe: LiveKit | None = None
        self._probed: tuple[float, bool] = (-PROBE_CACHE_SECONDS, False)

    def on_change(self, touched: Touched) -> None:
        """Desired state changed in these projects (a commit of this replica)."""
        self.directory.invalidate()
        self.sync_loop.changed(touched)

    def _drifted(self, project_id: str) -> None:
        self.sync_loop.poke({project_id}, full=True)

    async def _after_webhook(self, project_id: str, applied: Applied) -> None:
        if applied.stop_watch is not None:
            self.answers.stop(*applied.stop_watch)
        if applied.watch is not None:
            async with self._database.session() as db:
                project = await db.get(Project, project_id)
            if project is not None and self.clients.configured(project):
                livekit = await self.clients.get(project)
                self.answers.watch(livekit, applied.watch.room, applied.watch.identity, applied.watch.call_id)

    async def livekit_check(self, _services: object) -> tuple[bool, str]:
        """Readiness: the LiveKit of the LIVEKIT_* settings answers (not configured is fine: it is optional)."""
        settings = self.settings
        if not (settings.livekit_url and settings.livekit_api_key and settings.livekit_api_secret):
            return True, "LiveKit not configured (optional)"
        at, ok = self._probed
        if time.monotonic() - at >= PROBE_CACHE_SECONDS:
            if self._probe is None:
                self._probe = await LiveKit(
                    settings.livekit_url, settings.livekit_api_key, settings.livekit_api_secret
                ).__aenter__()
            ok = await self._probe.ping()
            self._probed = (time.monotonic(), ok)
        failures = self.sync_loop.failures
        sync = (
            f"; background sync failed {failures} time(s) in a row, retrying with backoff" if failures else ""
        )
        return ok, ("LiveKit answers" if ok else f"LiveKit unreachable at {settings.livekit_url}") + sync

    async def aclose(self) -> None:
        await self.tasks.aclose()
        await self.clients.aclose()
        if self._probe is not None:
            await self._probe.aclose()
