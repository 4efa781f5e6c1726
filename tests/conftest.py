"""Shared fixtures: a fresh, migrated database per test on SQLite and on PostgreSQL, and an API client."""

from __future__ import annotations

import asyncio
import shutil
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from litestar.testing import TestClient

from gateway.app import create_app
from gateway.db.engine import create_engine
from gateway.db.migrate import upgrade
from gateway.settings import Settings, load_settings
from tests.support.postgres import Cluster, running_cluster

ENGINES = ["sqlite", "postgresql"]


def _migrate(url: str) -> None:
    async def run() -> None:
        engine = create_engine(url)
        await upgrade(engine)
        await engine.dispose()

    asyncio.run(run())


@pytest.fixture(scope="session")
def pg_cluster() -> Iterator[Cluster]:
    with running_cluster() as cluster:
        cluster.psql("CREATE DATABASE trunkline_template")
        _migrate(cluster.url("trunkline_template"))
        yield cluster


@pytest.fixture(scope="session")
def sqlite_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    path = tmp_path_factory.mktemp("template") / "template.db"
    _migrate(f"sqlite+aiosqlite:///{path}")
    return path


@pytest.fixture(params=ENGINES)
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    """A fresh, migrated, empty database: one run per engine."""
    if request.param == "sqlite":
        target = tmp_path / "trunkline.db"
        shutil.copyfile(request.getfixturevalue("sqlite_template"), target)
        return f"sqlite+aiosqlite:///{target}"
    cluster: Cluster = request.getfixturevalue("pg_cluster")
    name = f"t_{uuid.uuid4().hex[:12]}"
    cluster.psql(f"CREATE DATABASE {name} TEMPLATE trunkline_template")
    return cluster.url(name)


def key_env(folder: Path) -> dict[str, str]:
    """Where a test's keys and audit checkpoints live (created on first use, like a first start)."""
    return {
        "TRUNKLINE_SECRET_KEY_FILE": str(folder / "keys" / "secret.key"),
        "TRUNKLINE_AUDIT_KEY_FILE": str(folder / "keys" / "audit.key"),
        "TRUNKLINE_AUDIT_CHECKPOINTS": str(folder / "keys" / "audit-checkpoints.jsonl"),
    }


def env_of(settings: Settings) -> dict[str, str]:
    """The environment a `trunkline` subprocess needs to use the same database and keys as `settings`."""
    return {
        "DATABASE_URL": settings.database_url,
        "TRUNKLINE_SECRET_KEY_FILE": settings.secret_key_file,
        "TRUNKLINE_AUDIT_KEY_FILE": settings.audit_key_file,
        "TRUNKLINE_AUDIT_CHECKPOINTS": settings.audit_checkpoints,
        "PATH": "/usr/bin:/bin",
    }


@pytest.fixture
def settings(database_url: str, tmp_path: Path) -> Settings:
    flows = tmp_path / "flows"
    flows.mkdir()
    return load_settings(
        env={"DATABASE_URL": database_url, "TRUNKLINE_FLOWS_DIR": str(flows), **key_env(tmp_path)},
        dotenv=None,
    )


class Api:
    """A test client that remembers a bearer token; `as_(token)` switches identity."""

    def __init__(self, client: TestClient[Any], token: str) -> None:
        self.client = client
        self.token = token

    def as_(self, token: str) -> Api:
        return Api(self.client, token)

    def request(self, method: str, path: str, **kwargs: Any) -> Any:
        headers = {"Authorization": f"Bearer {self.token}", **kwargs.pop("headers", {})}
        return self.client.request(method, path, headers=headers, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.request("GET", path, **kwargs)

    def post(self, path: str, **kwargs: Any) -> Any:
        return self.request("POST", path, **kwargs)

    def patch(self, path: str, **kwargs: Any) -> Any:
        return self.request("PATCH", path, **kwargs)

    def put(self, path: str, **kwargs: Any) -> Any:
        return self.request("PUT", path, **kwargs)

    def delete(self, path: str, **kwargs: Any) -> Any:
        return self.request("DELETE", path, **kwargs)

    def create(self, path: str, body: dict[str, Any]) -> dict[str, Any]:
        response = self.post(path, json=body)
        assert response.status_code == 201, response.text
        result: dict[str, Any] = response.json()
        return result


@pytest.fixture
def client(settings: Settings) -> Iterator[TestClient[Any]]:
    app = create_app(settings, configure_logs=False)
    with TestClient(app) as test_client:
        yield test_client


@pytest.fixture
def api(client: TestClient[Any]) -> Api:
    """Authenticated as the first-run admin of the default project."""
    key = client.app.state.first_run_key
    assert key is not None
    return Api(client, key.token)


def run_db(settings: Settings, work: Any) -> Any:
    """Run `await work(session)` against the test database from outside the app (a second connection)."""
    from gateway.db.database import Database

    async def run() -> Any:
        database = Database.for_settings(settings)
        try:
            async with database.session() as session:
                return await work(session)
        finally:
            await database.dispose()

    return asyncio.run(run())
