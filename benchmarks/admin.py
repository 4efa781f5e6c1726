"""Foundation figures: start-up to ready and idle RSS of `trunkline serve`; admin API throughput (create-number,
list-numbers) against a bare Litestar endpoint served the same way in the same run, runs alternating, with the
server CPU time per request of each (`*_cpu_ratio_to_bare`: steadier than requests/s on a shared machine). Goals
(issue 12): list >= 0.2x of the bare GET, create >= 0.1x of the bare POST. Last line: one JSON object."""

from __future__ import annotations

import json
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import (
    PYTHON,
    SERVER_CORE,
    bare_server,
    cpu_seconds,
    pinned,
    process,
    rss_mb,
    wait_ready,
    with_cpu,
    wrk,
)
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


SECONDS = 8
RUNS = 2
"""Alternating runs per case; the best is reported (another tenant can take the core for part of a run)."""


def throughput(work: Path) -> dict[str, float]:
    """The gateway and the bare app served side by side on the same core, their runs alternating, so a burst of
    other work on this shared machine hits both; CPU time per request is read from /proc for each run."""
    (work / "bare_post.lua").write_text(BARE_POST_LUA)
    port, bare_port = free_port(), free_port()
    runs: dict[str, list[dict[str, float]]] = {
        name: [] for name in ("create_number", "list_numbers", "bare_get", "bare_post")
    }
    cmd = [*pinned(SERVER_CORE), PYTHON, "-m", "gateway", "serve"]
    with process(cmd, gateway_env(work / "tp.db", port)) as proc, process(bare_server(bare_port)) as bare:
        base, bare_base = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
        wait_ready(f"{base}/health/ready")
        wait_ready(f"{bare_base}/bare")
        token = create_key(work / "tp.db")
        auth = {"Authorization": f"Bearer {token}"}
        for i in range(200):
            httpx.post(f"{base}/v1/numbers", json={"number": f"+1213{3000000 + i:07d}"}, headers=auth)
        for run in range(RUNS):
            (work / "create.lua").write_text(
                CREATE_LUA.replace("TOKEN", token).replace("2000000", f"{run + 2}000000")
            )
            cases: tuple[tuple[str, int, Callable[[], dict[str, float]]], ...] = (
                (
                    "create_number",
                    proc.pid,
                    lambda: wrk(base, seconds=SECONDS, script=work / "create.lua", headers=auth),
                ),
                (
                    "list_numbers",
                    proc.pid,
                    lambda: wrk(f"{base}/v1/numbers?limit=50", seconds=SECONDS, headers=auth),
                ),
                ("bare_get", bare.pid, lambda: wrk(f"{bare_base}/bare", seconds=SECONDS)),
                (
                    "bare_post",
                    bare.pid,
                    lambda: wrk(bare_base, seconds=SECONDS, script=work / "bare_post.lua"),
                ),
            )
            for name, pid, measure in cases:
                cpu_before = cpu_seconds(pid)
                runs[name].append(with_cpu(measure(), cpu_before, pid, SECONDS))
        assert proc.poll() is None
    best = {name: max(measured, key=lambda figures: figures["rps"]) for name, measured in runs.items()}
    results: dict[str, float] = {}
    for name, figures in best.items():
        for key, value in figures.items():
            results[f"{name}_{key}"] = round(value, 2)
    for name, bare_name in (("create_number", "bare_post"), ("list_numbers", "bare_get")):
        results[f"{name}_ratio_to_bare"] = round(best[name]["rps"] / best[bare_name]["rps"], 3)
        results[f"{name}_cpu_ratio_to_bare"] = round(
            best[bare_name]["cpu_us_per_request"] / best[name]["cpu_us_per_request"], 3
        )
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
        figures: dict[str, float | bool] = {**startup(work), **throughput(work)}
    for key, value in figures.items():
        print(f"{key:36} {value}")
    figures["targets_met"] = figures["restart_ready_s"] < 2 and figures["idle_rss_mb"] < 150
    figures["goal_list_met"] = figures["list_numbers_ratio_to_bare"] >= 0.2
    figures["goal_create_met"] = figures["create_number_ratio_to_bare"] >= 0.1
    print(json.dumps({"benchmark": "admin", **figures}))


if __name__ == "__main__":
    main()
