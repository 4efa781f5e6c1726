"""Saving a flow (`PUT /v1/flows/{id}`) runs the flow's own tests: a version that fails them is refused like a lint
error, and the version served stays."""

from __future__ import annotations

from pathlib import Path

from gateway.settings import Settings
from tests.conftest import Api

GOOD = "start: hi\nsteps:\n  hi:\n    type: say\n    text: Hello.\n    next: bye\n  bye:\n    type: hangup\n"
TESTS = (
    "flow: hello\n"
    "tests:\n"
    "  - name: the caller is greeted\n"
    "    script:\n"
    "      - hear: Hello\n"
    "    expect:\n"
    "      outcome: 'hangup: completed'\n"
)


def test_a_version_that_fails_the_flows_tests_is_refused(api: Api, settings: Settings) -> None:
    tests = Path(settings.flows_dir) / "tests"
    tests.mkdir(exist_ok=True)
    (tests / "hello.yaml").write_text(TESTS)
    saved = api.put("/v1/flows/hello", content=GOOD.encode())
    assert saved.status_code == 200, saved.text
    refused = api.put("/v1/flows/hello", content=GOOD.replace("Hello.", "Goodbye.").encode())
    assert refused.status_code == 422
    body = refused.json()
    assert "hello" in body["detail"]
    (problem,) = [p for p in body["problems"] if "fails" in p["message"]]
    assert "test 'the caller is greeted'" in problem["message"]
    assert "expected to hear 'Hello'" in problem["message"]
    assert "last good version keeps serving" in problem["hint"]
    assert api.get("/v1/flows/hello").json()["version"] == saved.json()["version"]
    assert (Path(settings.flows_dir) / "hello.yaml").read_text() == GOOD
