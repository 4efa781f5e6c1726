"""The flows being served: loaded from a directory, validated together, reloaded when files change.

A file that fails validation never replaces the version being served: the last good version stays, and
the file's problems are reported (`problems`) until it is fixed. With `run_flow_tests` (the service) a new version
must also pass the flow's own tests (`reload_tests`). Each served version is identified by the
short sha256 of its bytes.
"""

from __future__ import annotations

import asyncio
import logging
import os
import tempfile
import threading
from collections.abc import Callable, Iterable
from pathlib import Path

from watchfiles import awatch

from gateway.errors import Conflict, InvalidInput, NotFound
from gateway.ivr.flow import LoadedFlow
from gateway.ivr.graph import FlowGraph, build_graph
from gateway.ivr.loader import FLOW_ID, ParsedFlow, cross_check, parse_flow, to_loaded
from gateway.ivr.problems import FlowInvalid, FlowProblem, errors_in
from gateway.ivr.reload_tests import failing_tests

__all__ = ["FLOW_SUFFIX", "FlowInUse", "FlowRegistry"]

FLOW_SUFFIX = ".yaml"
WATCH_DEBOUNCE_MS = 50
_log = logging.getLogger("gateway.ivr.registry")


class FlowInUse(Conflict):
    """A flow other flows still link to (`goto`/`include`) cannot be deleted."""


class FlowRegistry:
    """Flows of one directory (``<flow id>.yaml``), validated together. Safe to read from any thread."""

    def __init__(
        self,
        flows_dir: Path,
        secrets: Callable[[], frozenset[str] | None] | None = None,
        *,
        run_flow_tests: bool = False,
        allow_failing_tests: bool = False,
    ) -> None:
        """`secrets`: the names of the flow secrets these flows may use (None or returning None: not checked)."""
        self.flows_dir = Path(flows_dir)
        self._secrets = secrets
        self.run_flow_tests = run_flow_tests
        """A new version goes live only when the flow's tests pass (else: reported like a lint error)."""
        self.allow_failing_tests = allow_failing_tests
        """Failing tests are warnings: the new version goes live anyway."""
        self._lock = threading.RLock()
        self._parsed: dict[str, ParsedFlow] = {}
        self._flows: dict[str, LoadedFlow] = {}
        self._problems: dict[str, list[FlowProblem]] = {}

    # --- reading -----------------------------------------------------------------------------------------

    def get(self, flow_id: str, /) -> LoadedFlow | None:
        return self._flows.get(flow_id)

    def all(self) -> list[LoadedFlow]:
        flows = self._flows
        return [flows[flow_id] for flow_id in sorted(flows)]

    @property
    def problems(self) -> list[FlowProblem]:
        """Current problems of every file, including broken edits shadowed by a last good version."""
        snapshot = self._problems
        return [problem for flow_id in sorted(snapshot) for problem in snapshot[flow_id]]

    def problems_for(self, flow_id: str) -> list[FlowProblem]:
        return list(self._problems.get(flow_id, []))

    def graph(self, flow_id: str) -> FlowGraph:
        loaded = self.get(flow_id)
        if loaded is None:
            raise NotFound(f"no flow '{flow_id}' is loaded", field="flow_id")
        return build_graph(loaded)

    # --- loading -----------------------------------------------------------------------------------------

    def load_all(self) -> list[FlowProblem]:
        """(Re)read every flow file; returns the problems found (also kept in `problems`)."""
        paths = sorted(self.flows_dir.glob(f"*{FLOW_SUFFIX}")) if self.flows_dir.is_dir() else []
        with self._lock:
            parsed = {}
            for path in paths:
                item = self._read(path)
                if item is not None:
                    parsed[item.flow_id] = item
            self._apply(parsed)
        return self.problems

    def reload(self, paths: Iterable[Path]) -> list[FlowProblem]:
        """Re-read the given files (changed, added or deleted) and revalidate the set."""
        with self._lock:
            parsed = dict(self._parsed)
            for path in paths:
                if path.suffix != FLOW_SUFFIX or path.parent.resolve() != self.flows_dir.resolve():
                    continue
                item = self._read(path)
                if item is None:
                    parsed.pop(path.stem, None)
                elif item.flow_id not in parsed or parsed[item.flow_id].version != item.version:
                    parsed[item.flow_id] = item
            self._apply(parsed)
        return self.problems

    def _read(self, path: Path) -> ParsedFlow | None:
        try:
            data = path.read_bytes()
        except FileNotFoundError:
            return None
        return parse_flow(
            data, flow_id=path.stem, path=path, base_dir=self.flows_dir, secrets=self.secret_names()
        )

    def secret_names(self) -> frozenset[str] | None:
        return self._secrets() if self._secrets is not None else None

    def _apply(self, parsed: dict[str, ParsedFlow]) -> None:
        cross = cross_check(parsed, self._flows)
        flows: dict[str, LoadedFlow] = {}
        problems: dict[str, list[FlowProblem]] = {}
        for flow_id, item in parsed.items():
            found = item.problems + cross.get(flow_id, [])
            current = self._flows.get(flow_id)
            if item.flow is not None and not errors_in(found):
                flows[flow_id] = (
                    current if current is not None and current.version == item.version else to_loaded(item)
                )
                if current is None or current.version != item.version:
                    _log.info("ivr flow loaded", extra={"flow": flow_id, "version": item.version})
            elif current is not None:
                flows[flow_id] = current
                if current.version != item.version:
                    found = [*found, _shadowed(item, current)]
            if errors_in(found):
                _log.warning(
                    "ivr flow has errors",
                    extra={
                        "flow": flow_id,
                        "errors": len(errors_in(found)),
                        "first": str(errors_in(found)[0]),
                    },
                )
            if found:
                problems[flow_id] = found
        if self.run_flow_tests:
            self._hold_back_failing(parsed, flows, problems)
        self._parsed, self._flows, self._problems = parsed, flows, problems

    def _hold_back_failing(
        self,
        parsed: dict[str, ParsedFlow],
        flows: dict[str, LoadedFlow],
        problems: dict[str, list[FlowProblem]],
    ) -> None:
        """New versions whose own tests fail are not served (the last good version is), unless allowed."""
        for flow_id, loaded in sorted(flows.items()):
            current = self._flows.get(flow_id)
            if current is not None and current.version == loaded.version:
                continue
            failing = self._failing_tests(parsed[flow_id], flows)
            if not failing:
                continue
            found = [*problems.get(flow_id, []), *failing]
            if errors_in(failing):
                _log.warning("ivr flow tests fail", extra={"flow": flow_id, "first": str(failing[0])})
                if current is not None:
                    flows[flow_id] = current
                    found.append(_shadowed(parsed[flow_id], current))
                else:
                    del flows[flow_id]
            problems[flow_id] = found

    def _failing_tests(self, item: ParsedFlow, flows: dict[str, LoadedFlow]) -> list[FlowProblem]:
        return failing_tests(self.flows_dir, item.flow_id, item.file, flows, allowed=self.allow_failing_tests)

    # --- writing -----------------------------------------------------------------------------------------

    def write(self, flow_id: str, text: str) -> LoadedFlow:
        """Validate `text` as flow `flow_id` with the other flows, then save it atomically and serve it.

        Raises `FlowInvalid` (carrying the problems) and leaves the file untouched when it has errors.
        """
        self._check_id(flow_id)
        data = text.encode("utf-8")
        path = self.flows_dir / f"{flow_id}{FLOW_SUFFIX}"
        with self._lock:
            item = parse_flow(
                data, flow_id=flow_id, path=path, base_dir=self.flows_dir, secrets=self.secret_names()
            )
            parsed = {**self._parsed, flow_id: item}
            found = item.problems + cross_check(parsed, self._flows).get(flow_id, [])
            if item.flow is None or errors_in(found):
                raise FlowInvalid(flow_id, found)
            if self.run_flow_tests:
                failing = self._failing_tests(item, {**self._flows, flow_id: to_loaded(item)})
                if errors_in(failing):
                    raise FlowInvalid(flow_id, [*found, *failing])
            _atomic_write(path, data)
            self._apply(parsed)
            loaded = self._flows[flow_id]
        return loaded

    def delete(self, flow_id: str) -> None:
        """Remove a flow's file. Refused (`FlowInUse`) while another flow links to it."""
        self._check_id(flow_id)
        with self._lock:
            if flow_id not in self._parsed:
                raise NotFound(f"no flow '{flow_id}'", field="flow_id")
            users = sorted(
                other
                for other, item in self._parsed.items()
                if other != flow_id
                and item.flow is not None
                and any(link.flow == flow_id for step_links in item.links.values() for link in step_links)
            )
            if users:
                raise FlowInUse(f"flow '{flow_id}' is used by: {', '.join(users)}", field="flow_id")
            (self.flows_dir / f"{flow_id}{FLOW_SUFFIX}").unlink(missing_ok=True)
            self._apply({other: item for other, item in self._parsed.items() if other != flow_id})

    @staticmethod
    def _check_id(flow_id: str) -> None:
        if not FLOW_ID.match(flow_id):
            raise InvalidInput(
                f"'{flow_id}' is not a valid flow id: use letters, digits, _ and - (at most 64)",
                field="flow_id",
            )

    # --- watching ----------------------------------------------------------------------------------------

    async def run_watcher(self, stop_event: asyncio.Event, *, force_polling: bool | None = None) -> None:
        """Reload flows as their files change, until `stop_event` is set (run it in the app's lifespan)."""
        async for changes in awatch(
            self.flows_dir,
            watch_filter=_is_flow_file,
            debounce=WATCH_DEBOUNCE_MS,
            step=WATCH_DEBOUNCE_MS,
            stop_event=stop_event,
            recursive=False,
            force_polling=force_polling,
        ):
            self.reload(Path(path) for _, path in changes)


def _is_flow_file(_: object, path: str) -> bool:
    name = os.path.basename(path)
    return name.endswith(FLOW_SUFFIX) and not name.startswith(".")


def _shadowed(item: ParsedFlow, current: LoadedFlow) -> FlowProblem:
    return FlowProblem(
        item.file,
        1,
        1,
        None,
        f"this version ({item.version}) is not served: calls still get version {current.version}",
        "fix the errors above and save again",
        "warning",
    )


def _atomic_write(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    handle, temporary = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(handle, "wb") as file:
            file.write(data)
            file.flush()
            os.fsync(file.fileno())
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise
