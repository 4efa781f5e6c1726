"""The baseline for ratios: a bare Litestar app with one GET and one POST endpoint, no database, no auth."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, get, post
from litestar.params import JSONBody

PAGE = [
    {
        "id": f"num_01M80ERYGRNV5STQTRQ5599P{i:02d}",
        "number": f"+1213300{i:04d}",
        "region": "US",
        "trunk_id": None,
        "label": "",
        "created_at": "2026-11-22T01:43:47.483066Z",
        "updated_at": "2026-11-22T01:43:47.483066Z",
    }
    for i in range(50)
]


@get("/bare", sync_to_thread=False)
def bare_get() -> dict[str, Any]:
    """The same page of 50 numbers the gateway returns, without database or auth."""
    return {"items": PAGE, "next_after": PAGE[-1]["id"]}


@post("/bare", sync_to_thread=False)
def bare_post(data: JSONBody[dict[str, Any]]) -> dict[str, Any]:
    return {"id": "num_1", **data}


app = Litestar([bare_get, bare_post], logging_config=None)
