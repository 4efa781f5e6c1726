"""/metrics: Prometheus text with every request counted by method, route template and status."""

from __future__ import annotations

import re
from typing import Any

from litestar.testing import TestClient

from tests.conftest import Api


def _sample(text: str, name: str, **labels: str) -> float:
    """The value of one series in Prometheus text format (0 when absent)."""
    for line in text.splitlines():
        if not line.startswith(name + "{"):
            continue
        found = dict(re.findall(r'(\w+)="([^"]*)"', line[: line.rindex("}")]))
        if all(found.get(key) == value for key, value in labels.items()):
            return float(line.rsplit(" ", 1)[1])
    return 0.0


def test_requests_are_counted_by_route_template_and_status(client: TestClient[Any], api: Api) -> None:
    before = client.get("/metrics").text
    for _ in range(3):
        assert client.get("/health/live").status_code == 200
    assert api.get("/v1/numbers/num_does_not_exist").status_code == 404
    text = client.get("/metrics").text
    live = {"method": "GET", "path": "/health/live", "status_code": "200", "app_name": "trunkline"}
    assert (
        _sample(text, "trunkline_requests_total", **live)
        - _sample(before, "trunkline_requests_total", **live)
        == 3
    )
    assert _sample(text, "trunkline_request_duration_seconds_count", **live) >= 3
    missing = {"method": "GET", "path": "/v1/numbers/{number_id}", "status_code": "404"}
    assert _sample(text, "trunkline_requests_total", **missing) >= 1
    assert _sample(text, "trunkline_requests_in_progress", method="GET", path="/health/live") == 0
    # the scrape itself is not counted, and no raw path (ids) becomes a label
    assert 'path="/metrics"' not in text
    assert "num_does_not_exist" not in text


def test_every_answer_carries_a_request_id_a_sane_one_given_is_kept(client: TestClient[Any]) -> None:
    given = client.get("/health/live", headers={"X-Request-Id": "req-42.a_b"})
    assert given.headers["x-request-id"] == "req-42.a_b"
    fresh = client.get("/health/live")
    assert re.fullmatch(r"[0-9a-f]{32}", fresh.headers["x-request-id"])
    for bad in (b"has space", b"x" * 65, b"\xff\xfe"):  # not a token, too long, not even UTF-8
        answer = client.get("/health/live", headers=[(b"x-request-id", bad)])
        assert answer.status_code == 200
        assert re.fullmatch(r"[0-9a-f]{32}", answer.headers["x-request-id"])


def test_refusals_raised_by_middleware_are_counted_with_their_own_status(client: TestClient[Any]) -> None:
    refused = {"method": "GET", "path": "/v1/numbers"}
    series = (
        ("trunkline_requests_total", "401"),
        ("trunkline_requests_total", "500"),
        ("trunkline_requests_error_total", "500"),
    )
    before = client.get("/metrics").text
    for _ in range(2):
        assert client.get("/v1/numbers").status_code == 401
        assert client.get("/v1/numbers", headers={"Authorization": "Bearer tlk_key_x_y"}).status_code == 401
    text = client.get("/metrics").text
    counted = [
        _sample(text, name, status_code=status, **refused)
        - _sample(before, name, status_code=status, **refused)
        for name, status in series
    ]
    assert counted == [4, 0, 0]


def test_options_answers_the_allowed_methods(client: TestClient[Any]) -> None:
    for path in ("/v1/numbers", "/v1/numbers/num_x"):
        answer = client.options(path)
        assert answer.status_code == 204, answer.text
        allowed = {m.strip() for m in answer.headers["allow"].split(",")}
        assert "OPTIONS" in allowed
        assert allowed & {"POST", "PATCH", "DELETE"}
    errors = _sample(client.get("/metrics").text, "trunkline_requests_error_total", method="OPTIONS")
    assert errors == 0
