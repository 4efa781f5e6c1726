"""`trunkline call ...`: tools that act on calls through the running gateway (`call simulate`)."""

from __future__ import annotations

import argparse
import asyncio
import sys
from pathlib import Path

from gateway.settings import Settings


def _stored_twilio_credentials(settings: Settings, project_slug: str) -> tuple[str | None, str | None]:
    """The project's Twilio account SID and auth token as stored (decrypted), read without changing anything."""
    from sqlalchemy import select
    from sqlalchemy.exc import SQLAlchemyError

    from gateway.db.database import Database
    from gateway.db.engine import sqlite_path
    from gateway.db.models import Project

    path = sqlite_path(settings.async_database_url)
    if path is not None and not Path(path).exists():
        return None, None  # no database here: creating an empty one would help nobody

    async def read() -> tuple[str | None, str | None]:
        database = Database.for_settings(settings)
        try:
            async with database.session() as session:
                project = await session.scalar(select(Project).where(Project.slug == project_slug))
                if project is None:
                    return None, None
                return project.twilio_account_sid, project.twilio_auth_token
        except (SQLAlchemyError, OSError):
            return None, None
        finally:
            await database.dispose()

    return asyncio.run(read())


def cmd_call_simulate(args: argparse.Namespace, settings: Settings) -> int:
    from gateway.carriers.twilio.call_simulator import (
        Caller,
        CallSimulation,
        Endpoint,
        SimulationFailed,
        split_inputs,
    )

    account_sid = args.account_sid or settings.twilio_account_sid
    auth_token = args.auth_token or settings.twilio_auth_token
    if not (account_sid and auth_token):
        stored_sid, stored_token = _stored_twilio_credentials(settings, args.project)
        account_sid, auth_token = account_sid or stored_sid, auth_token or stored_token
    if not (account_sid and auth_token):
        print(
            f"no Twilio credentials for project {args.project!r}: set TWILIO_ACCOUNT_SID and TWILIO_AUTH_TOKEN, "
            "or pass --account-sid and --auth-token (the gateway checks the signature with them)",
            file=sys.stderr,
        )
        return 2
    host = "127.0.0.1" if settings.host in ("0.0.0.0", "::", "") else settings.host  # noqa: S104
    url = (args.url or f"http://{host}:{settings.port}").rstrip("/")
    signed = (args.public_url or settings.public_url or url).rstrip("/")
    scripted = split_inputs(args.input) if args.input is not None else None
    if scripted is None and not sys.stdin.isatty():
        scripted = [line.rstrip("\n") for line in sys.stdin]
    simulation = CallSimulation(
        endpoint=Endpoint(base_url=url, signed_url=signed),
        account_sid=account_sid,
        auth_token=auth_token,
        caller_number=args.caller,
        called_number=args.to,
        caller=Caller(scripted),
        dial_outcome=args.dial_outcome,
    )
    try:
        simulation.run()
    except SimulationFailed as exc:
        print(f"simulation stopped: {exc}", file=sys.stderr)
        return 1
    finally:
        simulation.client.close()
    return 0


def add_call_commands(sub: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """`trunkline call simulate` on the `trunkline` parser's subcommands (`sub`)."""
    call_cmd = sub.add_parser("call", help="calls").add_subparsers(dest="call_command", required=True)
    simulate = call_cmd.add_parser(
        "simulate",
        help="play Twilio's side of an inbound call against the running gateway (signed webhooks): see each "
        "answer, type digits or words",
        description="Posts the voice webhook as Twilio would, prints each TwiML answer (what is said, what is "
        "gathered), sends your answers to its action URLs and follows redirects until the call ends. Type "
        "digits (1, 1234#) or words (speech); an empty line is silence; end of input hangs up.",
    )
    simulate.add_argument("to", help="the number called (one of the project's numbers), e.g. +14155550100")
    simulate.add_argument(
        "--from", dest="caller", required=True, help="the caller's number, e.g. +15551234567"
    )
    simulate.add_argument(
        "--url", default=None, help="the gateway (default http://TRUNKLINE_HOST:TRUNKLINE_PORT)"
    )
    simulate.add_argument(
        "--public-url",
        default=None,
        help="the URL Twilio signs (default TRUNKLINE_PUBLIC_URL, else --url): the gateway checks signatures "
        "against it",
    )
    simulate.add_argument(
        "--input",
        default=None,
        help="the caller's answers, comma-separated, instead of typing them: 1,2,1234#,sales (empty: silence)",
    )
    simulate.add_argument(
        "--dial-outcome",
        choices=["completed", "busy", "no-answer", "failed", "canceled"],
        default="completed",
        help="how a <Dial> ends (default completed)",
    )
    simulate.add_argument("--project", default="default", help="project slug whose stored credentials to use")
    simulate.add_argument(
        "--account-sid", default=None, help="default TWILIO_ACCOUNT_SID, else the project's"
    )
    simulate.add_argument("--auth-token", default=None, help="default TWILIO_AUTH_TOKEN, else the project's")
    simulate.set_defaults(func=cmd_call_simulate)
