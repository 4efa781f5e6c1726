"""Every project's flows: one `FlowRegistry` per project, each over its own directory of the flows root.

The layout (TRUNKLINE_FLOWS_DIR is the root):

    <root>/*.yaml                          the default project's flows (as before projects had flows)
    <root>/projects/<project id>/*.yaml    another project's flows

A project's flows see only each other: `goto`/`include` and routes reach flows of the same project. A watcher on
the root reloads the directory a change happened in, so hot reload works per project.
"""

from __future__ import annotations

import asyncio
import os
import re
import threading
from collections.abc import Iterable
from pathlib import Path

from watchfiles import awatch

from gateway.ivr.problems import FlowProblem
from gateway.ivr.registry import FLOW_SUFFIX, WATCH_DEBOUNCE_MS, FlowRegistry

__all__ = ["PROJECTS_DIR", "FlowLibrary"]

PROJECTS_DIR = "projects"
_PROJECT_ID = re.compile(r"^[A-Za-z0-9_-]{1,64}$")


class FlowLibrary:
    """The flows of every project under `root`; `default_project_id` owns the files at the top."""

    def __init__(
        self,
        root: Path,
        default_project_id: str,
        *,
        run_flow_tests: bool = False,
        allow_failing_tests: bool = False,
    ) -> None:
        """`run_flow_tests`, `allow_failing_tests`: as `FlowRegistry` takes them, for every project's flows."""
        self.root = Path(root)
        self.default_project_id = default_project_id
        self._run_flow_tests = run_flow_tests
        self._allow_failing_tests = allow_failing_tests
        self._lock = threading.RLock()
        self._registries: dict[str, FlowRegistry] = {}
        self._secret_names: dict[str, frozenset[str]] = {}

    def directory(self, project_id: str) -> Path:
        if project_id == self.default_project_id:
            return self.root
        if not _is_project_id(project_id):
            raise ValueError(f"not a project id: {project_id!r}")
        return self.root / PROJECTS_DIR / project_id

    def registry(self, project_id: str) -> FlowRegistry:
        """The project's flows (read from its directory the first time they are asked for)."""
        found = self._registries.get(project_id)
        if found is not None:
            return found
        with self._lock:
            found = self._registries.get(project_id)
            if found is None:
                found = FlowRegistry(
                    self.directory(project_id),
                    lambda: self._secret_names.get(project_id, frozenset()),
                    run_flow_tests=self._run_flow_tests,
                    allow_failing_tests=self._allow_failing_tests,
                )
                found.load_all()
                self._registries[project_id] = found
        return found

    def registries(self) -> dict[str, FlowRegistry]:
        """The projects whose flows are loaded, by project id."""
        return dict(self._registries)

    # --- secrets (names only) ---------------------------------------------------------------------------------

    def set_secret_names(self, project_id: str, names: Iterable[str]) -> None:
        """The names flows of the project may use as ``{{ secret.NAME }}`` (checked when files load; a project
        never given any has none)."""
        self._secret_names[project_id] = frozenset(names)

    # --- loading ---------------------------------------------------------------------------------------------

    def load_all(self) -> list[FlowProblem]:
        """Load the default project's flows and those of every project directory present."""
        project_ids = [self.default_project_id]
        projects = self.root / PROJECTS_DIR
        if projects.is_dir():
            project_ids += [
                p.name for p in sorted(projects.iterdir()) if p.is_dir() and _is_project_id(p.name)
            ]
        problems: list[FlowProblem] = []
        for project_id in project_ids:
            loaded = self._registries.get(project_id)
            problems.extend(loaded.load_all() if loaded is not None else self.registry(project_id).problems)
        return problems

    def reload(self, paths: Iterable[Path]) -> list[FlowProblem]:
        """Re-read changed files, each in its project's registry."""
        by_project: dict[str, list[Path]] = {}
        for path in paths:
            project_id = self._project_of_dir(path.parent)
            if project_id is not None and path.suffix == FLOW_SUFFIX:
                by_project.setdefault(project_id, []).append(path)
        problems: list[FlowProblem] = []
        for project_id, changed in by_project.items():
            problems.extend(self.registry(project_id).reload(changed))
        return problems

    def _project_of_dir(self, directory: Path) -> str | None:
        root = self.root.resolve()
        directory = directory.resolve()
        if directory == root:
            return self.default_project_id
        if directory.parent == root / PROJECTS_DIR and _is_project_id(directory.name):
            return directory.name
        return None

    async def run_watcher(self, stop_event: asyncio.Event, *, force_polling: bool | None = None) -> None:
        """Reload flows as their files change, in any project, until `stop_event` is set."""
        async for changes in awatch(
            self.root,
            watch_filter=_is_flow_file,
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_DEBOUNCE_MS,
            stop_event=stop_event,
            recursive=True,
            force_polling=force_polling,
        ):
            paths = [Path(path) for _, path in changes]
            await asyncio.to_thread(self.reload, paths)


def _is_flow_file(_: object, path: str) -> bool:
    name = os.path.basename(path)
    return name.endswith(FLOW_SUFFIX) and not name.startswith(".")


def _is_project_id(name: str) -> bool:
    return bool(_PROJECT_ID.match(name))
