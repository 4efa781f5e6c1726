"""Route saves running at the same time each see every route committed before them (they take turns per project),
on SQLite and PostgreSQL: the warnings each save returned are what the whole table said at its turn."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from tests.conftest import Api

pytestmark = pytest.mark.db

WRITERS = 6
ROUTES = 24


def test_concurrent_saves_see_each_other(api: Api) -> None:
    priorities = random.Random(20).sample(range(1, 1000), ROUTES)

    def save(priority: int) -> dict[str, Any]:
        body = {"name": f"p{priority}", "priority": priority, "target": {"type": "voicemail"}}
        return api.create("/v1/routes", {**body, "match": {"numbers": ["+14155550100"]}})

    with ThreadPoolExecutor(WRITERS) as pool:
        saved = list(pool.map(save, priorities))

    records = api.get("/v1/audit-logs", params={"action": "route.create", "limit": 200}).json()["items"]
    turn = {record["object_id"]: record["seq"] for record in records}
    assert len(turn) == ROUTES
    for route in saved:
        before = [other for other in saved if turn[other["id"]] < turn[route["id"]]]
        shadowed = [w for w in route["warnings"] if "shadowed by route" in w]
        earlier = sorted(
            (o for o in before if o["priority"] < route["priority"]), key=lambda o: o["priority"]
        )
        if earlier:
            assert shadowed, (route["priority"], [o["priority"] for o in before])
            assert repr(earlier[0]["id"]) in shadowed[0]
        else:
            assert not shadowed, (route["priority"], [o["priority"] for o in before])
        later = [o for o in before if o["priority"] > route["priority"]]
        shadows = [w for w in route["warnings"] if ": shadows " in w]
        if later:
            assert f"shadows {len(later)} route(s)" in shadows[0]
        else:
            assert not shadows
