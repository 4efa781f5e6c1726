"""The flow registry's life in the service: load at start, hot reload while running, report in readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from litestar import Litestar

from gateway.ivr import FlowProblem, FlowRegistry
from gateway.services import Services, services

log = logging.getLogger("trunkline.flows")


async def flows_check(running: Services) -> tuple[bool, str]:
    """Ready when every flow file has a version to serve (a broken edit of a served flow is reported, not fatal)."""
    registry = running.flow_registry()
    served = {f.id for f in registry.all()}
    unserved = sorted(
        {p.file for p in registry.problems if p.severity == "error" and Path(p.file).stem not in served}
    )
    edits = sorted(
        {p.file for p in registry.problems if p.severity == "error" and Path(p.file).stem in served}
    )
    detail = f"{len(served)} flows served"
    if edits:
        detail += f"; broken edits (last good version still serving): {', '.join(edits)}"
    if unserved:
        return False, f"{detail}; flows with errors and nothing to serve: {', '.join(unserved)}"
    return True, detail


@asynccontextmanager
async def run_flows(
    app: Litestar, flows_dir: Path, *, allow_failing_tests: bool = False
) -> AsyncIterator[FlowRegistry]:
    registry = FlowRegistry(flows_dir, run_flow_tests=True, allow_failing_tests=allow_failing_tests)
    for problem in await asyncio.to_thread(_load, registry):
        log.warning("flow problem: %s", problem)
    running = services(app.state)
    running.flows = registry
    running.readiness_checks.append(flows_check)
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(registry, stop), name="flow-watcher")
    try:
        yield registry
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(watcher, timeout=5)


def _load(registry: FlowRegistry) -> list[FlowProblem]:
    registry.flows_dir.mkdir(parents=True, exist_ok=True)
    return registry.load_all()


async def _watch(registry: FlowRegistry, stop: asyncio.Event) -> None:
    try:
        await registry.run_watcher(stop)
    except Exception:
        log.exception("the flow watcher stopped; flows are no longer reloaded on change")
