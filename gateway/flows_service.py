"""The flows' life in the service: load every project's at start, hot reload while running, report in readiness."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager, suppress
from pathlib import Path

from litestar import Litestar
from sqlalchemy import select

from gateway.auth.principal import DEFAULT_PROJECT_SLUG
from gateway.db.models import Project
from gateway.flow_secrets import all_secret_names
from gateway.ivr import FlowLibrary, FlowProblem
from gateway.services import Services, services

log = logging.getLogger("trunkline.flows")


async def flows_check(running: Services) -> tuple[bool, str]:
    """Ready when every flow file has a version to serve (a broken edit of a served flow is reported, not fatal)."""
    served_count = 0
    unserved: set[str] = set()
    edits: set[str] = set()
    for registry in running.flow_library().registries().values():
        served = {f.id for f in registry.all()}
        served_count += len(served)
        for problem in registry.problems:
            if problem.severity == "error":
                (edits if Path(problem.file).stem in served else unserved).add(problem.file)
    detail = f"{served_count} flows served"
    if edits:
        detail += f"; broken edits (last good version still serving): {', '.join(sorted(edits))}"
    if unserved:
        return False, f"{detail}; flows with errors and nothing to serve: {', '.join(sorted(unserved))}"
    return True, detail


@asynccontextmanager
async def run_flows(
    app: Litestar, flows_dir: Path, *, allow_failing_tests: bool = False
) -> AsyncIterator[FlowLibrary]:
    running = services(app.state)
    async with running.database.session() as session:
        default_id = await session.scalar(select(Project.id).where(Project.slug == DEFAULT_PROJECT_SLUG))
        names = await all_secret_names(session)
        await session.commit()
    assert default_id is not None, "start_up creates the default project first"
    library = FlowLibrary(flows_dir, default_id, run_flow_tests=True, allow_failing_tests=allow_failing_tests)
    for project_id, project_names in names.items():
        library.set_secret_names(project_id, project_names)
    for problem in await asyncio.to_thread(_load, library):
        log.warning("flow problem: %s", problem)
    running.flows = library
    running.readiness_checks.append(flows_check)
    stop = asyncio.Event()
    watcher = asyncio.create_task(_watch(library, stop), name="flow-watcher")
    try:
        yield library
    finally:
        stop.set()
        with suppress(asyncio.CancelledError):
            await asyncio.wait_for(watcher, timeout=5)


def _load(library: FlowLibrary) -> list[FlowProblem]:
    library.root.mkdir(parents=True, exist_ok=True)
    return library.load_all()


async def _watch(library: FlowLibrary, stop: asyncio.Event) -> None:
    try:
        await library.run_watcher(stop)
    except Exception:
        log.exception("the flow watcher stopped; flows are no longer reloaded on change")
