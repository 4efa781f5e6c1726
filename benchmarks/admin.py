"""Foundation figures: start-up to ready and idle RSS of `trunkline serve`; admin API throughput (create-number,
list-numbers) against a bare Litestar endpoint served the same way in the same run. Last line: one JSON object."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import PYTHON, SERVER_CORE, bare_server, pinned, process, rss_mb, wait_ready, wrk
from tests.support.live_server import free_port

CREATE_LUA = """
auth = "Bearer TOKEN"
counter = 0
request = function()
  counter = counter + 1
  local body = string.format('{"number":"+1212%07d"}', 2000000 + counter)
  return wrk.format("POST", "/v1/numbers", {["Content-Type"]="application/json", ["Authorization"]=auth}, body)
end
"""
BARE_POST_LUA = """
request = function()
  return wrk.format("POST", "/bare", {["Content-Type"]="application/json"}, '{"number":"+12122000001"}')
end
"""


def gateway_env(db: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{db}",
        "TRUNKLINE_PORT": str(port),
        "TRUNKLINE_LOG_LEVEL": "WARNING",
        "TRUNKLINE_FLOWS_DIR": str(db.parent / "flows"),
    }


def startup(work: Path) -> dict[str, float]:
    db = work / "startup.db"
    (work / "flows").mkdir(exist_ok=True)
    first, restarts, rss = 0.0, [], 0.0
    for attempt in range(4):
        port = free_port()
        start = time.perf_counter()
        with process([PYTHON, "-m", "gateway", "serve"], gateway_env(db, port)) as proc:
            wait_ready(f"http://127.0.0.1:{port}/health/ready")
            elapsed = time.perf_counter() - start
            if attempt == 0:
                first = elapsed
            else:
                restarts.append(elapsed)
            time.sleep(1.0)
            rss = rss_mb(proc.pid)
    return {
        "first_start_ready_s": round(first, 3),
        "restart_ready_s": round(statistics.median(restarts), 3),
        "idle_rss_mb": round(rss, 1),
    }


def throughput(work: Path) -> dict[str, float]:
    (work / "bare_post.lua").write_text(BARE_POST_LUA)
    port = free_port()
    results: dict[str, float] = {}
    cmd = [*pinned(SERVER_CORE), PYTHON, "-m", "gateway", "serve"]
    with process(cmd, gateway_env(work / "tp.db", port)) as proc:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/health/ready")
        token = create_key(work / "tp.db")
        auth = {"Authorization": f"Bearer {token}"}
        (work / "create.lua").write_text(CREATE_LUA.replace("TOKEN", token))
        for i in range(200):
            httpx.post(f"{base}/v1/numbers", json={"number": f"+1213{3000000 + i:07d}"}, headers=auth)
        created = wrk(f"{base}", script=work / "create.lua", headers=auth)
        listed = wrk(f"{base}/v1/numbers?limit=50", headers=auth)
        assert proc.poll() is None
    port = free_port()
    bare_cmd = bare_server(port)
    with process(bare_cmd):
        wait_ready(f"http://127.0.0.1:{port}/bare")
        bare_get = wrk(f"http://127.0.0.1:{port}/bare")
        bare_post = wrk(f"http://127.0.0.1:{port}", script=work / "bare_post.lua")
    for name, figures in (
        ("create_number", created),
        ("list_numbers", listed),
        ("bare_get", bare_get),
        ("bare_post", bare_post),
    ):
        for key, value in figures.items():
            results[f"{name}_{key}"] = round(value, 2)
    results["create_number_ratio_to_bare"] = round(created["rps"] / bare_post["rps"], 3)
    results["list_numbers_ratio_to_bare"] = round(listed["rps"] / bare_get["rps"], 3)
    return results


def create_key(db: Path) -> str:
    import subprocess

    out = subprocess.run(
        [PYTHON, "-m", "gateway", "keys", "create", "--project", "default", "--role", "admin"],
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{db}", "PATH": "/usr/bin:/bin"},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="trunkline-bench-") as tmp:
        work = Path(tmp)
        figures = {**startup(work), **throughput(work)}
    for key, value in figures.items():
        print(f"{key:36} {value}")
    figures["targets_met"] = figures["restart_ready_s"] < 2 and figures["idle_rss_mb"] < 150  # type: ignore[assignment]
    print(json.dumps({"benchmark": "admin", **figures}))


if __name__ == "__main__":
    main()
