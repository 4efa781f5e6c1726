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


def test_errors_are_documented_as_problems(client: TestClient[Any]) -> None:
    document = client.get("/schema/openapi.json").json()
    problem = document["components"]["schemas"]["Problem"]
    assert {"type", "title", "status", "detail"} <= set(problem["required"])
    assert {"field", "request_id", "errors"} <= set(problem["properties"])
    ref = {"$ref": "#/components/schemas/Problem"}
    paths = document["paths"]
    for path, ops in paths.items():
        for method, op in ops.items():
            for status, answer in op["responses"].items():
                if status.startswith("4"):
                    assert answer["content"] == {"application/problem+json": {"schema": ref}}, (method, path)
                    assert "extra" not in str(answer), "not the framework's default error body"

    def statuses(method: str, path: str) -> set[str]:
        return {status for status in paths[path][method]["responses"] if status.startswith("4")}

    assert statuses("get", "/v1/numbers") == {"400", "401", "403", "422"}
    assert statuses("post", "/v1/numbers") == {"400", "401", "403", "409", "422"}
    assert statuses("delete", "/v1/numbers/{number_id}") >= {"401", "403", "404", "409"}
    assert "429" in statuses("post", "/v1/calls")
    assert "403" in statuses("post", "/carriers/twilio/voice")


def test_twilio_webhook_bodies_are_documented_as_forms(client: TestClient[Any]) -> None:
    paths = client.get("/schema/openapi.json").json()["paths"]
    voice = paths["/carriers/twilio/voice"]["post"]["requestBody"]["content"]
    form = voice["application/x-www-form-urlencoded"]["schema"]
    assert {"CallSid", "AccountSid", "From", "To", "CallStatus", "Direction"} <= set(form["required"])
    assert {"queued", "ringing", "completed"} <= set(form["properties"]["CallStatus"]["enum"])
    action = paths["/carriers/twilio/ivr"]["post"]["requestBody"]["content"]
    fields = action["application/x-www-form-urlencoded"]["schema"]["properties"]
    assert {"Digits", "SpeechResult", "RecordingUrl", "DialCallStatus"} <= set(fields)
    status = paths["/carriers/twilio/status"]["post"]["requestBody"]["content"]
    assert "SipResponseCode" in status["application/x-www-form-urlencoded"]["schema"]["properties"]
    recording = paths["/carriers/twilio/recording"]["post"]["requestBody"]["content"]
    assert "RecordingSid" in recording["application/x-www-form-urlencoded"]["schema"]["required"]
