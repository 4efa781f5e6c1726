"""Tenancy, roles and key lifecycle: a key never reaches another project's objects."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from typing import Any

from litestar.routes import HTTPRoute
from sqlalchemy.ext.asyncio import AsyncSession

from gateway.auth.keys import Role
from gateway.bootstrap import create_key
from gateway.db.models import Call, WebSession
from gateway.ids import new_id
from gateway.settings import Settings
from tests.conftest import Api, run_db


def _second_project(api: Api) -> tuple[dict[str, Any], Api]:
    created = api.create("/v1/projects", {"slug": "acme", "name": "Acme", "default_region": "GB"})
    return created["project"], api.as_(created["admin_key"])


def _objects_of(api: Api, settings: Settings) -> dict[str, str]:
    """One object of every kind in the caller's project, by the collection path it lives under."""
    trunk = api.create("/v1/trunks", {"direction": "inbound", "name": "t"})
    project_id = api.get("/v1/projects").json()["items"][0]["id"]

    async def add_call(session: AsyncSession) -> str:
        call = Call(
            id=new_id("call"),
            project_id=project_id,
            direction="inbound",
            carrier="twilio",
            carrier_call_id="CA" + "0" * 32,
            from_e164="+14155550100",
            to_e164="+14155550101",
        )
        session.add(call)
        await session.commit()
        return call.id

    async def add_session(session: AsyncSession) -> str:
        row = WebSession(id=new_id("ses"), project_id=project_id, room="r", identity="visitor", meta={})
        session.add(row)
        await session.commit()
        return row.id

    return {
        "/v1/sessions": run_db(settings, add_session),
        "/v1/projects": project_id,
        "/v1/api-keys": api.create("/v1/api-keys", {"name": "k", "role": "viewer"})["id"],
        "/v1/trunks": trunk["id"],
        "/v1/numbers": api.create("/v1/numbers", {"number": "+14155550123"})["id"],
        "/v1/routes": api.create("/v1/routes", {"name": "r", "target": {"type": "reject", "reason": "busy"}})[
            "id"
        ],
        "/v1/dispatch-rules": api.create("/v1/dispatch-rules", {"name": "d", "kind": "individual"})["id"],
        "/v1/agents": api.create("/v1/agents", {"name": "a"})["id"],
        "/v1/webhooks": api.create("/v1/webhooks", {"url": "https://e.com/h", "events": ["*"]})["id"],
        "/v1/calls": run_db(settings, add_call),
        "/v1/flows": _put(api, "/v1/flows/bye", content=b"start: bye\nsteps:\n  bye:\n    type: hangup\n"),
        "/v1/flow-secrets": _put(api, "/v1/flow-secrets/crm_token", json={"value": "s3cr3t"}),
    }


def _put(api: Api, path: str, **body: Any) -> str:
    response = api.put(path, **body)
    assert response.status_code == 200, response.text
    return path.rsplit("/", 1)[-1]


UPSERTS = ("/v1/flows/", "/v1/flow-secrets/")
"""Objects named by the caller: a PUT there writes the caller's own object of that name (tested in
tests/integration/flows/test_flow_tenancy.py), so it is no probe of someone else's."""
ACTION_BODIES = {"transfer": {"to": "+14155550188"}, "dtmf": {"digits": "1"}}
"""Valid bodies for POST actions on an object, so the scope check (not body validation) answers."""


def _by_id_endpoints(api: Api) -> list[tuple[str, str]]:
    endpoints = []
    for route in api.client.app.routes:
        if not isinstance(route, HTTPRoute):
            continue
        if route.path.startswith("/v1/") and "{" in route.path:
            methods = route.methods - {"HEAD", "OPTIONS"}
            if route.path.startswith(UPSERTS):
                methods -= {"PUT"}
            endpoints += [(m, route.path) for m in sorted(methods)]
    return endpoints


def test_every_by_id_endpoint_hides_foreign_objects(api: Api, settings: Settings) -> None:
    owned = _objects_of(api, settings)
    _, other = _second_project(api)
    endpoints = _by_id_endpoints(api)
    assert len(endpoints) >= 24, endpoints
    checked = 0
    for method, path in endpoints:
        collection = re.sub(r"/\{[^}]+\}.*$", "", path)
        assert collection in owned, f"no fixture object for {path}; add one to _objects_of"
        url = re.sub(r"\{[^}]+\}", owned[collection], path)
        body = {"name": "stolen"} if method == "PATCH" else ACTION_BODIES.get(path.rsplit("/", 1)[-1])
        response = other.request(method, url, json=body)
        assert response.status_code == 404, (method, url, response.status_code, response.text)
        checked += 1
    assert checked == len(endpoints)
    # and nothing changed for the owner
    for collection, object_id in owned.items():
        assert api.get(f"{collection}/{object_id}").status_code == 200, collection


def test_lists_only_show_the_callers_project(api: Api) -> None:
    api.create("/v1/agents", {"name": "mine"})
    _, other = _second_project(api)
    assert other.get("/v1/agents").json()["items"] == []
    assert [p["slug"] for p in other.get("/v1/projects").json()["items"]] == ["acme"]
    assert {p["slug"] for p in api.get("/v1/projects").json()["items"]} == {"default", "acme"}


def test_numbers_are_unique_across_projects(api: Api) -> None:
    api.create("/v1/numbers", {"number": "+442079460018"})
    _, other = _second_project(api)
    clash = other.post("/v1/numbers", json={"number": "020 7946 0018"})
    assert clash.status_code == 409
    assert clash.json()["field"] == "number"
    assert other.get("/v1/numbers").json()["items"] == []


def test_viewer_reads_but_cannot_change(api: Api) -> None:
    viewer = api.as_(api.create("/v1/api-keys", {"name": "v", "role": "viewer"})["token"])
    assert viewer.get("/v1/agents").status_code == 200
    denied = viewer.post("/v1/agents", json={"name": "x"})
    assert denied.status_code == 403
    assert "operator" in denied.json()["detail"]
    assert api.get("/v1/agents").json()["items"] == []
    operator = api.as_(api.create("/v1/api-keys", {"name": "o", "role": "operator"})["token"])
    assert operator.post("/v1/agents", json={"name": "x"}).status_code == 201
    assert operator.get("/v1/api-keys").status_code == 403, "key management needs admin"
    assert operator.post("/v1/projects", json={"slug": "zz", "name": "z"}).status_code == 403


def test_only_default_project_admins_create_projects(api: Api) -> None:
    _, other = _second_project(api)
    assert other.post("/v1/projects", json={"slug": "evil", "name": "Evil"}).status_code == 403


def test_revoked_and_expired_keys_get_401(api: Api, settings: Settings) -> None:
    created = api.create("/v1/api-keys", {"name": "temp", "role": "admin"})
    temp = api.as_(created["token"])
    assert temp.get("/v1/agents").status_code == 200
    assert api.delete(f"/v1/api-keys/{created['id']}").status_code == 204
    revoked = temp.get("/v1/agents")
    assert revoked.status_code == 401
    assert "revoked" in revoked.json()["detail"]

    async def expired_key(session: AsyncSession) -> str:
        past = datetime.now(UTC) - timedelta(seconds=1)
        return (
            await create_key(session, project_slug="default", role=Role.admin, name="old", expires_at=past)
        ).token

    expired = api.as_(run_db(settings, expired_key)).get("/v1/agents")
    assert expired.status_code == 401
    assert "expired" in expired.json()["detail"]
    future = api.create(
        "/v1/api-keys", {"name": "later", "role": "viewer", "expires_at": "2099-01-01T00:00:00Z"}
    )
    assert api.as_(future["token"]).get("/v1/agents").status_code == 200
    past = api.post(
        "/v1/api-keys", json={"name": "bad", "role": "viewer", "expires_at": "2001-01-01T00:00:00Z"}
    )
    assert past.status_code == 422


def test_bad_credentials(api: Api) -> None:
    for header in ["", "Basic abc", "Bearer nonsense", "Bearer tlk_key_AAAA_wrongsecret"]:
        response = api.client.get("/v1/agents", headers={"Authorization": header} if header else {})
        assert response.status_code == 401, header
        assert response.headers["content-type"].startswith("application/problem+json")
    token = api.token
    tampered = token[:-2] + ("A" if token[-2] != "A" else "B") + token[-1]
    assert api.as_(tampered).get("/v1/agents").status_code == 401


def test_flow_writes_need_an_admin(api: Api) -> None:
    flow = b"start: bye\nsteps:\n  bye:\n    type: hangup\n"
    operator = api.as_(api.create("/v1/api-keys", {"name": "o", "role": "operator"})["token"])
    assert operator.put("/v1/flows/bye", content=flow).status_code == 403
    assert operator.put("/v1/flow-secrets/crm", json={"value": "x"}).status_code == 403
    assert api.put("/v1/flows/bye", content=flow).status_code == 200
    assert operator.delete("/v1/flows/bye").status_code == 403
    assert operator.get("/v1/flows/bye").status_code == 200


def test_a_tenant_admin_stays_within_the_limits_its_platform_admin_sets(api: Api) -> None:
    project, tenant = _second_project(api)
    url = f"/v1/projects/{project['id']}"
    assert tenant.get(url).json()["limits"] == {
        "allow_high_cost": False,
        "max_calls_per_second": 5.0,
        "allowed_destination_countries": None,
    }
    for outbound, why in (
        ({"allow_high_cost": True}, "allow_high_cost"),
        ({"calls_per_second": 100}, "calls_per_second: at most 5"),
    ):
        refused = tenant.patch(url, json={"outbound": outbound})
        assert refused.status_code == 403, refused.text
        assert why in refused.json()["detail"]
    assert tenant.patch(url, json={"limits": {"max_calls_per_second": 100}}).status_code == 403
    assert tenant.patch(url, json={"outbound": {"calls_per_second": 5}}).status_code == 200
    # the platform admin raises the cap; lowering it later caps what the tenant set
    raised = {"limits": {"max_calls_per_second": 50, "allowed_destination_countries": ["GB", "IE"]}}
    assert api.patch(url, json=raised).status_code == 200
    assert tenant.patch(url, json={"outbound": {"calls_per_second": 40}}).status_code == 200
    refused = tenant.patch(url, json={"outbound": {"allowed_destination_countries": ["GB", "CU"]}})
    assert refused.status_code == 403
    assert "CU" in refused.json()["detail"]
    assert api.patch(url, json={"limits": {"max_calls_per_second": 2}}).status_code == 200
    assert tenant.get(url).json()["outbound"]["calls_per_second"] == 40  # as set, but capped in force:
    route = {
        "name": "premium",
        "match": {"numbers": ["+442079460000"]},
        "target": {"type": "forward", "number": "+442079460018"},
    }
    assert tenant.post("/v1/routes", json=route).status_code == 201
    api.patch(url, json={"limits": {"allowed_destination_countries": ["IE"]}})
    refused = tenant.post("/v1/routes", json={**route, "name": "again"})
    assert refused.status_code == 403, "limits lowered after the tenant set its policy still apply"
