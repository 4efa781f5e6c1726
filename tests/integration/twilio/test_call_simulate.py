"""`trunkline call simulate`: Twilio's side of a call, signed with the project's auth token, against the real app on
loopback; answers from `--input` or typed (stdin); a wrong token is refused as it would be for Twilio."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.cli import main
from tests.conftest import key_env
from tests.integration.twilio.harness import (
    ACCOUNT_SID,
    AUTH_TOKEN,
    CALLER,
    NUMBER,
    FakeCrm,
    running_gateway,
)

pytestmark = pytest.mark.db

SIMULATE = ["call", "simulate", NUMBER, "--from", CALLER]
CREDENTIALS = ["--account-sid", ACCOUNT_SID, "--auth-token", AUTH_TOKEN]
CRM = {"12345678": {"name": "Ada Lovelace", "plan": {"tier": "premium"}, "tickets": []}}


def test_scripted_input_drives_a_menu_a_gather_and_a_transfer_to_the_end(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with FakeCrm(CRM) as crm, running_gateway(database_url, tmp_path, crm_url=crm.url) as gw:
        gw.route("Main line", {"type": "flow", "flow": "main_menu"})
        code = main([*SIMULATE, *CREDENTIALS, "--url", gw.url, "--input", "9,2,12345678#"])
        out = capsys.readouterr().out
        assert code == 0, out
        lines = out.splitlines()
        assert lines[0].startswith("call CA")
        assert lines[0].endswith(f"from {CALLER} to {NUMBER}")
        assert lines[1:4] == [
            "  Play: [audio https://assets.example.com/acme/chime.mp3]",
            '  Say: "Thank you for calling Acme."',
            "  Gather: keys or speech, 1 digit (timeout 5s)",
        ]
        assert lines.count("  Gather: keys or speech, 1 digit (timeout 5s)") == 2, "9 repeats the menu"
        assert "caller> 2" in lines
        assert '    "Please enter your eight digit account number."' in lines
        assert "caller> 12345678#" in lines
        assert '  Say: "Hello Ada Lovelace."' in lines
        assert "  Dial: sip sip:premium@pbx.example.com (ring 30s)" in lines
        assert lines[-2:] == ["  Hangup", "call ended: hangup"]

        (record,) = gw.calls()
        detail = gw.get(f"/v1/calls/{record['id']}")
        assert (detail["status"], detail["end_reason"]) == ("completed", "ivr transferred: sip")
        inputs = [e["data"] for e in detail["events"] if e["kind"] == "twilio.input"]
        assert [i.get("digits") for i in inputs] == ["9", "2", "********", None]
        assert inputs[-1]["input"] == "dial"
        assert crm.requests == ["/api/accounts/12345678"]


def test_typed_answers_on_stdin_leave_a_voicemail_with_the_projects_stored_credentials(
    database_url: str, tmp_path: Path
) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("Main line", {"type": "flow", "flow": "main_menu"})
        port = gw.url.rsplit(":", 1)[1]
        env = {  # no TWILIO_*: the project's credentials as stored (the token decrypted with the gateway's key)
            **{k: v for k, v in os.environ.items() if not k.startswith("TWILIO_")},
            "DATABASE_URL": database_url,
            **key_env(tmp_path),
            "TRUNKLINE_HOST": "127.0.0.1",
            "TRUNKLINE_PORT": port,
        }
        done = subprocess.run(
            [sys.executable, "-m", "gateway", *SIMULATE],
            input="3\n",
            capture_output=True,
            text=True,
            env=env,
            cwd=tmp_path,
            timeout=60,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        assert "  Record: up to 120s, ends on #" in done.stdout
        assert '  Say: "Thank you, your message has been saved."' in done.stdout
        (record,) = gw.calls()
        detail = gw.get(f"/v1/calls/{record['id']}")
        assert detail["status"] == "completed"
        (recording,) = detail["recordings"]
        assert recording["duration_s"] == 5
        assert recording["url"].startswith(
            f"https://api.twilio.com/2010-04-01/Accounts/{ACCOUNT_SID}/Recordings/RE"
        )


def test_a_wrong_auth_token_is_refused_and_said_so(
    database_url: str, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    with running_gateway(database_url, tmp_path) as gw:
        gw.route("Main line", {"type": "flow", "flow": "main_menu"})
        code = main(
            [
                *SIMULATE,
                "--url",
                gw.url,
                "--input",
                "1",
                "--account-sid",
                ACCOUNT_SID,
                "--auth-token",
                "c3" * 16,
            ]
        )
        captured = capsys.readouterr()
        assert code == 1
        assert "simulation stopped: the gateway answered 403" in captured.err
        assert "signature" in captured.err.lower()
        assert gw.calls() == []
