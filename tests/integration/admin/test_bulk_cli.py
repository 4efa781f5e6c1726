"""`trunkline numbers|routes import|export` on the configured database while the server runs; the server's route
checks see what the CLI imported (its in-memory copy catches up through the audit log)."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from gateway.settings import Settings
from tests.conftest import Api, env_of

pytestmark = pytest.mark.db


def _trunkline(settings: Settings, *words: str) -> subprocess.CompletedProcess[str]:
    env = {**env_of(settings), "TRUNKLINE_FLOWS_DIR": settings.flows_dir}
    command = [sys.executable, "-m", "gateway.cli", *words]
    return subprocess.run(command, env=env, capture_output=True, text=True, check=False, timeout=120)


def test_the_cli_imports_and_exports_numbers_and_routes(api: Api, settings: Settings, tmp_path: Path) -> None:
    first = api.create(
        "/v1/routes",
        {"name": "first", "target": {"type": "voicemail"}, "match": {"numbers": ["+14155550001"]}},
    )
    numbers = tmp_path / "numbers.csv"
    numbers.write_text("number,label\n" + "".join(f"+1415555{i:04d},n{i}\n" for i in range(200)))
    done = _trunkline(settings, "numbers", "import", str(numbers))
    assert done.returncode == 0, done.stderr
    assert "imported 200 numbers" in done.stdout
    assert len(api.get("/v1/numbers", params={"limit": 200}).json()["items"]) == 200

    routes = tmp_path / "routes.json"
    routes.write_text(
        json.dumps(
            [
                {
                    "name": "wide",
                    "priority": 1,
                    "target": {"type": "voicemail"},
                    "match": {"numbers": ["+1415*"]},
                },
                {"name": "bad", "target": {"type": "agent", "agent": "nobody"}},
            ]
        )
    )
    refused = _trunkline(settings, "routes", "import", str(routes))
    assert refused.returncode == 1
    assert "row 2: target.agent:" in refused.stderr
    routes.write_text(json.dumps(json.loads(routes.read_text())[:1]))
    done = _trunkline(settings, "routes", "import", str(routes))
    assert done.returncode == 0, done.stderr

    again = api.patch(f"/v1/routes/{first['id']}", json={"name": "first again"}).json()
    assert any("shadowed by route" in w for w in again["warnings"]), "the server sees the CLI's import"

    exported = _trunkline(settings, "numbers", "export", "--format", "json")
    assert exported.returncode == 0, exported.stderr
    assert len(json.loads(exported.stdout)) == 200
    out = tmp_path / "routes-out.csv"
    assert _trunkline(settings, "routes", "export", "-o", str(out)).returncode == 0
    assert out.read_text().splitlines()[0] == "id,name,priority,enabled,target,match,fallback,dispatch"
    assert len(out.read_text().splitlines()) == 3
