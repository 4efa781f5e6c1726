"""The `trunkline` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.settings import Settings, load_settings

T = TypeVar("T")


def _with_database(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        from gateway.bootstrap import ensure_default_project
        from gateway.db.database import Database
        from gateway.db.migrate import upgrade

        database = Database(settings.async_database_url)
        try:
            await upgrade(database.engine)
            async with database.session() as session:
                await ensure_default_project(session, settings)
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())


def cmd_serve(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.server import serve

    return serve(settings, host=args.host, port=args.port)


def cmd_db_upgrade(_: argparse.Namespace, settings: Settings) -> int:
    async def work(_session: AsyncSession) -> None:
        return None

    _with_database(settings, work)
    print("database is at the newest revision")
    return 0


def cmd_keys_create(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.audit import Actor
    from gateway.auth.keys import Role
    from gateway.bootstrap import create_key

    expires = datetime.fromisoformat(args.expires) if args.expires else None
    if expires is not None and expires.tzinfo is None:
        print("--expires needs a time zone, e.g. 2030-01-01T00:00:00+00:00", file=sys.stderr)
        return 2

    async def work(session: AsyncSession) -> str:
        key = await create_key(
            session,
            project_slug=args.project,
            role=Role(args.role),
            name=args.name,
            expires_at=expires,
            actor=Actor("cli"),
        )
        return key.token

    print(_with_database(settings, work))
    return 0


def cmd_audit_verify(args: argparse.Namespace, settings: Settings) -> int:
    from sqlalchemy import select

    from gateway import audit
    from gateway.db.models import Project

    async def work(session: AsyncSession) -> list[audit.ChainReport]:
        stmt = select(Project)
        if args.project:
            stmt = stmt.where(Project.slug == args.project)
        return [await audit.verify(session, p.id) for p in (await session.scalars(stmt)).all()]

    failed = 0
    for report in _with_database(settings, work):
        state = "ok" if report.ok else f"BROKEN at seq {report.first_bad_seq}: {report.problem}"
        print(f"{report.project_id}: {report.records} records, {state}")
        failed += not report.ok
    return 1 if failed else 0


def cmd_routes_explain(args: argparse.Namespace, settings: Settings) -> int:
    import msgspec

    from gateway.db.models import Project
    from gateway.routing_table import load_table
    from routing.model import Decision, RouteQuery, target_label
    from routing.numbers import mask
    from routing.resolve import explain

    at = datetime.fromisoformat(args.at) if args.at else datetime.now().astimezone()
    if at.tzinfo is None:
        print("--at needs a time zone, e.g. 2026-03-29T00:30:00+00:00", file=sys.stderr)
        return 2
    headers = dict(item.split("=", 1) for item in args.header)

    async def work(session: AsyncSession) -> Decision | None:
        from sqlalchemy import select

        project = await session.scalar(select(Project).where(Project.slug == args.project))
        if project is None:
            return None
        call = RouteQuery(to=args.to, from_=args.caller, trunk=args.trunk, headers=headers, at=at)
        return explain(await load_table(session, project), call, unavailable=frozenset(args.unavailable))

    decision = _with_database(settings, work)
    if decision is None:
        print(f"no project with slug {args.project!r}", file=sys.stderr)
        return 2
    if args.json:
        print(msgspec.json.encode(decision).decode())
        return 0
    print(
        f"call to {mask(args.to)} from {mask(args.caller) if args.caller else 'withheld'} at {at.isoformat()}"
    )
    print(
        f"-> {target_label(decision.target)}  ({decision.reason})"
        + ("  [fallback]" if decision.used_fallback else "")
    )
    for entry in decision.trace:
        print(f"   {entry.outcome:<11} {entry.route_id}: {entry.why}")
    return 0


def cmd_flows(args: argparse.Namespace, _settings: Settings) -> int:
    from gateway.ivr.cli import main as flows_main

    code: int = flows_main(args.rest)
    return code


def cmd_transcribe(args: argparse.Namespace, _settings: Settings) -> int:
    from pathlib import Path

    import msgspec

    try:  # the voice engines load only here: `trunkline` itself must stay quick to start
        from gateway.voice.models import VoiceModelError, load_whisper
        from gateway.voice.transcript import UnreadableAudio, transcribe_file
    except ImportError as exc:
        print(f"transcribe needs the voice engines ({exc}); install trunkline[voice]", file=sys.stderr)
        return 1
    path = Path(args.file)
    if not path.is_file():
        print(f"{path}: no such file; give the path of an audio file (wav, mp3, ogg, ...)", file=sys.stderr)
        return 2
    try:
        model = load_whisper(Path(args.model_dir) if args.model_dir else None)
        for segment in transcribe_file(path, model):
            if args.json:
                print(msgspec.json.encode(segment).decode(), flush=True)
            else:
                print(f"[{segment.start:8.2f} -> {segment.end:8.2f}] {segment.text}", flush=True)
    except VoiceModelError as exc:
        print(f"cannot load the speech model: {exc.reason}", file=sys.stderr)
        return 1
    except UnreadableAudio as exc:
        print(f"{exc}; give an audio file ffmpeg can read", file=sys.stderr)
        return 2
    return 0


def _default_project_region() -> str | None:
    """The default project's default_region, read without creating or migrating anything (None if unknown)."""
    from pathlib import Path

    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db.engine import create_engine, sqlite_path
    from gateway.db.models import Project

    settings = load_settings()
    path = sqlite_path(settings.async_database_url)
    if path is not None and not Path(path).exists():
        return None

    async def read() -> str | None:
        engine = create_engine(settings.async_database_url)
        try:
            async with engine.connect() as connection:
                region: str | None = await connection.scalar(
                    select(Project.default_region).where(Project.slug == "default")
                )
                return region
        except (SQLAlchemyError, OSError):
            return None
        finally:
            await engine.dispose()

    return asyncio.run(read())


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trunkline", description="Telephony-first SIP and IVR gateway for LiveKit"
    )
    sub = parser.add_subparsers(dest="command", required=True)

    serve = sub.add_parser("serve", help="run the gateway (HTTP API, carrier and LiveKit webhooks)")
    serve.add_argument("--host", default=None, help="interface (default TRUNKLINE_HOST or 127.0.0.1)")
    serve.add_argument("--port", type=int, default=None, help="port (default TRUNKLINE_PORT or 8000)")
    serve.set_defaults(func=cmd_serve)

    db = sub.add_parser("db", help="database maintenance").add_subparsers(dest="db_command", required=True)
    db.add_parser("upgrade", help="apply migrations").set_defaults(func=cmd_db_upgrade)

    keys = sub.add_parser("keys", help="API keys").add_subparsers(dest="keys_command", required=True)
    create = keys.add_parser("create", help="create an API key and print it (shown once)")
    create.add_argument("--project", default="default", help="project slug (default: default)")
    create.add_argument("--role", choices=["admin", "operator", "viewer"], default="admin")
    create.add_argument("--name", default="cli", help="a label for the key")
    create.add_argument("--expires", default=None, help="expiry, ISO 8601 with time zone")
    create.set_defaults(func=cmd_keys_create)

    audit_cmd = sub.add_parser("audit", help="audit log").add_subparsers(dest="audit_command", required=True)
    verify = audit_cmd.add_parser("verify", help="check every project's audit hash chain")
    verify.add_argument("--project", default=None, help="only this project slug")
    verify.set_defaults(func=cmd_audit_verify)

    routes = sub.add_parser("routes", help="routing").add_subparsers(dest="routes_command", required=True)
    explain_cmd = routes.add_parser(
        "explain", help="where would a call go, and why (dry run against the database)"
    )
    explain_cmd.add_argument("to", help="dialled number")
    explain_cmd.add_argument("--from", dest="caller", default="", help="caller number (empty: withheld)")
    explain_cmd.add_argument("--project", default="default", help="project slug")
    explain_cmd.add_argument("--trunk", default=None, help="trunk id the call arrives on")
    explain_cmd.add_argument("--at", default=None, help="ISO 8601 time with zone (default: now)")
    explain_cmd.add_argument(
        "--header", action="append", default=[], help="SIP header NAME=VALUE (repeatable)"
    )
    explain_cmd.add_argument(
        "--unavailable", action="append", default=[], help="pretend down: livekit, agent:NAME"
    )
    explain_cmd.add_argument("--json", action="store_true", help="print the decision as JSON")
    explain_cmd.set_defaults(func=cmd_routes_explain)

    flows = sub.add_parser("flows", help="IVR flow tools: lint, test, simulate, graph", add_help=False)
    flows.add_argument("rest", nargs=argparse.REMAINDER)
    flows.set_defaults(func=cmd_flows)

    transcribe = sub.add_parser(
        "transcribe", help="transcribe an audio file offline (bundled whisper tiny.en)"
    )
    transcribe.add_argument("file", help="audio file (any format ffmpeg reads)")
    transcribe.add_argument("--json", action="store_true", help="one JSON segment per line, with word times")
    transcribe.add_argument(
        "--model-dir", default=None, help="a CTranslate2 whisper model (default: bundled)"
    )
    transcribe.set_defaults(func=cmd_transcribe)
    return parser


def main(argv: list[str] | None = None) -> int:
    words = sys.argv[1:] if argv is None else argv
    if words[:1] == ["flows"]:
        # argparse's REMAINDER does not take options that come first (`flows --help`, `flows -h`): hand over
        # the rest untouched, the flows tool has its own parser and help.
        from gateway.ivr.cli import main as flows_main

        return flows_main(words[1:], default_region=_default_project_region)
    args = build_parser().parse_args(words)
    settings = load_settings()
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
