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
