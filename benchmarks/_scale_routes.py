"""Control plane at carrier scale (issue 20, part A): route saves and bulk imports with 10,000 routes and 100,000
numbers in one project, on SQLite and on PostgreSQL, through `trunkline serve` (LiveKit not configured).

For each database: route save latency (PATCH /v1/routes/{id}, one client, sequential, so the table keeps its
size) with 10 routes and again with 10,000, and route creation (POST /v1/routes) at 10,000; the ratio of the two
medians; numbers per second through `POST /v1/numbers/import` (CSV) and routes per second through
`POST /v1/routes/import` (JSON); the server's peak RSS. The API figures include what each commit sets off in
the server, notably the LiveKit sync, which reads the whole table after every change even when LiveKit is not
configured (issue 20 part B); `check_save_*` times the save path itself (load, check against the neighbours,
write, audit, commit) in-process on the same database, with 10 routes (a second project) and 10,000.
Last line: one JSON object.

    .venv/bin/python benchmarks/_scale_routes.py [--numbers 100000] [--routes 10000] [--saves 200] [--api-saves 30]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PYTHON, SERVER_CORE, pinned, process, wait_ready
from tests.support.live_server import free_port
from tests.support.postgres import running_cluster

SMALL_TABLE = 10


def peak_rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    raise RuntimeError("no VmHWM")


def _env(url: str, work: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": url,
        "TRUNKLINE_PORT": str(port),
        "TRUNKLINE_LOG_LEVEL": "WARNING",
        "TRUNKLINE_FLOWS_DIR": str(work / "flows"),
        "TRUNKLINE_SECRET_KEY_FILE": str(work / "secret.key"),
        "TRUNKLINE_AUDIT_KEY_FILE": str(work / "audit.key"),
        "TRUNKLINE_AUDIT_CHECKPOINTS": str(work / "checkpoints.jsonl"),
        "TRUNKLINE_RATE_LIMIT_PER_KEY": "0",
    }


def _create_key(env: dict[str, str]) -> str:
    done = subprocess.run(
        [PYTHON, "-m", "gateway", "keys", "create", "--project", "default", "--role", "admin"],
        env={**os.environ, **env},
        capture_output=True,
        text=True,
        check=True,
    )
    return done.stdout.strip().splitlines()[-1]


def _number(i: int) -> str:
    return f"+1212{2000000 + i:07d}"


def _route(i: int, name: str) -> dict[str, object]:
    return {"name": name, "target": {"type": "voicemail"}, "match": {"numbers": [_number(i)]}}


def _import_routes(client: httpx.Client, start: int, count: int) -> float:
    body = json.dumps([_route(start + i, f"r{start + i}") for i in range(count)])
    began = time.perf_counter()
    answer = client.post("/v1/routes/import", content=body, headers={"Content-Type": "application/json"})
    elapsed = time.perf_counter() - began
    assert answer.status_code == 200, answer.text[:500]
    return elapsed


def _ids(client: httpx.Client) -> list[str]:
    return [route["id"] for route in client.get("/v1/routes/export", params={"format": "json"}).json()]


def _updates(client: httpx.Client, ids: list[str], count: int, offset: int) -> list[float]:
    """Save `count` changes to stored routes (the table keeps its size), one at a time; each route moves to a
    number another stored route may already match."""
    times = []
    for i in range(count):
        route_id = ids[(i * 7919) % len(ids)]
        body = {"name": f"save{offset + i}", "match": {"numbers": [_number((offset + i * 31) % 100_000)]}}
        began = time.perf_counter()
        answer = client.patch(f"/v1/routes/{route_id}", json=body)
        times.append(time.perf_counter() - began)
        assert answer.status_code == 200, answer.text[:500]
    return times


def _creates(client: httpx.Client, count: int, offset: int) -> list[float]:
    times = []
    for i in range(count):
        began = time.perf_counter()
        answer = client.post("/v1/routes", json=_route(offset + i, f"new{offset + i}"))
        times.append(time.perf_counter() - began)
        assert answer.status_code == 201, answer.text[:500]
    return times


def _numbers_csv(count: int) -> Iterator[bytes]:
    yield b"number,label\n"
    for start in range(0, count, 10_000):
        yield "".join(f"{_number(i)},line {i}\n" for i in range(start, min(count, start + 10_000))).encode()


def _p(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))] * 1000


async def _saves_in_process(
    env: dict[str, str], slugs: tuple[str, ...], count: int
) -> dict[str, list[float]]:
    """The save path without HTTP and without what a commit sets off in the server (the LiveKit sync reads the
    whole table after each change: issue 20 part B): load the route, check it against its neighbours (errors,
    shadowing, deployment warnings), write it and its audit record, commit. The projects take turns, save by
    save, so they share the machine's conditions."""
    from sqlalchemy import select

    from gateway import audit
    from gateway.admin.route_warnings import deployment_warnings
    from gateway.db.database import Database
    from gateway.db.models import Project
    from gateway.db.models import Route as RouteRow
    from gateway.routing_table import agent_names, input_of, to_route
    from gateway.settings import load_settings
    from gateway.stored_routes import stored_routes
    from routing.validate import check_route, shadowed_by

    settings = load_settings(env=env, dotenv=None)
    database = Database.for_settings(settings)
    times: dict[str, list[float]] = {slug: [] for slug in slugs}
    routes: dict[str, tuple[str, list[str]]] = {}
    try:
        async with database.session() as db:
            for slug in slugs:
                project_id = await db.scalar(select(Project.id).where(Project.slug == slug))
                assert project_id is not None
                ids = list(await db.scalars(select(RouteRow.id).where(RouteRow.project_id == project_id)))
                routes[slug] = (project_id, ids)
        for i in range(count + 10):
            for slug in slugs:
                project_id, ids = routes[slug]
                async with database.session() as db:
                    began = time.perf_counter()
                    row = await db.get(RouteRow, ids[(i * 7919) % len(ids)])
                    project = await db.get(Project, project_id)
                    assert row is not None
                    assert project is not None
                    before = input_of(row)
                    row.spec = {**row.spec, "match": {"numbers": [_number((i * 31) % 100_000)]}}
                    table = await stored_routes(db).for_save(db, project.id)
                    route = to_route(row)
                    problems = check_route(route, table, (), await agent_names(db, project.id))
                    assert not [p for p in problems if p.severity == "error"]
                    shadowed_by(route, table)
                    await deployment_warnings(db, project, settings, route)
                    await db.flush()
                    await audit.append(
                        db,
                        project_id=project.id,
                        actor=audit.Actor("bench"),
                        action="route.update",
                        object_type="route",
                        object_id=row.id,
                        before=before,
                        after=input_of(row),
                    )
                    await db.commit()
                    if i >= 10:  # the first saves read the table into memory
                        times[slug].append(time.perf_counter() - began)
    finally:
        await database.dispose()
    return times


def measure(url: str, work: Path, numbers: int, routes: int, saves: int, api_saves: int) -> dict[str, float]:
    (work / "flows").mkdir(exist_ok=True)
    port = free_port()
    env = _env(url, work, port)
    with process([*pinned(SERVER_CORE), PYTHON, "-m", "gateway", "serve"], env) as server:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/health/ready", timeout=60)
        token = _create_key(env)
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=600) as client:
            small_project = client.post("/v1/projects", json={"slug": "small", "name": "Ten routes"}).json()
            small_client = httpx.Client(
                base_url=base, headers={"Authorization": f"Bearer {small_project['admin_key']}"}, timeout=600
            )
            with small_client:
                _import_routes(small_client, 0, SMALL_TABLE)
            _import_routes(client, 0, SMALL_TABLE)
            ids = _ids(client)
            _updates(client, ids, 10, 0)  # warm-up
            small = _updates(client, ids, api_saves, 10)
            began = time.perf_counter()
            answer = client.post(
                "/v1/numbers/import", content=_numbers_csv(numbers), headers={"Content-Type": "text/csv"}
            )
            numbers_seconds = time.perf_counter() - began
            assert answer.status_code == 200, answer.text[:500]
            routes_seconds = _import_routes(client, SMALL_TABLE, routes - SMALL_TABLE)
            ids = _ids(client)
            assert len(ids) == routes
            _updates(client, ids, 10, 0)  # warm-up: the server reads the imported table once
            large = _updates(client, ids, api_saves, api_saves)
            creates = _creates(client, api_saves, 0)
        peak = peak_rss_mb(server.pid)
    checks = asyncio.run(_saves_in_process(env, ("small", "default"), saves))
    checks_small, checks_large = checks["small"], checks["default"]
    return {
        "check_save_small_p50_ms": round(_p(checks_small, 0.5), 2),
        "check_save_small_p99_ms": round(_p(checks_small, 0.99), 2),
        "check_save_p50_ms": round(_p(checks_large, 0.5), 2),
        "check_save_p99_ms": round(_p(checks_large, 0.99), 2),
        "check_save_ratio_10k_to_10": round(
            statistics.median(checks_large) / statistics.median(checks_small), 2
        ),
        "api_save_small_p50_ms": round(_p(small, 0.5), 2),
        "api_save_small_p99_ms": round(_p(small, 0.99), 2),
        "api_save_p50_ms": round(_p(large, 0.5), 2),
        "api_save_p99_ms": round(_p(large, 0.99), 2),
        "api_save_ratio_10k_to_10": round(statistics.median(large) / statistics.median(small), 2),
        "api_create_p99_ms": round(_p(creates, 0.99), 2),
        "numbers_per_s": round(numbers / numbers_seconds),
        "routes_imported_per_s": round((routes - SMALL_TABLE) / routes_seconds),
        "peak_rss_mb": round(peak, 1),
    }


@contextmanager
def databases(work: Path) -> Iterator[dict[str, str]]:
    with running_cluster() as cluster:
        cluster.psql("CREATE DATABASE bench")
        yield {
            "sqlite": f"sqlite+aiosqlite:///{work / 'sqlite' / 'bench.db'}",
            "postgresql": cluster.url("bench"),
        }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--numbers", type=int, default=100_000)
    parser.add_argument("--routes", type=int, default=10_000)
    parser.add_argument("--saves", type=int, default=200, help="saves timed in-process per table size")
    parser.add_argument(
        "--api-saves", type=int, default=30, help="saves timed through the API per table size"
    )
    args = parser.parse_args()
    figures: dict[str, object] = {"routes": args.routes, "numbers": args.numbers}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="trunkline-scale-") as tmp, databases(Path(tmp)) as urls:
        for engine, url in urls.items():
            work = Path(tmp) / engine
            work.mkdir(exist_ok=True)
            results = measure(url, work, args.numbers, args.routes, args.saves, args.api_saves)
            for key, value in results.items():
                print(f"{engine:10} {key:26} {value}")
                figures[f"{engine}_{key}"] = value
    figures["seconds"] = round(time.perf_counter() - started, 1)
    figures["targets_met"] = all(
        figures[f"{engine}_check_save_p99_ms"] < 50  # type: ignore[operator]
        and figures[f"{engine}_api_save_p99_ms"] < 50  # type: ignore[operator]  # what an operator sees
        and figures[f"{engine}_check_save_ratio_10k_to_10"] < 3  # type: ignore[operator]
        and figures[f"{engine}_numbers_per_s"] >= 5000  # type: ignore[operator]
        for engine in ("sqlite", "postgresql")
    )
    print(json.dumps({"benchmark": "scale_routes", **figures}))


if __name__ == "__main__":
    main()
