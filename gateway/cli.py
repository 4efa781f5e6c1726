"""The `trunkline` command."""

from __future__ import annotations

import argparse
import asyncio
import sys
from collections.abc import Awaitable, Callable
from datetime import datetime
from pathlib import Path
from typing import TypeVar

from sqlalchemy.ext.asyncio import AsyncSession

from gateway.bulk.cli import add_bulk_commands
from gateway.call_cli import add_call_commands
from gateway.settings import Settings, load_settings

T = TypeVar("T")


def _with_database(settings: Settings, work: Callable[[AsyncSession], Awaitable[T]]) -> T:
    async def run() -> T:
        from gateway.bootstrap import start_up
        from gateway.db.database import Database
        from gateway.db.migrate import upgrade

        database = Database.for_settings(settings)
        try:
            await upgrade(database.engine)
            async with database.session() as session:
                await start_up(session, settings)
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

    from gateway import audit, audit_checkpoints
    from gateway.db.models import AuditHead, Project

    async def work(session: AsyncSession) -> list[tuple[str, audit.ChainReport]]:
        slugs = dict((await session.execute(select(Project.id, Project.slug))).tuples().all())
        # Every chain, deleted projects' included (their audit trail is kept), and every chain with published
        # checkpoints (one whose rows and head were deleted altogether is reported, not skipped).
        stored = (await session.scalars(select(AuditHead.project_id))).all()
        published = audit_checkpoints.project_ids(Path(settings.audit_checkpoints))
        ids = sorted({*stored, *published})
        if args.project:
            ids = [i for i in ids if slugs.get(i) == args.project or i == args.project]
        return [(slugs.get(i, "deleted project"), await audit.verify(session, i)) for i in ids]

    failed = 0
    reports = _with_database(settings, work)
    if args.project and not reports:
        print(f"no audit chain for project {args.project!r}", file=sys.stderr)
        return 2
    for slug, report in reports:
        state = "ok" if report.ok else f"BROKEN at seq {report.first_bad_seq}: {report.problem}"
        notes = f", {report.legacy_records} legacy (unkeyed)" if report.legacy_records else ""
        notes += f", {report.checkpoints} checkpoints"
        print(f"{report.project_id} ({slug}): {report.records} records{notes}, {state}")
        failed += not report.ok
    return 1 if failed else 0


def cmd_secrets_rotate(args: argparse.Namespace, settings: Settings) -> int:
    """Two steps, so that no secret is left under a key that is gone. Without --finish: a new key first in the
    key file (the old ones kept to decrypt) and every secret re-encrypted with it. Gateways still running with the
    old keys may write a secret under the old key meanwhile: restart them, then --finish re-encrypts everything
    once more and drops the old keys. With TRUNKLINE_SECRET_KEY the operator puts the new key first instead."""
    from gateway.db.secret_rotation import reencrypt
    from gateway.db.types import engine_keys
    from gateway.security.keyring import add_file_key, drop_old_file_keys

    from_file = not settings.secret_key
    if from_file and not args.finish:
        add_file_key(settings)

    async def work(session: AsyncSession) -> int:
        return await reencrypt(session, engine_keys(session.get_bind().dialect).keyring, everything=True)

    count = _with_database(settings, work)
    where = settings.secret_key_file if from_file else "the first key of TRUNKLINE_SECRET_KEY"
    print(
        f"re-encrypted {count} secrets with {'a new key in ' if from_file and not args.finish else ''}{where}"
    )
    if not args.finish:
        print("restart running gateways, then run `trunkline secrets rotate --finish` to retire the old key")
    elif from_file:
        drop_old_file_keys(settings)
        print("the old keys are gone from the key file")
    else:
        print("the keys after the first in TRUNKLINE_SECRET_KEY can be removed now")
    return 0


def cmd_secrets_new_key(_: argparse.Namespace, _settings: Settings) -> int:
    from gateway.security.keyring import new_key

    print(new_key())
    return 0


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
        named = f"{entry.route_name!r} ({entry.route_id})" if entry.route_name else entry.route_id
        print(f"   {entry.outcome:<11} {named}: {entry.why}")
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


def _flow_secret_names(directory: Path) -> frozenset[str] | None:
    """The flow secret names of the project whose flows are in `directory` (TRUNKLINE_FLOWS_DIR for the default
    project, its `projects/<project id>` for another), read from the database; None when unknown."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db.database import Database
    from gateway.db.engine import sqlite_path
    from gateway.db.models import FlowSecret, Project
    from gateway.ivr.library import PROJECTS_DIR

    settings = load_settings()
    root, directory = Path(settings.flows_dir).resolve(), directory.resolve()
    if directory != root and directory.parent != root / PROJECTS_DIR:
        return None
    path = sqlite_path(settings.async_database_url)
    if path is not None and not Path(path).exists():
        return None

    async def read() -> frozenset[str] | None:
        database = Database.at(settings.async_database_url)
        try:
            async with database.session() as session:
                if directory == root:
                    project_id = await session.scalar(select(Project.id).where(Project.slug == "default"))
                else:
                    project_id = await session.scalar(select(Project.id).where(Project.id == directory.name))
                if project_id is None:
                    return None
                names = await session.scalars(
                    select(FlowSecret.name).where(FlowSecret.project_id == project_id)
                )
                return frozenset(names.all())
        except (SQLAlchemyError, OSError):
            return None
        finally:
            await database.dispose()

    return asyncio.run(read())


def _default_project_region() -> str | None:
    """The default project's default_region, read without creating or migrating anything (None if unknown)."""
    from pathlib import Path

    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db.database import Database
    from gateway.db.engine import sqlite_path
    from gateway.db.models import Project

    settings = load_settings()
    path = sqlite_path(settings.async_database_url)
    if path is not None and not Path(path).exists():
        return None

    async def read() -> str | None:
        database = Database.at(settings.async_database_url)
        try:
            async with database.session() as session:
                region: str | None = await session.scalar(
                    select(Project.default_region).where(Project.slug == "default")
                )
                return region
        except (SQLAlchemyError, OSError):
            return None
        finally:
            await database.dispose()

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
    verify = audit_cmd.add_parser(
        "verify",
        help="check every audit chain (HMAC links, and the checkpoints published outside the database)",
    )
    verify.add_argument("--project", default=None, help="only this project (slug, or id of a deleted one)")
    verify.set_defaults(func=cmd_audit_verify)

    secrets_cmd = sub.add_parser("secrets", help="keys of the secrets stored encrypted").add_subparsers(
        dest="secrets_command", required=True
    )
    rotate = secrets_cmd.add_parser(
        "rotate",
        help="re-encrypt every stored secret with a new key (key file) or with the first key of "
        "TRUNKLINE_SECRET_KEY; then restart gateways and run it with --finish",
    )
    rotate.add_argument(
        "--finish", action="store_true", help="re-encrypt once more and retire the old keys (after restarts)"
    )
    rotate.set_defaults(func=cmd_secrets_rotate)
    secrets_cmd.add_parser("new-key", help="print a new key for TRUNKLINE_SECRET_KEY").set_defaults(
        func=cmd_secrets_new_key
    )

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
    add_bulk_commands(routes, "routes")
    numbers = sub.add_parser("numbers", help="phone numbers").add_subparsers(
        dest="numbers_command", required=True
    )
    add_bulk_commands(numbers, "numbers")

    add_call_commands(sub)

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

        return flows_main(words[1:], default_region=_default_project_region, secret_names=_flow_secret_names)
    args = build_parser().parse_args(words)
    settings = load_settings()
    result: int = args.func(args, settings)
    return result


if __name__ == "__main__":
    sys.exit(main())
