"""Issue 20 part B figures, on SQLite and PostgreSQL: LiveKit API calls for one changed route at 10 and at 10,000
routes (the LiveKit stand-in counts them), dispatch rules for 10,000 routes, `GET /v1/calls` page p99 and
`GET /v1/calls/{id}` p99 with 1,000,000 calls and their events (seeded with bulk Core inserts), peak memory of each
phase (each phase runs in a process of its own). Last line: one JSON object.

    .venv/bin/python benchmarks/_scale_sync_calls.py [--calls 1000000] [--routes 10000] [--engines sqlite,postgresql]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from litestar.testing import TestClient
from sqlalchemy import insert, update

from gateway.app import create_app
from gateway.bootstrap import start_up
from gateway.db.database import Database
from gateway.db.migrate import upgrade
from gateway.db.models import Agent, Call, CallEvent, Route, Trunk
from gateway.ids import new_id, ulid
from gateway.livekit.bridging import BRIDGE_KEY
from gateway.livekit.clients import LiveKitClients
from gateway.livekit.desired import mark_of
from gateway.livekit.reconciler import Reconciler
from gateway.settings import Settings, load_settings
from tests.conftest import key_env
from tests.support.livekit_standin import LiveKitStandIn
from tests.support.postgres import running_cluster

ROOT = Path(__file__).resolve().parent.parent
SEED_CHUNK = 20_000
PAGE_SAMPLES = 600
DETAIL_SAMPLES = 500
NUMBERS = [f"+1415{n:07d}" for n in range(1000)]
STATUSES = ["completed"] * 6 + ["no-answer", "busy", "failed", "canceled"]


def _settings(url: str, work: Path, livekit: LiveKitStandIn | None = None) -> Settings:
    (work / "flows").mkdir(parents=True, exist_ok=True)
    env = {"DATABASE_URL": url, "TRUNKLINE_FLOWS_DIR": str(work / "flows"), **key_env(work)}
    if livekit is not None:
        env.update(
            LIVEKIT_URL=livekit.url, LIVEKIT_API_KEY=livekit.api_key, LIVEKIT_API_SECRET=livekit.api_secret
        )
    return load_settings(env=env, dotenv=None)


async def _prepare(settings: Settings) -> tuple[Database, str]:
    database = Database.for_settings(settings)
    await upgrade(database.engine)
    async with database.session() as session:
        project = await start_up(session, settings)
        project_id = project.id
        await session.commit()
    return database, project_id


def _peak_mb() -> float:
    return round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)


# --- phase: the LiveKit sync --------------------------------------------------------------------------------


async def _seed_routes(database: Database, project_id: str, count: int) -> list[str]:
    numbers = [f"+1212{n:07d}" for n in range(count)]
    async with database.session() as session:
        session.add(
            Trunk(
                id=new_id("trk"),
                project_id=project_id,
                name="carrier-in",
                direction="inbound",
                config={"numbers": numbers, "allowed_addresses": ["192.0.2.0/24"]},
            )
        )
        for name in ("sales", "support"):
            session.add(Agent(id=new_id("agt"), project_id=project_id, name=name, config={}))
        route_ids = [new_id("rte") for _ in numbers]
        rows = [
            {
                "id": route_id,
                "project_id": project_id,
                "name": f"line {n}",
                "priority": 100,
                "enabled": True,
                "spec": {"match": {"numbers": [number]}, "target": {"type": "agent", "agent": "sales"}},
            }
            for n, (route_id, number) in enumerate(zip(route_ids, numbers, strict=True))
        ]
        await session.execute(insert(Route), rows)
        await session.commit()
    return route_ids


async def _move_route(database: Database, route_id: str, number: str, agent: str) -> None:
    async with database.session() as session:
        spec = {"match": {"numbers": [number]}, "target": {"type": "agent", "agent": agent}}
        await session.execute(update(Route).where(Route.id == route_id).values(spec=spec))
        await session.commit()


def _ours(livekit: LiveKitStandIn) -> int:
    with livekit.world.lock:
        rules = list(livekit.world.dispatch_rules.values())
    return sum(1 for r in rules if (mark := mark_of(r)) is not None and mark.object_id != BRIDGE_KEY)


async def sync_phase(url: str, work: Path, routes: int) -> dict[str, Any]:
    async with LiveKitStandIn() as livekit:
        settings = _settings(url, work, livekit)
        database, project_id = await _prepare(settings)
        clients = LiveKitClients(settings)
        reconciler = Reconciler(database, clients)
        try:
            route_ids = await _seed_routes(database, project_id, routes)
            started = time.perf_counter()
            first = await reconciler.sync(project_id)
            first_s = time.perf_counter() - started
            assert first.status == "ok", first.errors
            await _move_route(database, route_ids[0], "+12120000000", "support")  # the support rule appears
            await reconciler.sync(project_id, full=False)
            before = len(livekit.requests)
            await _move_route(database, route_ids[1], "+12120000001", "support")
            started = time.perf_counter()
            changed = await reconciler.sync(project_id, full=False)
            change_s = time.perf_counter() - started
            assert changed.status == "ok", changed.errors
            change_calls = livekit.request_counts(before)
            before = len(livekit.requests)
            started = time.perf_counter()
            drift = await reconciler.sync(project_id)
            drift_s = time.perf_counter() - started
            assert drift.in_sync, drift.operations
            return {
                "routes": routes,
                "livekit_calls_one_change": sum(change_calls.values()),
                "livekit_calls_one_change_by_method": {k.split("/")[1]: v for k, v in change_calls.items()},
                "change_sync_s": round(change_s, 3),
                "dispatch_rules": _ours(livekit),
                "first_full_sync_s": round(first_s, 3),
                "drift_check_livekit_calls": sum(livekit.request_counts(before).values()),
                "drift_check_s": round(drift_s, 3),
                "peak_rss_mb": _peak_mb(),
            }
        finally:
            await clients.aclose()
            await database.dispose()


# --- phase: the calls list ----------------------------------------------------------------------------------


def _call_rows(project_id: str, start: int, count: int, newest: datetime) -> list[dict[str, Any]]:
    rng = random.Random(start)
    rows = []
    for n in range(start, start + count):
        created = newest - timedelta(seconds=(1_000_000 - n) * 7)  # ~81 days of calls, 7 s apart
        millis = int(created.timestamp() * 1000)
        inbound = rng.random() < 0.7
        status = rng.choice(STATUSES)
        rows.append(
            {
                "id": f"call_{ulid(millis, rng.getrandbits(80))}",
                "project_id": project_id,
                "direction": "inbound" if inbound else "outbound",
                "carrier": "livekit",
                "carrier_call_id": f"SCL_{n}",
                "from_e164": rng.choice(NUMBERS) if inbound else NUMBERS[n % 10],
                "to_e164": NUMBERS[n % 10] if inbound else rng.choice(NUMBERS),
                "status": status,
                "created_at": created,
                "updated_at": created,
                "ended_at": created + timedelta(seconds=60),
                "duration_s": 60 if status == "completed" else None,
                "last_sequence": 1,
                "meta": {},
            }
        )
    return rows


async def _seed_calls(database: Database, project_id: str, count: int, newest: datetime) -> list[str]:
    """Bulk Core inserts, the secondary indexes built once afterwards (as a bulk load would do)."""
    indexes = [*Call.__table__.indexes, *CallEvent.__table__.indexes]
    async with database.engine.begin() as connection:
        for index in indexes:
            await connection.run_sync(index.drop)
    sample: list[str] = []
    for start in range(0, count, SEED_CHUNK):
        rows = _call_rows(project_id, start, min(SEED_CHUNK, count - start), newest)
        events = [
            {
                "call_id": r["id"],
                "seq": seq,
                "at": r["created_at"],
                "kind": kind,
                "source": "livekit",
                "data": {},
            }
            for r in rows
            for seq, kind in enumerate(("status.ringing", f"status.{r['status']}"))
        ]
        async with database.session() as session:
            await session.execute(insert(Call.__table__), rows)  # Core: no ORM bookkeeping
            await session.execute(insert(CallEvent.__table__), events)
            await session.commit()
        sample += [r["id"] for r in rows[:: max(1, len(rows) // 50)]]
    async with database.engine.begin() as connection:
        for index in indexes:
            await connection.run_sync(index.create)
    return sample


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return round(ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000, 2)


def calls_phase(url: str, work: Path, calls: int) -> dict[str, Any]:
    settings = _settings(url, work)
    newest = datetime.now(UTC).replace(microsecond=0)

    async def seed() -> tuple[list[str], float]:
        database, project_id = await _prepare(settings)
        try:
            started = time.perf_counter()
            ids = await _seed_calls(database, project_id, calls, newest)
            seconds = time.perf_counter() - started
            if database.engine.dialect.name == "postgresql":
                async with database.engine.connect() as connection:
                    autocommit = await connection.execution_options(isolation_level="AUTOCOMMIT")
                    for table in ("calls", "call_events"):
                        await autocommit.exec_driver_sql(f"ANALYZE {table}")
            return ids, seconds
        finally:
            await database.dispose()

    sample, seed_s = asyncio.run(seed())
    rng = random.Random(20)
    filters: dict[str, Any] = {
        "none": lambda: {},
        "status": lambda: {"status": rng.choice(["failed", "completed", "busy"])},
        "direction": lambda: {"direction": rng.choice(["inbound", "outbound"])},
        "number": lambda: {"number": rng.choice(NUMBERS)},
        "since": lambda: {"since": (newest - timedelta(days=rng.randint(1, 60))).isoformat()},
        "until_and_status": lambda: {
            "until": (newest - timedelta(days=rng.randint(1, 60))).isoformat(),
            "status": "no-answer",
        },
    }
    app = create_app(settings, configure_logs=False)
    with TestClient(app, timeout=60) as client:
        token = app.state.first_run_key.token
        client.headers["Authorization"] = f"Bearer {token}"
        for make in filters.values():  # warm up: the first request of each shape compiles its statements
            for _ in range(3):
                client.get("/v1/calls", params={**make(), "limit": 50, "after": rng.choice(sample)})
        client.get(f"/v1/calls/{sample[0]}")
        by_filter: dict[str, list[float]] = {}
        cpu: list[float] = []
        for name, make in filters.items():
            times = by_filter.setdefault(name, [])
            for n in range(PAGE_SAMPLES // len(filters)):
                params = {**make(), "limit": 50}
                if n % 2:
                    params["after"] = rng.choice(sample)  # a page deep in the list
                started, cpu_started = time.perf_counter(), time.process_time()
                response = client.get("/v1/calls", params=params)
                times.append(time.perf_counter() - started)
                cpu.append(time.process_time() - cpu_started)
                assert response.status_code == 200, response.text
        details = []
        for _ in range(DETAIL_SAMPLES):
            call_id = rng.choice(sample)
            started = time.perf_counter()
            response = client.get(f"/v1/calls/{call_id}")
            details.append(time.perf_counter() - started)
            assert response.status_code == 200, response.text
            assert len(response.json()["events"]) == 2, response.text
    everything = [t for times in by_filter.values() for t in times]
    return {
        "calls": calls,
        "events": calls * 2,
        "seed_s": round(seed_s, 1),
        "list_page_p50_ms": _p(everything, 0.5),
        "list_page_p99_ms": _p(everything, 0.99),
        "list_page_p99_ms_by_filter": {name: _p(times, 0.99) for name, times in by_filter.items()},
        "list_page_cpu_p99_ms": _p(cpu, 0.99),
        "load_average_1m": round(os.getloadavg()[0], 2),
        "get_call_p50_ms": _p(details, 0.5),
        "get_call_p99_ms": _p(details, 0.99),
        "peak_rss_mb": _peak_mb(),
    }


# --- driver -------------------------------------------------------------------------------------------------


def _phase(phase: str, url: str, work: Path, size: int) -> dict[str, Any]:
    """Run one phase in a fresh process (its own peak memory); its last line is its JSON."""
    command = [
        sys.executable,
        __file__,
        "--phase",
        phase,
        "--url",
        url,
        "--work",
        str(work),
        "--size",
        str(size),
    ]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if done.returncode:
        raise RuntimeError(f"phase {phase} failed:\n{done.stderr[-4000:]}")
    result: dict[str, Any] = json.loads(done.stdout.strip().splitlines()[-1])
    return result


@contextmanager
def _databases(engine: str, base: Path) -> Iterator[Any]:
    if engine == "sqlite":
        yield lambda name: f"sqlite+aiosqlite:///{base / (name + '.db')}"
        return
    with running_cluster() as cluster:

        def make(name: str) -> str:
            database = f"{name}_{uuid.uuid4().hex[:8]}"
            cluster.psql(f"CREATE DATABASE {database}")
            return cluster.url(database)

        yield make


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--calls", type=int, default=1_000_000)
    parser.add_argument("--routes", type=int, default=10_000)
    parser.add_argument("--engines", default="sqlite,postgresql")
    parser.add_argument("--phase", choices=["sync", "calls"])
    parser.add_argument("--url")
    parser.add_argument("--work")
    parser.add_argument("--size", type=int)
    args = parser.parse_args()
    if args.phase:
        work = Path(args.work)
        if args.phase == "sync":
            print(json.dumps(asyncio.run(sync_phase(args.url, work, args.size))))
        else:
            print(json.dumps(calls_phase(args.url, work, args.size)))
        return
    results: dict[str, Any] = {}
    started = time.perf_counter()
    for engine in args.engines.split(","):
        with (
            tempfile.TemporaryDirectory(prefix="trunkline-scale-") as tmp,
            _databases(engine, Path(tmp)) as url_for,
        ):
            base = Path(tmp)
            small = _phase("sync", url_for("sync_small"), base / "small", 10)
            print(f"{engine}: sync@10 {small}", flush=True)
            large = _phase("sync", url_for("sync_large"), base / "large", args.routes)
            print(f"{engine}: sync@{args.routes} {large}", flush=True)
            calls = _phase("calls", url_for("calls"), base / "calls", args.calls)
            print(f"{engine}: calls {calls}", flush=True)
            results[engine] = {
                "livekit_calls_one_change_at_10_routes": small["livekit_calls_one_change"],
                f"livekit_calls_one_change_at_{args.routes}_routes": large["livekit_calls_one_change"],
                f"dispatch_rules_for_{args.routes}_routes": large["dispatch_rules"],
                "sync": {"10": small, str(args.routes): large},
                "calls": calls,
            }
    results["run_s"] = round(time.perf_counter() - started, 1)
    print(json.dumps(results))


if __name__ == "__main__":
    main()
