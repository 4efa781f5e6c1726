"""The baseline for ratios: a bare Litestar app with GET, JSON POST and form POST endpoints, no database, no auth."""

from __future__ import annotations

from typing import Any

from litestar import Litestar, Request, Response, get, post
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


TWIML = '<?xml version="1.0" encoding="UTF-8"?><Response><Say>Hello.</Say><Hangup /></Response>'


@post("/bare/twiml", status_code=200)
async def bare_twiml(request: Request[Any, Any, Any]) -> Response[str]:
    """A form POST answered with TwiML: what a webhook endpoint costs without signature, routing or database."""
    await request.body()
    return Response(TWIML, media_type="application/xml")


app = Litestar([bare_get, bare_post, bare_twiml], logging_config=None)
