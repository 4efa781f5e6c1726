"""`trunkline flows ...`: lint, test, simulate and graph IVR flows; regenerate the editors' schema.

`main(argv) -> int` is the whole interface (the gateway's CLI delegates to it). The flows directory is
``--flows-dir``, else ``$TRUNKLINE_FLOWS_DIR``, else ``./ivr_flows``.
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

import httpx

from gateway.ivr.actions import HttpRequest
from gateway.ivr.driver import fetch_with_httpx_sync
from gateway.ivr.events import HttpResult
from gateway.ivr.flowtests import canned_fetch, canned_replies, run_tests
from gateway.ivr.graph import to_dot, to_mermaid
from gateway.ivr.library import PROJECTS_DIR
from gateway.ivr.loader import display_path
from gateway.ivr.problems import FlowProblem
from gateway.ivr.registry import FLOW_SUFFIX, FlowRegistry
from gateway.ivr.schema import TESTS_DIR, schema_files
from gateway.ivr.secrets import secret_names as secret_names_in
from gateway.ivr.simulate import simulate
from gateway.ivr.state import IvrContext
from routing.numbers import example_e164

__all__ = ["default_flows_dir", "main"]


def default_flows_dir() -> Path:
    return Path(os.environ.get("TRUNKLINE_FLOWS_DIR") or "ivr_flows")


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="trunkline flows", description="Work with IVR flow files.")
    parser.add_argument(
        "--flows-dir", type=Path, help="flows directory (default $TRUNKLINE_FLOWS_DIR or ./ivr_flows)"
    )
    commands = parser.add_subparsers(dest="command", required=True)
    lint = commands.add_parser("lint", help="check flow files; prints file:line:col: error: message (hint)")
    lint.add_argument(
        "paths",
        nargs="*",
        type=Path,
        help="flow files or directories (default: the flows dir and each project's, <flows dir>/projects/*)",
    )
    lint.add_argument("--strict", action="store_true", help="warnings fail too")
    lint.add_argument(
        "--secrets",
        type=lambda text: frozenset(name.strip() for name in text.split(",") if name.strip()),
        help="comma-separated names of the flow secrets the project has: any other {{ secret.NAME }} is an error "
        "(default: read from the database the gateway uses, when it can be reached)",
    )
    test = commands.add_parser("test", help="run flow tests (default: <flows dir>/tests)")
    test.add_argument("paths", nargs="*", type=Path, help="test files or directories")
    test.add_argument("-v", "--verbose", action="store_true", help="also list passing tests and transcripts")
    sim = commands.add_parser("simulate", help="talk to a flow in the terminal")
    sim.add_argument("flow", help="flow id (file name without .yaml)")
    sim.add_argument(
        "--region",
        type=str.upper,
        help="region of the default numbers (default: the default project's default_region, else US)",
    )
    sim.add_argument("--caller", help="caller's number, E.164 (default: an example mobile of the region)")
    sim.add_argument("--called", help="number called, E.164 (default: an example number of the region)")
    sim.add_argument(
        "--at", type=datetime.fromisoformat, help="time of the call, ISO 8601 with zone (default now)"
    )
    lookups = sim.add_mutually_exclusive_group()
    lookups.add_argument(
        "--offline", action="store_true", help="make every HTTP lookup fail instead of calling it"
    )
    lookups.add_argument(
        "--canned",
        action="store_true",
        help="answer HTTP lookups with the canned replies of the flow's tests (<flows dir>/tests)",
    )
    graph = commands.add_parser("graph", help="print a flow as a Mermaid or Graphviz graph")
    graph.add_argument("flow", help="flow id")
    graph.add_argument("--format", choices=("mermaid", "dot"), default="mermaid")
    schema = commands.add_parser("schema", help="write schema.json files for editors")
    schema.add_argument("--check", action="store_true", help="only check they are up to date")
    return parser


def main(
    argv: Sequence[str] | None = None,
    *,
    stdin: TextIO | None = None,
    stdout: TextIO | None = None,
    default_region: Callable[[], str | None] | None = None,
    secret_names: Callable[[Path], frozenset[str] | None] | None = None,
) -> int:
    """Run a `trunkline flows` command. `default_region()` gives the region `simulate` assumes when none is given
    (the gateway's CLI reads the default project's); without it, or when it gives None, US. `secret_names(dir)`
    gives the flow secret names of the project a flows directory belongs to (None: unknown, not checked)."""
    args = _parser().parse_args(list(argv) if argv is not None else None)
    _quiet_library_logs()
    out = stdout or sys.stdout
    flows_dir: Path = args.flows_dir or default_flows_dir()
    if args.command == "lint":
        names = secret_names if args.secrets is None else (lambda _: args.secrets)
        return _lint(args.paths or _project_dirs(flows_dir), strict=args.strict, out=out, secret_names=names)
    if args.command == "test":
        return _test(flows_dir, args.paths or [flows_dir / TESTS_DIR], verbose=args.verbose, out=out)
    if args.command == "simulate":
        return _simulate(flows_dir, args, stdin or sys.stdin, out, default_region)
    if args.command == "graph":
        return _graph(flows_dir, args.flow, args.format, out)
    return _schema(flows_dir, check=args.check, out=out)


def _quiet_library_logs() -> None:
    """The commands print every problem themselves: without logging set up, Python's last-resort handler would
    add the registry's log lines ("ivr flow has errors") to the report."""
    logger = logging.getLogger("gateway")
    if not any(isinstance(handler, logging.NullHandler) for handler in logger.handlers):
        logger.addHandler(logging.NullHandler())


def _print_problems(problems: Sequence[FlowProblem], out: TextIO) -> tuple[int, int]:
    for problem in problems:
        print(problem, file=out)
    errors = sum(problem.severity == "error" for problem in problems)
    return errors, len(problems) - errors


def _lint(
    paths: Sequence[Path],
    *,
    strict: bool,
    out: TextIO,
    secret_names: Callable[[Path], frozenset[str] | None] | None = None,
) -> int:
    problems: list[FlowProblem] = []
    count = 0
    registries: dict[Path, FlowRegistry] = {}
    for path in paths:
        directory = path if path.is_dir() else path.parent
        if not path.exists():
            problems.append(FlowProblem(display_path(path), 1, 1, None, "no such file or directory"))
            continue
        registry = registries.get(directory.resolve())
        if registry is None:
            registry = registries[directory.resolve()] = FlowRegistry(
                directory, _constant(secret_names(directory) if secret_names is not None else None)
            )
            registry.load_all()
        wanted = (
            {display_path(p) for p in directory.glob(f"*{FLOW_SUFFIX}")}
            if path.is_dir()
            else {display_path(path)}
        )
        count += len(wanted)
        problems.extend(problem for problem in registry.problems if problem.file in wanted)
    errors, warnings = _print_problems(problems, out)
    print(f"{count} flow file(s): {errors} error(s), {warnings} warning(s)", file=out)
    return 1 if errors or (strict and warnings) else 0


def _constant(names: frozenset[str] | None) -> Callable[[], frozenset[str] | None]:
    return lambda: names


def _project_dirs(flows_dir: Path) -> list[Path]:
    """The flows directory and every project's directory in it (`gateway.ivr.library` describes the layout)."""
    projects = flows_dir / PROJECTS_DIR
    return [flows_dir, *(sorted(p for p in projects.iterdir() if p.is_dir()) if projects.is_dir() else [])]


def _load(flows_dir: Path, out: TextIO) -> FlowRegistry:
    registry = FlowRegistry(flows_dir)
    registry.load_all()
    return registry


def _test(flows_dir: Path, paths: Sequence[Path], *, verbose: bool, out: TextIO) -> int:
    registry = _load(flows_dir, out)
    results, problems = run_tests(paths, registry)
    broken = [problem for problem in registry.problems if problem.severity == "error"]
    errors, _ = _print_problems([*broken, *problems], out)
    for result in results:
        if verbose or not result.passed:
            print(result, file=out)
        if verbose and not result.passed:
            for text in result.transcript:
                print(f"    heard: {text}", file=out)
    failed = sum(not result.passed for result in results)
    print(f"{len(results)} flow test(s): {len(results) - failed} passed, {failed} failed", file=out)
    return 1 if failed or errors or not results else 0


def _require(registry: FlowRegistry, flow_id: str, out: TextIO) -> bool:
    if registry.get(flow_id) is not None:
        return True
    mine = [problem for problem in registry.problems if Path(problem.file).stem == flow_id]
    _print_problems(mine, out)
    known = ", ".join(flow.id for flow in registry.all()) or "none"
    print(f"flow '{flow_id}' is not loaded (flows loaded: {known})", file=out)
    return False


def _simulate(
    flows_dir: Path,
    args: argparse.Namespace,
    stdin: TextIO,
    out: TextIO,
    default_region: Callable[[], str | None] | None,
) -> int:
    registry = _load(flows_dir, out)
    if not _require(registry, args.flow, out):
        return 1
    loaded = registry.get(args.flow)
    assert loaded is not None
    now = args.at or datetime.now(UTC)
    if now.tzinfo is None:
        print("--at needs a time zone, e.g. 2025-03-04T10:00:00+00:00", file=out)
        return 2
    needs_region = args.caller is None or args.called is None
    region = args.region or (default_region() if default_region and needs_region else None) or "US"
    caller = args.caller or example_e164(region, mobile=True)
    called = args.called or example_e164(region)
    if caller is None or called is None:
        print(f"no example numbers for region {region!r}: pass --caller and --called in E.164", file=out)
        return 2
    ctx = IvrContext(caller=caller, called=called, call_id="CA" + "5" * 32, now=now)
    if args.canned:
        replies = canned_replies([flows_dir / TESTS_DIR], args.flow)
        print(f"HTTP lookups answered from {len(replies)} canned reply(ies) of the flow's tests", file=out)
        return simulate(loaded, ctx, registry, canned_fetch(replies), read=_reader(stdin, out), out=out)

    read = _reader(stdin, out)
    with httpx.Client() as client:

        def fetch(request: HttpRequest) -> HttpResult:
            if args.offline:
                return HttpResult(error="offline")
            if secret_names_in(request):
                return HttpResult(
                    error="flow secrets are only sent by the gateway (use --canned or --offline)"
                )
            return fetch_with_httpx_sync(client, request)

        return simulate(loaded, ctx, registry, fetch, read=read, out=out)


def _reader(stdin: TextIO, out: TextIO) -> Callable[[str], str | None]:
    def read(prompt: str) -> str | None:
        out.write(prompt)
        out.flush()
        line = stdin.readline()
        return line.rstrip("\n") if line else None

    return read


def _graph(flows_dir: Path, flow_id: str, fmt: str, out: TextIO) -> int:
    registry = _load(flows_dir, out)
    if not _require(registry, flow_id, out):
        return 1
    graph = registry.graph(flow_id)
    out.write(to_dot(graph) if fmt == "dot" else to_mermaid(graph))
    return 0


def _schema(flows_dir: Path, *, check: bool, out: TextIO) -> int:
    stale = 0
    for path, text in schema_files(flows_dir).items():
        current = path.read_text() if path.exists() else None
        if current == text:
            continue
        if check:
            print(f"{display_path(path)} is out of date (run `trunkline flows schema`)", file=out)
            stale += 1
        else:
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text(text)
            print(f"wrote {display_path(path)}", file=out)
    return 1 if stale else 0


if __name__ == "__main__":
    raise SystemExit(main())
