"""Flow secrets over the API: write-only, encrypted at rest, audited by name, checked by lint where flows use them."""

from __future__ import annotations

import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import text
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.settings import Settings
from tests.conftest import Api, env_of, run_db

pytestmark = pytest.mark.db

VALUE = "tok-3f9a7c1e5b2d"

LOOKUP = """\
start: lookup
steps:
  lookup:
    type: http
    url: https://crm.example.com/api/customer
    headers:
      Authorization: "Bearer {{ secret.crm_token }}"
    results:
      customer: name
    next: bye
    on_error: bye
  bye:
    type: hangup
"""


def _wait(check: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_a_secret_is_write_only_and_encrypted_at_rest(api: Api, settings: Settings) -> None:
    put = api.put("/v1/flow-secrets/crm_token", json={"value": VALUE})
    assert put.status_code == 200, put.text
    assert api.put("/v1/flows/lookup", content=LOOKUP.encode()).status_code == 200
    listed = api.get("/v1/flow-secrets")
    one = api.get("/v1/flow-secrets/crm_token")
    flow = api.get("/v1/flows/lookup")
    audit = api.get("/v1/audit-logs", params={"object_id": "crm_token"})
    for response in (put, listed, one, flow, audit):
        assert VALUE not in response.text
    assert [(s["name"], s["used_by"]) for s in listed.json()["items"]] == [("crm_token", ["lookup"])]
    assert "value" not in one.json()
    assert [(r["action"], r["after"]) for r in audit.json()["items"]] == [
        ("flow_secret.create", {"name": "crm_token"})
    ]

    async def stored(session: AsyncSession) -> str:
        return str((await session.execute(text("SELECT value FROM flow_secrets"))).scalar_one())

    raw = run_db(settings, stored)
    assert VALUE not in raw
    assert raw.startswith("fernet:")


def test_a_secret_a_flow_uses_cannot_be_deleted(api: Api) -> None:
    assert api.put("/v1/flow-secrets/crm_token", json={"value": VALUE}).status_code == 200
    assert api.put("/v1/flows/lookup", content=LOOKUP.encode()).status_code == 200
    refused = api.delete("/v1/flow-secrets/crm_token")
    assert refused.status_code == 409
    assert "lookup" in refused.json()["detail"]
    assert api.delete("/v1/flows/lookup").status_code == 204
    assert api.delete("/v1/flow-secrets/crm_token").status_code == 204
    assert api.get("/v1/flow-secrets").json()["items"] == []
    actions = [
        r["action"] for r in api.get("/v1/audit-logs", params={"object_id": "crm_token"}).json()["items"]
    ]
    assert sorted(actions) == ["flow_secret.create", "flow_secret.delete"]


def test_another_project_does_not_see_or_use_the_secret(api: Api) -> None:
    assert api.put("/v1/flow-secrets/crm_token", json={"value": VALUE}).status_code == 200
    created = api.create("/v1/projects", {"slug": "acme", "name": "Acme", "default_region": "GB"})
    other = api.as_(created["admin_key"])
    assert other.get("/v1/flow-secrets").json()["items"] == []
    assert other.get("/v1/flow-secrets/crm_token").status_code == 404
    assert other.delete("/v1/flow-secrets/crm_token").status_code == 404
    refused = other.put("/v1/flows/lookup", content=LOOKUP.encode())
    assert refused.status_code == 422, "the default project's secret is not Acme's"


def test_lint_reports_an_unknown_secret_at_its_place(api: Api) -> None:
    refused = api.put("/v1/flows/lookup", content=LOOKUP.encode())
    assert refused.status_code == 422, refused.text
    (problem,) = [p for p in refused.json()["problems"] if p["severity"] == "error"]
    assert problem["message"] == "unknown secret 'crm_token'"
    assert (problem["line"], problem["col"]) == (7, LOOKUP.splitlines()[6].index("secret.crm_token") + 1)
    assert "PUT /v1/flow-secrets/crm_token" in (problem["hint"] or "")
    assert "lookup.yaml:7:" in refused.text


def test_a_secret_cannot_be_spoken(api: Api) -> None:
    assert api.put("/v1/flow-secrets/crm_token", json={"value": VALUE}).status_code == 200
    spoken = "start: hi\nsteps:\n  hi:\n    type: say\n    text: Your token is {{ secret.crm_token }}.\n    next: bye\n"
    spoken += "  bye:\n    type: hangup\n"
    refused = api.put("/v1/flows/spoken", content=spoken.encode())
    assert refused.status_code == 422
    assert "secrets go only into an http step" in refused.text


def test_a_file_naming_an_unknown_secret_is_not_served(api: Api, settings: Settings) -> None:
    (Path(settings.flows_dir) / "lookup.yaml").write_text(LOOKUP)
    _wait(lambda: api.get("/v1/flows").json()["broken"])
    (broken,) = api.get("/v1/flows").json()["broken"]
    assert broken["id"] == "lookup"
    assert any("lookup.yaml:7:" in p and "unknown secret 'crm_token'" in p for p in broken["problems"])
    # Creating the secret lets the file load.
    assert api.put("/v1/flow-secrets/crm_token", json={"value": VALUE}).status_code == 200
    assert api.get("/v1/flows/lookup").status_code == 200


def test_secret_names_and_values_are_checked(api: Api) -> None:
    bad_name = api.put("/v1/flow-secrets/crm-token", json={"value": VALUE})
    assert bad_name.status_code == 422
    assert "not a valid secret name" in bad_name.json()["detail"]
    bad_value = api.put("/v1/flow-secrets/crm_token", json={"value": "two\nlines"})
    assert bad_value.status_code == 400 or bad_value.status_code == 422


def test_trunkline_flows_lint_reads_the_projects_secret_names(
    api: Api, settings: Settings, tmp_path: Path
) -> None:
    assert api.put("/v1/flow-secrets/crm_token", json={"value": VALUE}).status_code == 200
    flows = tmp_path / "lint-flows"
    flows.mkdir()
    (flows / "good.yaml").write_text(LOOKUP)
    (flows / "typo.yaml").write_text(LOOKUP.replace("secret.crm_token", "secret.crm_tokn"))
    env = {**env_of(settings), "TRUNKLINE_FLOWS_DIR": str(flows)}
    done = subprocess.run(
        [sys.executable, "-m", "gateway", "flows", "lint"],
        env=env,
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert done.returncode == 1, done.stdout + done.stderr
    lines = done.stdout.splitlines()
    assert lines[0].startswith("lint-flows/typo.yaml:7:")
    assert "unknown secret 'crm_tokn' (did you mean 'crm_token'?)" in lines[0]
    assert lines[-1] == "2 flow file(s): 1 error(s), 0 warning(s)"
    assert VALUE not in done.stdout + done.stderr
