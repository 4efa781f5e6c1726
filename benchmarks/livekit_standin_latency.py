"""LiveKit stand-in latency: what a request through the real livekit-api client costs against the stand-in.

The stand-in and a bare aiohttp endpoint (same server process, answers an empty protobuf without auth) run in
a child process pinned to one core; the client runs here, pinned to the other. Requests are sequential, so the
figures are round-trip latencies: p50/p99 in ms for the bare endpoint (raw aiohttp POST), ListRooms and
CreateRoom and an answered CreateSIPParticipant (livekit-api, a fresh JWT per request as the client does),
and the ratio of ListRooms to the bare endpoint measured side by side. The last line is one JSON object.

    .venv/bin/python benchmarks/livekit_standin_latency.py [--requests 400]
"""

from __future__ import annotations

import argparse
import asyncio
import json
import os
import statistics
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import aiohttp  # noqa: E402
from aiohttp import web  # noqa: E402
from livekit import api  # noqa: E402

from tests.support.livekit_standin import LiveKitStandIn  # noqa: E402

SERVER_CORE, CLIENT_CORE = 0, 1 if (os.cpu_count() or 1) > 1 else 0


async def serve() -> None:
    async def bare(_: web.Request) -> web.Response:
        return web.Response(body=b"", content_type="application/protobuf")

    app = web.Application()
    app.router.add_post("/bare", bare)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    async with LiveKitStandIn() as standin:
        bare_url = f"http://127.0.0.1:{runner.addresses[0][1]}/bare"
        print(
            json.dumps(
                {
                    "standin": standin.url,
                    "bare": bare_url,
                    "key": standin.api_key,
                    "secret": standin.api_secret,
                }
            )
        )
        sys.stdout.flush()
        await asyncio.get_running_loop().run_in_executor(None, sys.stdin.read)
    await runner.cleanup()


async def timed(count: int, request: Callable[[int], Awaitable[object]]) -> dict[str, float]:
    for i in range(20):
        await request(-1 - i)
    samples = []
    for i in range(count):
        started = time.perf_counter()
        await request(i)
        samples.append((time.perf_counter() - started) * 1000)
    samples.sort()
    return {
        "p50_ms": round(statistics.median(samples), 3),
        "p99_ms": round(samples[int(len(samples) * 0.99) - 1], 3),
    }


async def measure(urls: dict[str, str], count: int) -> dict[str, object]:
    async with (
        aiohttp.ClientSession() as session,
        api.LiveKitAPI(urls["standin"], urls["key"], urls["secret"]) as lk,
    ):

        async def bare(_: int) -> None:
            async with session.post(
                urls["bare"], data=b"", headers={"Content-Type": "application/protobuf"}
            ) as r:
                await r.read()

        async def list_rooms(_: int) -> None:
            await lk.room.list_rooms(api.ListRoomsRequest())

        async def create_room(i: int) -> None:
            await lk.room.create_room(api.CreateRoomRequest(name=f"bench-{i}"))

        trunk = await lk.sip.create_outbound_trunk(
            api.CreateSIPOutboundTrunkRequest(
                trunk=api.SIPOutboundTrunkInfo(address="sip.example", numbers=["+15550199"])
            )
        )

        async def dial(i: int) -> None:
            await lk.sip.create_sip_participant(
                api.CreateSIPParticipantRequest(
                    sip_trunk_id=trunk.sip_trunk_id,
                    sip_call_to=f"+1555{abs(i):07d}",
                    room_name=f"dial-{i}",
                    wait_until_answered=True,
                )
            )

        results: dict[str, object] = {
            "bare": await timed(count, bare),
            "list_rooms": await timed(count, list_rooms),
            "create_room": await timed(count, create_room),
            "create_sip_participant": await timed(count, dial),
        }
    bare_p50 = results["bare"]["p50_ms"]  # type: ignore[index]
    results["list_rooms_over_bare_p50"] = round(results["list_rooms"]["p50_ms"] / bare_p50, 2)  # type: ignore[index]
    return results


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--requests", type=int, default=400)
    parser.add_argument("--serve", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.serve:
        os.sched_setaffinity(0, {SERVER_CORE})
        asyncio.run(serve())
        return
    server = subprocess.Popen(
        [sys.executable, __file__, "--serve"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        cwd=ROOT,
    )
    try:
        assert server.stdout is not None
        urls = json.loads(server.stdout.readline())
        os.sched_setaffinity(0, {CLIENT_CORE})
        results = asyncio.run(measure(urls, args.requests))
    finally:
        assert server.stdin is not None
        server.stdin.close()
        server.wait(timeout=10)
    for name, figures in results.items():
        print(f"{name:>28}: {figures}")
    print(json.dumps({"benchmark": "livekit_standin_latency", "requests": args.requests, **results}))


if __name__ == "__main__":
    main()
