"""Rate limits: failed authentication per client address (API key guessing, unsigned webhooks), requests per API
key; 429 problems with Retry-After; counts shared by replicas on one PostgreSQL database."""

from __future__ import annotations

import asyncio
import time
import uuid
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path

import httpx
import pytest

from gateway.app import create_app
from gateway.calls.guard import CallRateLimit
from gateway.db.engine import create_engine
from gateway.errors import RateLimited
from gateway.settings import load_settings
from gateway.web.rate_limit import DatabaseCounter
from tests.support.live_server import LiveServer, serve_in_thread
from tests.support.postgres import Cluster

pytestmark = pytest.mark.db

LIMIT = 5
WRONG_KEY = {"Authorization": "Bearer tlk_key_0123456789_notthesecret"}


@contextmanager
def gateway(database_url: str, tmp_path: Path, **env: str) -> Iterator[tuple[LiveServer, str]]:
    values = {
        "DATABASE_URL": database_url,
        "TRUNKLINE_FLOWS_DIR": str(tmp_path),
        "TRUNKLINE_RATE_LIMIT_FAILED_AUTH": str(LIMIT),
        **env,
    }
    app = create_app(load_settings(env=values, dotenv=None), configure_logs=False)
    with serve_in_thread(app) as server:
        key = app.state.first_run_key
        yield server, key.token if key is not None else ""


def _fresh_window() -> None:
    """Start counting early in a one-minute window: a window ending mid-test would reset the counts."""
    left = 60 - time.time() % 60
    if left < 20:
        time.sleep(left + 0.1)


def _from(address: str, headers: dict[str, str] | None = None) -> dict[str, str]:
    """Headers of a client at `address`, as the trusted proxy on loopback forwards it."""
    return {"X-Forwarded-For": address, **(headers or {})}


def _assert_limited(answer: httpx.Response) -> None:
    assert answer.status_code == 429, answer.text
    assert answer.headers["content-type"].startswith("application/problem+json")
    assert 1 <= int(answer.headers["retry-after"]) <= 60
    assert "retry in" in answer.json()["detail"]


def test_api_key_guessing_gets_429_after_the_limit_and_other_clients_do_not(
    database_url: str, tmp_path: Path
) -> None:
    with gateway(database_url, tmp_path) as (server, token):
        url = server.url + "/v1/numbers"
        _fresh_window()
        guesses = [httpx.get(url, headers=_from("203.0.113.7", WRONG_KEY)) for _ in range(LIMIT)]
        assert [g.status_code for g in guesses] == [401] * LIMIT
        _assert_limited(httpx.get(url, headers=_from("203.0.113.7", WRONG_KEY)))
        # the address is refused even with the right key, until the minute ends; others are not
        _assert_limited(httpx.get(url, headers=_from("203.0.113.7", {"Authorization": f"Bearer {token}"})))
        assert (
            httpx.get(url, headers=_from("198.51.100.1", {"Authorization": f"Bearer {token}"})).status_code
            == 200
        )
        assert httpx.get(url, headers=_from("198.51.100.1", WRONG_KEY)).status_code == 401
        # good requests never count
        for _ in range(LIMIT * 2):
            assert httpx.get(url, headers={"Authorization": f"Bearer {token}"}).status_code == 200


def test_unsigned_webhooks_count_against_their_address(database_url: str, tmp_path: Path) -> None:
    with gateway(database_url, tmp_path) as (server, _):
        _fresh_window()
        for path in ("/carriers/twilio/voice", "/webhooks/livekit"):
            address = f"192.0.2.{len(path)}"
            refused = [
                httpx.post(server.url + path, content=b"a=b", headers=_from(address)) for _ in range(LIMIT)
            ]
            assert all(r.status_code in (401, 403) for r in refused), [r.text for r in refused]
            _assert_limited(httpx.post(server.url + path, content=b"a=b", headers=_from(address)))
        # too large is no failed authentication
        big = b"a" * (1 << 20)
        for _ in range(LIMIT + 1):
            answer = httpx.post(
                server.url + "/carriers/twilio/voice", content=big, headers=_from("192.0.2.99")
            )
            assert answer.status_code == 413


def test_each_api_key_has_its_own_budget(database_url: str, tmp_path: Path) -> None:
    with gateway(database_url, tmp_path, TRUNKLINE_RATE_LIMIT_PER_KEY="8") as (server, token):
        admin = {"Authorization": f"Bearer {token}"}
        _fresh_window()
        created = httpx.post(
            server.url + "/v1/api-keys", json={"name": "ci", "role": "viewer"}, headers=admin
        )
        assert created.status_code == 201, created.text
        other = {"Authorization": f"Bearer {created.json()['token']}"}
        answers = [httpx.get(server.url + "/v1/numbers", headers=admin).status_code for _ in range(7)]
        assert answers == [200] * 7  # the create above was the first of 8
        _assert_limited(httpx.get(server.url + "/v1/numbers", headers=admin))
        assert httpx.get(server.url + "/v1/numbers", headers=other).status_code == 200


@pytest.fixture
def shared_database(pg_cluster: Cluster) -> str:
    name = f"t_{uuid.uuid4().hex[:12]}"
    pg_cluster.psql(f"CREATE DATABASE {name} TEMPLATE trunkline_template")
    return pg_cluster.url(name)


def test_replicas_on_one_postgresql_database_share_the_count(shared_database: str, tmp_path: Path) -> None:
    with ExitStack() as stack:
        first, _ = stack.enter_context(gateway(shared_database, tmp_path / "a"))
        second, _ = stack.enter_context(gateway(shared_database, tmp_path / "b"))
        guess = _from("203.0.113.9", WRONG_KEY)
        _fresh_window()
        assert [httpx.get(first.url + "/v1/calls", headers=guess).status_code for _ in range(3)] == [401] * 3
        assert [httpx.get(second.url + "/v1/calls", headers=guess).status_code for _ in range(2)] == [401] * 2
        _assert_limited(httpx.get(second.url + "/v1/calls", headers=guess))  # it saw 2 of the 5 itself
        # the first replica refuses the address at its next failure at the latest
        answers = [httpx.get(first.url + "/v1/calls", headers=guess).status_code for _ in range(2)]
        assert answers[-1] == 429
        assert answers[0] in (401, 429)


def test_the_calls_per_second_limit_holds_across_replicas(shared_database: str) -> None:
    """Two replicas on one PostgreSQL database place calls for one project: the limit is the project's, not each
    process's (a per-process bucket let two replicas place twice the calls)."""

    async def scenario() -> list[str]:
        engines = [create_engine(shared_database) for _ in range(2)]
        clock = [1_800_000_000.25]
        replicas = [CallRateLimit(DatabaseCounter(engine).hit, clock=lambda: clock[0]) for engine in engines]
        outcomes = []
        try:
            for replica in (*replicas, *replicas):
                try:
                    await replica.take("prj_shared", 2.0)
                    outcomes.append("placed")
                except RateLimited:
                    outcomes.append("refused")
            clock[0] += 1.0
            await replicas[1].take("prj_shared", 2.0)
            outcomes.append("placed")
        finally:
            for engine in engines:
                await engine.dispose()
        return outcomes

    assert asyncio.run(scenario()) == ["placed", "placed", "refused", "refused", "placed"]
