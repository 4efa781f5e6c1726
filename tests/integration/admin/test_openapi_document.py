"""The OpenAPI document: every operation has an operation id and a summary, every request body an example."""

from __future__ import annotations

from typing import Any

from litestar.testing import TestClient


def test_every_operation_is_named_and_every_body_has_an_example(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    operations = [(method, path, op) for path, ops in document["paths"].items() for method, op in ops.items()]
    assert len(operations) >= 30
    ids = [op.get("operationId") for _, _, op in operations]
    assert all(ids), [f"{m} {p}" for m, p, op in operations if not op.get("operationId")]
    assert len(ids) == len(set(ids)), "operation ids are unique"
    assert all(op.get("summary") for _, _, op in operations)
    bodies = [(m, p, op["requestBody"]) for m, p, op in operations if "requestBody" in op]
    missing = [f"{m} {p}" for m, p, body in bodies if "example" not in str(body)]
    assert not missing, missing


def test_twilios_webhooks_are_documented_as_answering_twiml(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    for path in ("/carriers/twilio/voice", "/carriers/twilio/ivr", "/carriers/twilio/resume"):
        answer = paths[path]["post"]["responses"]["200"]
        assert list(answer["content"]) == ["application/xml"], path
