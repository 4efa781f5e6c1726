"""Flows belong to projects: each project sees, writes and deletes only its own flows (another's is 404), its
files live in its own directory, routes reach only its flows, and flow writes and deletes are audited."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Any

import pytest

from gateway.settings import Settings
from tests.conftest import Api

pytestmark = pytest.mark.db

HELLO = (
    "start: hi\nsteps:\n  hi:\n    type: say\n    text: Hello from {who}.\n    next: bye\n"
    "  bye:\n    type: hangup\n"
)


def _flow(who: str) -> bytes:
    return HELLO.format(who=who).encode()


def _second_project(api: Api) -> tuple[dict[str, Any], Api]:
    created = api.create("/v1/projects", {"slug": "acme", "name": "Acme", "default_region": "GB"})
    return created["project"], api.as_(created["admin_key"])


def _wait(check: Any, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_another_projects_flows_cannot_be_listed_read_written_or_deleted(
    api: Api, settings: Settings
) -> None:
    assert api.put("/v1/flows/hello", content=_flow("default")).status_code == 200
    project, other = _second_project(api)

    assert [f["id"] for f in other.get("/v1/flows").json()["items"]] == []
    assert other.get("/v1/flows/hello").status_code == 404
    assert other.delete("/v1/flows/hello").status_code == 404

    # A PUT of the same name writes the other project's own flow, in its own directory.
    assert other.put("/v1/flows/hello", content=_flow("Acme")).status_code == 200
    assert "Hello from Acme." in other.get("/v1/flows/hello").json()["text"]
    assert "Hello from default." in api.get("/v1/flows/hello").json()["text"]
    root = Path(settings.flows_dir)
    assert "default" in (root / "hello.yaml").read_text()
    assert "Acme" in (root / "projects" / project["id"] / "hello.yaml").read_text()

    assert other.delete("/v1/flows/hello").status_code == 204
    assert other.get("/v1/flows/hello").status_code == 404
    assert api.get("/v1/flows/hello").status_code == 200, "the default project's flow is untouched"


def test_a_route_can_only_target_its_own_projects_flows(api: Api) -> None:
    assert api.put("/v1/flows/only_default", content=_flow("default")).status_code == 200
    _, other = _second_project(api)
    refused = other.post(
        "/v1/routes", json={"name": "steal", "target": {"type": "flow", "flow": "only_default"}}
    )
    assert refused.status_code == 422, refused.text
    assert "only_default" in refused.json()["detail"]
    assert other.put("/v1/flows/own", content=_flow("Acme")).status_code == 200
    accepted = other.post("/v1/routes", json={"name": "own", "target": {"type": "flow", "flow": "own"}})
    assert accepted.status_code == 201, accepted.text


def test_hot_reload_works_per_project(api: Api, settings: Settings) -> None:
    project, other = _second_project(api)
    directory = Path(settings.flows_dir) / "projects" / project["id"]
    directory.mkdir(parents=True)
    (directory / "dropped.yaml").write_bytes(_flow("a file"))
    _wait(lambda: [f["id"] for f in other.get("/v1/flows").json()["items"]] == ["dropped"])
    assert api.get("/v1/flows/dropped").status_code == 404
    (directory / "dropped.yaml").write_bytes(_flow("an edit"))
    _wait(lambda: "an edit" in other.get("/v1/flows/dropped").json()["text"])


def test_flow_writes_and_deletes_are_audited(api: Api) -> None:
    first = api.put("/v1/flows/hello", content=_flow("v1")).json()
    second = api.put("/v1/flows/hello", content=_flow("v2")).json()
    assert api.delete("/v1/flows/hello").status_code == 204
    records = api.get("/v1/audit-logs", params={"object_id": "hello"}).json()["items"]
    trail = sorted(records, key=lambda r: r["seq"])
    assert [(r["action"], r["object_type"]) for r in trail] == [
        ("flow.create", "flow"),
        ("flow.update", "flow"),
        ("flow.delete", "flow"),
    ]
    assert trail[0]["after"]["version"] == first["version"]
    assert (trail[1]["before"]["version"], trail[1]["after"]["version"]) == (
        first["version"],
        second["version"],
    )
    assert trail[2]["before"]["version"] == second["version"]
    assert trail[2]["after"] is None
    assert api.get("/v1/audit-logs/verify").json()["ok"] is True


def test_an_outbound_call_can_only_run_its_own_projects_flow(api: Api) -> None:
    assert api.put("/v1/flows/only_default", content=_flow("default")).status_code == 200
    created = api.create(
        "/v1/projects",
        {
            "slug": "acme",
            "name": "Acme",
            "default_region": "GB",
            "twilio_account_sid": "AC" + "c3" * 16,
            "twilio_auth_token": "d4" * 16,
        },
    )
    other = api.as_(created["admin_key"])
    assert other.post("/v1/numbers", json={"number": "+442079460042"}).status_code == 201
    call = {"carrier": "twilio", "to": "+442079460555", "from": "+442079460042", "flow": "only_default"}
    refused = other.post("/v1/calls", json=call)
    assert refused.status_code == 422, refused.text
    assert refused.json()["field"] == "flow"
    assert other.get("/v1/calls").json()["items"] == [], "nothing was recorded"
