"""LiveKit integration figures: gateway work per outbound call setup, and LiveKit webhook ingest under load.

Call setup: `trunkline serve` (SQLite, pinned to core 0) places answered calls (`wait_until_answered`) through
the LiveKit stand-in; the LiveKit API calls made per setup are counted from the stand-in's request log, and the
time the gateway adds is the setup latency minus the same LiveKit calls made directly with livekit-api.

Webhook ingest: wrk (pinned to core 1) replays pre-signed, unique webhook bodies - whole inbound calls (room
started, agent joined, SIP participant joined, SIP participant left, agent left, room finished) - against the
gateway, then only the SIP participant events (every one writes a call record), and a bare Litestar POST
endpoint is measured the same way in the same run. Last line: one JSON object.

    .venv/bin/python benchmarks/livekit_calls.py [--seconds 8] [--calls 100]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import sqlite3
import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import httpx
from livekit import api
from livekit.protocol import models as proto_models

from benchmarks._support import (
    LOAD_CORE,
    PYTHON,
    SERVER_CORE,
    cpu_seconds,
    pinned,
    process,
    wait_ready,
    with_cpu,
    wrk,
)
from tests.support.live_server import free_port
from tests.support.livekit_standin import StandInThread
from tests.support.livekit_standin.webhooks import build_event, encode_event, sign_body

CONNECTIONS = 16
DID = "+14155550100"
CALLEE = "+14155550177"
SETUP_CALLS = ("livekit.RoomService/CreateRoom", "livekit.SIP/CreateSIPParticipant")

REPLAY_LUA = """
local requests = {}
init = function(args)
  for line in io.lines("BODIES") do
    local tab = string.find(line, "\\t", 1, true)
    local headers = {["Content-Type"] = "application/webhook+json", ["Authorization"] = string.sub(line, 1, tab - 1)}
    requests[#requests + 1] = wrk.format("POST", "PATH", headers, string.sub(line, tab + 1))
  end
end
local i = 0
request = function()
  i = i + 1
  if i > #requests then i = 1 end
  return requests[i]
end
"""


def gateway_env(work: Path, port: int, standin: StandInThread) -> dict[str, str]:
    (work / "flows").mkdir(exist_ok=True)
    return {
        "DATABASE_URL": f"sqlite+aiosqlite:///{work / 'bench.db'}",
        "TRUNKLINE_PORT": str(port),
        "TRUNKLINE_LOG_LEVEL": "WARNING",
        "TRUNKLINE_FLOWS_DIR": str(work / "flows"),
        "LIVEKIT_URL": standin.url,
        "LIVEKIT_API_KEY": standin.api_key,
        "LIVEKIT_API_SECRET": standin.api_secret,
    }


def admin_key(db: Path) -> str:
    import subprocess

    out = subprocess.run(
        [PYTHON, "-m", "gateway", "keys", "create", "--project", "default", "--role", "admin"],
        env={"DATABASE_URL": f"sqlite+aiosqlite:///{db}", "PATH": os.environ.get("PATH", "/usr/bin:/bin")},
        capture_output=True,
        text=True,
        check=True,
    )
    return out.stdout.strip().splitlines()[-1]


# --- call setup ---------------------------------------------------------------------------------------------


def prepare_outbound(http: httpx.Client) -> None:
    (project,) = http.get("/v1/projects").json()["items"]
    http.patch(
        f"/v1/projects/{project['id']}", json={"outbound": {"calls_per_second": 100}}
    ).raise_for_status()
    http.post(
        "/v1/trunks",
        json={"direction": "outbound", "name": "out", "address": "sip.carrier.example", "numbers": [DID]},
    ).raise_for_status()
    http.post("/v1/numbers", json={"number": DID}).raise_for_status()
    http.post("/v1/agents", json={"name": "caller", "instructions": "Hello."}).raise_for_status()
    report = http.post("/v1/sync").json()
    assert report["status"] == "ok", report
    time.sleep(0.5)  # let the background sync triggered by the changes above finish too


def call_setup(http: httpx.Client, standin: StandInThread, calls: int) -> dict[str, float]:
    body = {"carrier": "livekit", "to": CALLEE, "from": DID, "agent": "caller", "wait_until_answered": True}
    for _ in range(5):
        http.post("/v1/calls", json=body).raise_for_status()
    before = len(standin.standin.requests)
    samples = []
    for _ in range(calls):
        started = time.perf_counter()
        response = http.post("/v1/calls", json=body)
        samples.append((time.perf_counter() - started) * 1000)
        assert response.status_code == 201, response.text
        assert response.json()["status"] == "answered", response.text
    made = standin.standin.requests[before:]
    samples.sort()
    return {
        "livekit_calls_per_setup": len(made) / calls,
        "setup_calls_only": float(all(m in SETUP_CALLS for m in made)),
        "setup_p50_ms": statistics.median(samples),
        "setup_p99_ms": samples[int(len(samples) * 0.99) - 1],
    }


def direct_setup(standin: StandInThread, calls: int) -> float:
    """p50 ms of the same two LiveKit calls made straight from livekit-api: the stand-in's own share."""

    async def run() -> float:
        async with api.LiveKitAPI(standin.url, standin.api_key, standin.api_secret) as client:
            trunk = await client.sip.create_outbound_trunk(
                api.CreateSIPOutboundTrunkRequest(
                    trunk=api.SIPOutboundTrunkInfo(name="direct", address="sip.example", numbers=[DID])
                )
            )
            samples = []
            for i in range(calls + 5):
                started = time.perf_counter()
                room = f"direct-{i}"
                await client.room.create_room(
                    api.CreateRoomRequest(name=room, agents=[api.RoomAgentDispatch(agent_name="caller")])
                )
                await client.sip.create_sip_participant(
                    api.CreateSIPParticipantRequest(
                        sip_trunk_id=trunk.sip_trunk_id,
                        sip_call_to=CALLEE,
                        room_name=room,
                        wait_until_answered=True,
                    )
                )
                if i >= 5:
                    samples.append((time.perf_counter() - started) * 1000)
            return statistics.median(samples)

    return asyncio.run(run())


# --- webhooks -----------------------------------------------------------------------------------------------


def call_events(n: int, now: int, *, sip_only: bool) -> list[str]:
    room = proto_models.Room(sid=f"RM_bench{n}", name=f"call-bench-{n}")
    sip = proto_models.ParticipantInfo(
        sid=f"PA_sip{n}",
        identity=f"sip_bench_{n}",
        kind=proto_models.ParticipantInfo.Kind.SIP,
        joined_at=now,
        attributes={
            "sip.callID": f"SCL_bench_{n}",
            "sip.callStatus": "active",
            "sip.phoneNumber": f"+1415{5550000 + n % 10000:07d}",
            "sip.trunkPhoneNumber": DID,
            "sip.trunkID": "ST_bench",
            "sip.ruleID": "SDR_bench",
        },
    )
    agent = proto_models.ParticipantInfo(
        sid=f"PA_agent{n}", identity=f"agent-{n}", kind=proto_models.ParticipantInfo.Kind.AGENT, joined_at=now
    )
    left = proto_models.ParticipantInfo()
    left.CopyFrom(sip)
    left.disconnect_reason = proto_models.DisconnectReason.CLIENT_INITIATED
    sip_events = [
        build_event("participant_joined", room=room, participant=sip),
        build_event("participant_left", room=room, participant=left),
    ]
    if sip_only:
        return [encode_event(e) for e in sip_events]
    events = [
        build_event("room_started", room=room),
        build_event("participant_joined", room=room, participant=agent),
        *sip_events,
        build_event("participant_left", room=room, participant=agent),
        build_event("room_finished", room=room),
    ]
    return [encode_event(e) for e in events]


def write_bodies(path: Path, count: int, standin: StandInThread, *, sip_only: bool, offset: int) -> int:
    now = int(time.time())
    lines = []
    n = offset
    while len(lines) < count:
        for body in call_events(n, now, sip_only=sip_only):
            lines.append(f"{sign_body(body, standin.api_key, standin.api_secret)}\t{body}")
        n += 1
    path.write_text("\n".join(lines) + "\n")
    return len(lines)


def replay_script(path: Path, bodies: Path, url_path: str) -> Path:
    path.write_text(REPLAY_LUA.replace("BODIES", str(bodies)).replace("PATH", url_path))
    return path


def count_rows(db: Path, table: str) -> int:
    with sqlite3.connect(db) as connection:
        return int(connection.execute(f"SELECT count(*) FROM {table}").fetchone()[0])  # noqa: S608


def measure_gateway(
    work: Path, standin: StandInThread, seconds: int, calls: int, connections: int
) -> dict[str, dict[str, float]]:
    port = free_port()
    results: dict[str, dict[str, float]] = {}
    bodies = {}
    budget = 4000 * seconds
    for name, sip_only, offset in (("webhook_mix", False, 0), ("webhook_sip", True, 1_000_000)):
        bodies[name] = (
            work / f"{name}.txt",
            write_bodies(work / f"{name}.txt", budget, standin, sip_only=sip_only, offset=offset),
        )
    cmd = [*pinned(SERVER_CORE), PYTHON, "-m", "gateway", "serve"]
    with process(cmd, gateway_env(work, port, standin)) as server:
        base = f"http://127.0.0.1:{port}"
        wait_ready(f"{base}/health/ready")
        token = admin_key(work / "bench.db")
        with httpx.Client(base_url=base, headers={"Authorization": f"Bearer {token}"}, timeout=30) as http:
            prepare_outbound(http)
            results["setup"] = call_setup(http, standin, calls)
        for name, (path, unique) in bodies.items():
            calls_before = count_rows(work / "bench.db", "calls")
            script = replay_script(work / f"{name}.lua", path, "/webhooks/livekit")
            cpu_before = cpu_seconds(server.pid)
            figures = with_cpu(
                wrk(base, seconds=seconds, connections=connections, script=script),
                cpu_before,
                server.pid,
                seconds,
            )
            figures["unique_bodies"] = unique
            figures["replayed"] = float(figures["rps"] * seconds > unique)
            figures["calls_recorded"] = count_rows(work / "bench.db", "calls") - calls_before
            results[name] = figures
        assert server.poll() is None, "the gateway died during the run"
    return results


def measure_bare(work: Path, seconds: int, connections: int) -> dict[str, float]:
    port = free_port()
    cmd = [*pinned(SERVER_CORE), PYTHON, "-m", "uvicorn", "benchmarks._bare_app:app", "--port", str(port)]
    cmd += ["--no-access-log", "--log-level", "warning"]
    script = replay_script(work / "bare.lua", work / "webhook_mix.txt", "/bare")
    with process(cmd) as server:
        wait_ready(f"http://127.0.0.1:{port}/bare")
        cpu_before = cpu_seconds(server.pid)
        figures = wrk(f"http://127.0.0.1:{port}", seconds=seconds, connections=connections, script=script)
        return with_cpu(figures, cpu_before, server.pid, seconds)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seconds", type=int, default=8)
    parser.add_argument("--calls", type=int, default=100)
    parser.add_argument("--connections", type=int, default=CONNECTIONS)
    args = parser.parse_args()
    if hasattr(os, "sched_setaffinity") and (os.cpu_count() or 1) > 1:
        os.sched_setaffinity(0, {int(LOAD_CORE)})  # the stand-in and this driver stay off the server's core
    with StandInThread() as standin, tempfile.TemporaryDirectory(prefix="trunkline-livekit-bench-") as tmp:
        work = Path(tmp)
        gateway = measure_gateway(work, standin, args.seconds, args.calls, args.connections)
        direct_ms = direct_setup(standin, args.calls)
        bare = measure_bare(work, args.seconds, args.connections)
    setup = gateway.pop("setup")
    figures: dict[str, float | bool] = {
        "setup_livekit_calls_per_call": round(setup["livekit_calls_per_setup"], 2),
        "setup_p50_ms": round(setup["setup_p50_ms"], 2),
        "setup_p99_ms": round(setup["setup_p99_ms"], 2),
        "setup_direct_livekit_p50_ms": round(direct_ms, 2),
        "setup_gateway_added_p50_ms": round(setup["setup_p50_ms"] - direct_ms, 2),
    }
    for name, values in (*gateway.items(), ("bare_post", bare)):
        for key, value in values.items():
            figures[f"{name}_{key}"] = round(value, 2)
    for name in gateway:
        figures[f"{name}_ratio_to_bare"] = round(gateway[name]["rps"] / bare["rps"], 3)
    mix = gateway["webhook_mix"]
    figures["goal_setup_met"] = setup["livekit_calls_per_setup"] <= 3 and bool(setup["setup_calls_only"])
    figures["goal_webhooks_met"] = mix["rps"] >= 2000 and mix["p99_ms"] < 20 and mix["non2xx"] == 0
    for key, value in figures.items():
        print(f"{key:40} {value}")
    print(json.dumps({"benchmark": "livekit", **figures}))


if __name__ == "__main__":
    main()
