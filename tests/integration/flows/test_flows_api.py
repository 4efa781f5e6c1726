"""Flows over the API and in readiness: versions, graphs, validated writes, broken edits that keep the good one."""

from __future__ import annotations

import time
from pathlib import Path

from gateway.settings import Settings
from tests.conftest import Api

GOOD = "start: hi\nsteps:\n  hi:\n    type: say\n    text: Hello.\n    next: bye\n  bye:\n    type: hangup\n"
BROKEN = "start: hi\nsteps:\n  hi:\n    type: say\n    text: Hello.\n    next: nowhere\n"


def _wait(check: object, seconds: float = 5.0) -> None:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if check():  # type: ignore[operator]
            return
        time.sleep(0.05)
    raise AssertionError("condition not reached in time")


def test_put_validates_then_serves_with_a_version(api: Api) -> None:
    saved = api.put("/v1/flows/hello", content=GOOD.encode()).json()
    assert len(saved["version"]) >= 8
    detail = api.get("/v1/flows/hello").json()
    assert detail["text"] == GOOD
    assert {n["id"] for n in detail["graph"]["nodes"]} >= {"hi", "bye"}
    refused = api.put("/v1/flows/hello", content=BROKEN.encode())
    assert refused.status_code == 422
    problems = refused.json()["problems"]
    assert any("nowhere" in p["message"] and p["line"] == 6 for p in problems), problems
    assert api.get("/v1/flows/hello").json()["version"] == saved["version"]


def test_a_broken_edit_on_disk_keeps_the_last_good_version(api: Api, settings: Settings) -> None:
    flows = Path(settings.flows_dir)
    (flows / "hello.yaml").write_text(GOOD)
    _wait(lambda: api.get("/v1/flows/hello").status_code == 200)
    version = api.get("/v1/flows/hello").json()["version"]
    (flows / "hello.yaml").write_text(BROKEN)
    _wait(lambda: api.get("/v1/flows").json()["items"][0]["problems"])
    listed = api.get("/v1/flows").json()
    assert listed["items"][0]["version"] == version
    assert "hello.yaml:6:" in listed["items"][0]["problems"][0]
    ready = api.client.get("/health/ready").json()
    flows_check = next(c for c in ready["checks"] if c["name"] == "flows")
    assert flows_check["ok"] is True
    assert "broken edits" in flows_check["detail"]
    (flows / "new.yaml").write_text(BROKEN)
    _wait(lambda: api.get("/v1/flows").json()["broken"])
    not_ready = api.client.get("/health/ready")
    assert not_ready.status_code == 503
    assert "new.yaml" in not_ready.text


def test_a_flow_a_route_targets_cannot_be_deleted(api: Api) -> None:
    assert api.put("/v1/flows/hello", content=GOOD.encode()).status_code == 200
    route = api.create("/v1/routes", {"name": "main line", "target": {"type": "flow", "flow": "hello"}})
    refused = api.request("DELETE", "/v1/flows/hello")
    assert refused.status_code == 409
    problem = refused.json()
    assert problem["routes"] == [f"route 'main line' ({route['id']}) target"]
    assert "main line" in problem["detail"]
    assert api.get("/v1/flows/hello").status_code == 200, "still served"
    assert api.request("DELETE", f"/v1/routes/{route['id']}").status_code == 204
    assert api.request("DELETE", "/v1/flows/hello").status_code == 204


def test_flows_report_agents_the_project_does_not_have(api: Api) -> None:
    text = "start: hi\nsteps:\n  hi:\n    type: transfer\n    agent: sales\n"
    assert api.put("/v1/flows/to_sales", content=text.encode()).status_code == 200
    (item,) = api.get("/v1/flows").json()["items"]
    assert item["missing_agents"] == ["sales"]
    assert any("agent 'sales' does not exist in this project" in p for p in item["problems"])
    assert api.get("/v1/flows/to_sales").json()["missing_agents"] == ["sales"]
    api.create("/v1/agents", {"name": "sales"})
    assert api.get("/v1/flows").json()["items"][0]["missing_agents"] == []


PREMIUM_TRANSFER = """
start: out
steps:
  out:
    type: transfer
    number: "+19005550100"
"""


def test_a_flow_that_would_dial_a_refused_destination_is_refused_and_not_written(api: Api) -> None:
    refused = api.put("/v1/flows/premium", content=PREMIUM_TRANSFER.encode())
    assert refused.status_code == 403, refused.text
    assert refused.json()["detail"].startswith("premium.yaml:4:3: step 'out':")
    assert "premium-rate" in refused.json()["detail"]
    assert api.get("/v1/flows/premium").status_code == 404
