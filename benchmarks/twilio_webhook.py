"""Twilio voice webhook throughput: signature check + routing + call record insert + TwiML, under wrk.

`trunkline serve` on SQLite (TRUNKLINE_LOG_LEVEL=WARNING) is pinned to core 0 and wrk to core 1. wrk replays
pre-signed requests with unique CallSids (every request is a new call), against a project with 50 routes, for two
answers: the sample IVR flow's first turn (main_menu) and a forward. The same requests also hit a bare Litestar
form-POST endpoint served the same way at the same time (runs alternate), for the ratio. Each figure is the best
of `RUNS` runs, with the server's CPU time per request during that run (`cpu_ratio_to_bare` compares those: a
steadier reading than requests/s when another tenant takes the core for part of a run; the goal is read from
requests/s). Last line: one JSON object.

Goal: >= 1,000 webhooks/s with p99 < 50 ms, and at least a third of the bare endpoint's throughput.
"""

from __future__ import annotations

import json
import shutil
import sqlite3
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from benchmarks._support import (
    PYTHON,
    ROOT,
    SERVER_CORE,
    bare_server,
    cpu_seconds,
    pinned,
    process,
    wait_ready,
    with_cpu,
    wrk,
)
from benchmarks._twilio_requests import replay_script, write_requests
from tests.support.live_server import free_port

ACCOUNT_SID = "AC" + "be" * 16
AUTH_TOKEN = "7e" * 16
FLOW_NUMBER = "+442079460000"
FORWARD_NUMBER = "+442079460001"
FILLER_ROUTES = 48
SECONDS = 8
CONNECTIONS = 16
RUNS = 2
"""wrk runs per case; the best is reported (the machine is shared: a run can lose its core to other work)."""
REQUESTS_PER_RUN = 30_000
"""Unique calls per run (each run has its own): more than it can send, so no request replays a CallSid (a retry)."""


def gateway_env(work: Path, port: int) -> dict[str, str]:
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "TRUNKLINE_PORT": str(port),
        "TRUNKLINE_LOG_LEVEL": "WARNING",
        "TRUNKLINE_FLOWS_DIR": str(work / "flows"),
        "TRUNKLINE_PUBLIC_URL": f"http://127.0.0.1:{port}",
        "TWILIO_ACCOUNT_SID": ACCOUNT_SID,
        "TWILIO_AUTH_TOKEN": AUTH_TOKEN,
        "PATH": "/usr/bin:/bin",
    }


def admin_key(env: dict[str, str]) -> str:
    out = subprocess.run(
        [PYTHON, "-m", "gateway", "keys", "create", "--project", "default", "--role", "admin"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        cwd=ROOT,
    )
    return out.stdout.strip().splitlines()[-1]


def add_routes(base: str, token: str) -> None:
    with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as api:
        (project,) = api.get("/v1/projects").json()["items"]
        allow = {"outbound": {"allowed_destination_countries": ["US", "GB"]}}  # the forwards go to London
        api.patch(f"/v1/projects/{project['id']}", json=allow).raise_for_status()
        routes = [
            {
                "name": "main line",
                "target": {"type": "flow", "flow": "main_menu"},
                "match": {"numbers": [FLOW_NUMBER]},
            },
            {
                "name": "forward",
                "target": {"type": "forward", "number": "+442079460123"},
                "match": {"numbers": [FORWARD_NUMBER]},
            },
        ]
        routes += [
            {
                "name": f"filler {i}",
                "priority": 50 + i,
                "target": {"type": "forward", "number": "+442079460124"},
                "match": {"numbers": [f"+4420794611{i:02d}"], "caller": {"countries": ["GB"]}},
            }
            for i in range(FILLER_ROUTES)
        ]
        for route in routes:
            response = api.post("/v1/routes", json=route)
            response.raise_for_status()


def warm_up(base: str, work: Path) -> None:
    """Some calls before measuring: the account and its compiled routes are cached on the first one."""
    warm = work / "warm.txt"
    write_requests(
        warm,
        url=f"{base}/carriers/twilio/voice",
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        to=FLOW_NUMBER,
        count=200,
        seed=99,
    )
    with httpx.Client(timeout=10) as client:
        for line in warm.read_text().splitlines():
            signature, body = line.split("\t", 1)
            response = client.post(
                f"{base}/carriers/twilio/voice",
                content=body,
                headers={
                    "Content-Type": "application/x-www-form-urlencoded",
                    "X-Twilio-Signature": signature,
                },
            )
            response.raise_for_status()


def best(runs: list[dict[str, float]]) -> dict[str, float]:
    return dict(max(runs, key=lambda run: run["rps"]))


def calls_in(db: Path) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute("SELECT count(*) FROM calls").fetchone()[0])


def signed_requests(work: Path, base: str, name: str, number: str, run: int, seed: int) -> Path:
    requests = work / f"{name}_{run}.txt"
    write_requests(
        requests,
        url=f"{base}/carriers/twilio/voice",
        account_sid=ACCOUNT_SID,
        auth_token=AUTH_TOKEN,
        to=number,
        count=REQUESTS_PER_RUN,
        seed=seed,
    )
    return requests


def measure(work: Path) -> dict[str, dict[str, float]]:
    """Gateway and bare endpoint served side by side on the same core; their runs alternate, so a burst of other
    work on this shared machine hits both."""
    (work / "flows").mkdir()
    for flow in (ROOT / "ivr_flows").glob("*.yaml"):
        shutil.copy(flow, work / "flows" / flow.name)
    port, bare_port = free_port(), free_port()
    base, bare = f"http://127.0.0.1:{port}", f"http://127.0.0.1:{bare_port}"
    env = gateway_env(work, port)
    cases = (("voice_flow", FLOW_NUMBER), ("voice_forward", FORWARD_NUMBER))
    runs: dict[str, list[dict[str, float]]] = {name: [] for name, _ in (*cases, ("bare_twiml", ""))}
    recorded: dict[str, int] = dict.fromkeys(runs, 0)
    with (
        process([*pinned(SERVER_CORE), PYTHON, "-m", "gateway", "serve"], env) as server,
        process(bare_server(bare_port)) as bare_server_process,
    ):
        wait_ready(f"{base}/health/ready")
        wait_ready(f"{bare}/bare")
        add_routes(base, admin_key(env))
        warm_up(base, work)
        for run in range(RUNS):
            for case, (name, number) in enumerate(cases):
                requests = signed_requests(work, base, name, number, run, seed=10 * case + run)
                script = replay_script(work / f"{name}_{run}.lua", requests, "/carriers/twilio/voice")
                before, cpu_before = calls_in(work / "bench.db"), cpu_seconds(server.pid)
                runs[name].append(
                    with_cpu(
                        wrk(base, seconds=SECONDS, connections=CONNECTIONS, script=script),
                        cpu_before,
                        server.pid,
                        SECONDS,
                    )
                )
                recorded[name] += calls_in(work / "bench.db") - before
            script = replay_script(work / f"bare_{run}.lua", work / f"voice_flow_{run}.txt", "/bare/twiml")
            cpu_before = cpu_seconds(bare_server_process.pid)
            measured = wrk(bare, seconds=SECONDS, connections=CONNECTIONS, script=script)
            runs["bare_twiml"].append(with_cpu(measured, cpu_before, bare_server_process.pid, SECONDS))
        assert server.poll() is None, "the gateway died during the run"
    results = {}
    for name, measured in runs.items():
        results[name] = best(measured)
        if name != "bare_twiml":
            results[name]["calls_recorded"] = recorded[name]
            results[name]["requests_sent"] = round(sum(run["rps"] for run in measured) * SECONDS)
    return results


def main() -> None:
    with tempfile.TemporaryDirectory(prefix="trunkline-twilio-bench-") as tmp:
        work = Path(tmp)
        measured = measure(work)
        bare = measured.pop("bare_twiml")
        gateway = measured
    figures: dict[str, float | bool] = {}
    for name, values in (*gateway.items(), ("bare_twiml", bare)):
        for key, value in values.items():
            figures[f"{name}_{key}"] = round(value, 2)
    for name in gateway:
        figures[f"{name}_ratio_to_bare"] = round(gateway[name]["rps"] / bare["rps"], 3)
        figures[f"{name}_cpu_ratio_to_bare"] = round(
            bare["cpu_us_per_request"] / gateway[name]["cpu_us_per_request"], 3
        )
    main_run = gateway["voice_flow"]
    figures["goal_rate_met"] = main_run["rps"] >= 1000 and main_run["non2xx"] == 0
    figures["goal_p99_met"] = main_run["p99_ms"] < 50
    figures["goal_ratio_met"] = main_run["rps"] / bare["rps"] >= 1 / 3
    figures["goal_met"] = all(figures[goal] for goal in ("goal_rate_met", "goal_p99_met", "goal_ratio_met"))
    for key, value in figures.items():
        print(f"{key:36} {value}")
    print(json.dumps({"benchmark": "twilio_webhook", **figures}))


if __name__ == "__main__":
    main()
