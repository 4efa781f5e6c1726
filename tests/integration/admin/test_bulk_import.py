"""Bulk import and export of numbers and routes through the real HTTP API, on SQLite and PostgreSQL: all-or-nothing,
every refused row reported with its number and reason, one audit record, streamed both ways."""

from __future__ import annotations

import json
from typing import Any

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.db

CSV = {"Content-Type": "text/csv"}
JSON = {"Content-Type": "application/json"}


def _numbers(api: Api) -> list[str]:
    found: list[str] = []
    after = None
    while True:
        params: dict[str, Any] = {"limit": 200, **({"after": after} if after else {})}
        page = api.get("/v1/numbers", params=params).json()
        found += [n["number"] for n in page["items"]]
        after = page["next_after"]
        if after is None:
            return sorted(found)


def _imports(api: Api, action: str) -> list[dict[str, Any]]:
    records = api.get("/v1/audit-logs", params={"limit": 200}).json()["items"]
    return [r for r in records if r["action"] == action]


def test_numbers_import_from_csv_and_export_round_trips(api: Api) -> None:
    trunk = api.create("/v1/trunks", {"direction": "inbound", "name": "carrier-a"})
    rows = ["number,trunk_id,label"] + [f"+1415555{i:04d},{trunk['id']},line {i}" for i in range(1500)]
    rows.append('"(415) 555-9999",,"a label, with a comma"')
    answer = api.post("/v1/numbers/import", content="\n".join(rows) + "\n", headers=CSV)
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 1501
    numbers = _numbers(api)
    assert len(numbers) == 1501
    assert "+14155559999" in numbers
    (record,) = _imports(api, "number.import")
    assert record["after"] == {"count": 1501, "format": "csv"}

    exported = api.get("/v1/numbers/export", params={"format": "csv"})
    assert exported.headers["content-type"].startswith("text/csv")
    lines = exported.text.splitlines()
    assert lines[0] == "number,trunk_id,label,region"
    assert len(lines) == 1502
    assert '+14155559999,,"a label, with a comma",US' in lines
    as_json = api.get("/v1/numbers/export", params={"format": "json"}).json()
    assert len(as_json) == 1501
    assert {"number": "+14155550007", "trunk_id": trunk["id"], "label": "line 7", "region": "US"} in as_json


def test_numbers_import_from_json_into_another_project_after_an_export(api: Api) -> None:
    items = [{"number": f"+4420794600{i:02d}", "label": f"uk {i}"} for i in range(20)]
    answer = api.post("/v1/numbers/import", content=json.dumps(items), headers=JSON)
    assert answer.status_code == 200, answer.text
    assert answer.json()["imported"] == 20
    assert len(_numbers(api)) == 20


def test_a_file_with_bad_rows_is_refused_whole_with_every_row_and_reason(api: Api) -> None:
    other = api.create("/v1/projects", {"slug": "other", "name": "Other"})
    api.as_(other["admin_key"]).create("/v1/numbers", {"number": "+14155550500"})
    api.create("/v1/numbers", {"number": "+14155550600"})
    before = _numbers(api)
    rows = [
        "number,trunk_id,label",
        "+14155550100,,ok",  # 1
        "+14155550101,,ok",  # 2
        "+14155550100,,again",  # 3: duplicate of row 1
        "not a number,,x",  # 4
        "+14155550500,,theirs",  # 5: another project's
        "+14155550102,trk_nope,x",  # 6: unknown trunk
        "+14155550600,,mine already",  # 7
        "+14155550103,,too,many",  # 8
    ]
    answer = api.post("/v1/numbers/import", content="\n".join(rows), headers=CSV)
    assert answer.status_code == 422, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    body = answer.json()
    refused = {r["row"]: r["reason"] for r in body["refused"]}
    assert sorted(refused) == [3, 4, 5, 6, 7, 8], refused
    assert "also on row 1" in refused[3]
    assert "not a usable phone number" in refused[4]
    assert "another project" in refused[5]
    assert "trk_nope" in refused[6]
    assert "GET /v1/trunks" in refused[6]
    assert "already one of this project's numbers" in refused[7]
    assert "values for 3 columns" in refused[8]
    assert body["refused_count"] == 6
    assert "6 of 8 rows were refused" in body["detail"]
    assert _numbers(api) == before, "nothing half-written"
    assert not _imports(api, "number.import")


def test_malformed_files_and_unknown_columns_are_refused(api: Api) -> None:
    bad_header = api.post("/v1/numbers/import", content="number,colour\n+14155550100,red\n", headers=CSV)
    assert bad_header.status_code == 422
    assert "colour" in bad_header.json()["detail"]
    not_array = api.post("/v1/numbers/import", content='{"number": "+14155550100"}', headers=JSON)
    assert not_array.status_code == 422
    assert "array" in not_array.json()["detail"]
    cut = api.post("/v1/numbers/import", content='[{"number": "+14155550100"}, {"numb', headers=JSON)
    assert cut.status_code == 422
    assert "row 2" in cut.json()["detail"]
    wrong_type = api.post(
        "/v1/numbers/import", content="+14155550100", headers={"Content-Type": "text/plain"}
    )
    assert wrong_type.status_code == 422
    assert "text/csv" in wrong_type.json()["detail"]
    not_objects = api.post(
        "/v1/numbers/import", content='[1, {"number": "+14155550100", "x": 1}]', headers=JSON
    )
    refused = {r["row"]: r["reason"] for r in not_objects.json()["refused"]}
    assert refused[1] == "is not a JSON object"
    assert "x" in refused[2]
    assert _numbers(api) == []


def test_an_oversized_import_is_refused_with_413_before_it_is_read(api: Api) -> None:
    limit = api.client.app.state.services.settings.import_max_body
    huge = api.post(
        "/v1/numbers/import",
        content=b"number\n",
        headers={**CSV, "Content-Length": str(1024**3)},
    )
    assert huge.status_code == 413, huge.text
    assert "TRUNKLINE_IMPORT_MAX_BODY" in huge.json()["detail"]
    assert huge.json()["limit"] == limit

    def chunks() -> Any:
        yield b"number\n"
        line = b"+14155550100\n" * 10_000
        for _ in range(limit // len(line) + 2):
            yield line

    streamed = api.post("/v1/numbers/import", content=chunks(), headers=CSV)
    assert streamed.status_code == 413
    assert _numbers(api) == []


def test_routes_import_checks_each_route_and_round_trips_through_export(api: Api) -> None:
    routes = [
        {"name": "catch all", "priority": 1, "target": {"type": "reject", "reason": "busy"}},
        {"name": "sales", "target": {"type": "voicemail"}, "match": {"numbers": ["+14155550100"]}},
        {"name": "bad agent", "target": {"type": "agent", "agent": "nobody"}},
        {"name": "bad flow", "target": {"type": "flow", "flow": "nope"}, "match": {"numbers": ["+1*"]}},
        {"name": "no target"},
    ]
    refused = api.post("/v1/routes/import", content=json.dumps(routes), headers=JSON)
    assert refused.status_code == 422, refused.text
    reasons = {r["row"]: (r.get("field"), r["reason"]) for r in refused.json()["refused"]}
    assert sorted(reasons) == [3, 4, 5]
    assert reasons[3][0] == "target.agent"
    assert "agent 'nobody' does not exist" in reasons[3][1]
    assert reasons[4][0] == "target.flow"
    assert "target" in reasons[5][1]
    assert api.get("/v1/routes").json()["items"] == []

    answer = api.post("/v1/routes/import", content=json.dumps(routes[:2]), headers=JSON)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["imported"] == 2
    assert any("row 2" in w and "shadowed by route" in w for w in body["warnings"]), body
    (record,) = _imports(api, "route.import")
    assert record["after"] == {"count": 2, "format": "json"}

    exported = api.get("/v1/routes/export", params={"format": "csv"}).text
    stored = api.get("/v1/routes").json()["items"]
    for route in stored:
        api.delete(f"/v1/routes/{route['id']}")
    again = api.post("/v1/routes/import", content=exported, headers=CSV)
    assert again.status_code == 200, again.text
    restored = api.get("/v1/routes").json()["items"]
    strip = ("created_at", "updated_at", "warnings")
    assert [{k: v for k, v in r.items() if k not in strip} for r in restored] == [
        {k: v for k, v in r.items() if k not in strip} for r in stored
    ]
    as_json = api.get("/v1/routes/export", params={"format": "json"}).json()
    assert [r["id"] for r in as_json] == [r["id"] for r in stored]
    duplicate = api.post("/v1/routes/import", content=json.dumps(as_json[:1]), headers=JSON)
    assert duplicate.status_code == 422
    assert "already exists" in duplicate.json()["refused"][0]["reason"]


def test_a_route_that_shadows_hundreds_of_others_says_which(api: Api) -> None:
    routes = [
        {"name": f"n{i}", "target": {"type": "voicemail"}, "match": {"numbers": [f"+1415555{i:04d}"]}}
        for i in range(300)
    ]
    assert api.post("/v1/routes/import", content=json.dumps(routes), headers=JSON).status_code == 200
    wide = api.create(
        "/v1/routes",
        {
            "name": "wide",
            "priority": 1,
            "target": {"type": "reject", "reason": "busy"},
            "match": {"numbers": ["+1*"]},
        },
    )
    (warning,) = [w for w in wide["warnings"] if "shadows" in w]
    assert "shadows 300 route(s)" in warning
    assert "and 290 more" in warning
    assert "can never win" in warning
    later = api.create(
        "/v1/routes",
        {"name": "later", "target": {"type": "voicemail"}, "match": {"numbers": ["+14155550001"]}},
    )
    assert any(f"shadowed by route {wide['id']!r}" in w for w in later["warnings"]), later["warnings"]
    api.delete(f"/v1/routes/{wide['id']}")
    alone = api.patch(f"/v1/routes/{later['id']}", json={"priority": 99}).json()
    assert not any(wide["id"] in w for w in alone["warnings"]), "the deleted route no longer shadows"


def test_a_bad_row_after_batches_were_inserted_rolls_everything_back(api: Api) -> None:
    """Rows go in by the thousand inside one transaction: a refusal at the end undoes the batches before it."""
    before = _numbers(api)
    rows = ["number"] + [f"+1415555{i:04d}" for i in range(2500)] + ["+14155550042"]
    answer = api.post("/v1/numbers/import", content="\n".join(rows), headers=CSV)
    assert answer.status_code == 422, answer.text
    assert answer.json()["refused"] == [
        {"row": 2501, "field": "number", "reason": "+14155550042 is also on row 43: list each number once"}
    ]
    assert _numbers(api) == before
    assert not _imports(api, "number.import")
    routes = [{"name": f"r{i}", "target": {"type": "voicemail"}} for i in range(1200)]
    routes.append({"name": "bad", "target": {"type": "flow", "flow": "missing"}})
    refused = api.post("/v1/routes/import", content=json.dumps(routes), headers=JSON)
    assert refused.status_code == 422
    assert [r["row"] for r in refused.json()["refused"]] == [1201]
    assert api.get("/v1/routes").json()["items"] == []
