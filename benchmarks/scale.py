"""The control plane at carrier scale (issue 20), on SQLite and PostgreSQL: one project with 10,000 routes and
100,000 numbers, and a million calls. Runs the two halves, each in its own process, and prints their figures:

- `_scale_routes.py`: route save p99 at 10 and at 10,000 routes (goal < 50 ms, ratio < 3), numbers imported per
  second through the bulk path (goal >= 5,000/s), peak memory;
- `_scale_sync_calls.py`: LiveKit API calls for one changed route at 10 and at 10,000 routes (goal: the same),
  dispatch rules for 10,000 routes, `GET /v1/calls` and `GET /v1/calls/{id}` p99 with 1,000,000 calls (goal < 50 ms),
  peak memory.

    .venv/bin/python benchmarks/scale.py [--quick]

Last line: one JSON object (`routes` and `sync_calls`, each half's own last line). `--quick` runs smaller tables
(1,000 routes, 10,000 numbers, 100,000 calls) for a look in a few minutes; the goals are for the full sizes.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent


def run_half(script: str, arguments: list[str]) -> dict[str, Any]:
    """Run one half, echoing its output; its figures are its last line."""
    process = subprocess.run(
        [sys.executable, str(HERE / script), *arguments], capture_output=True, text=True, check=True
    )
    print(process.stdout, end="", flush=True)
    figures: dict[str, Any] = json.loads(process.stdout.strip().splitlines()[-1])
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--quick", action="store_true", help="smaller tables, for a look")
    args = parser.parse_args()
    routes_args = ["--routes", "1000", "--numbers", "10000"] if args.quick else []
    sync_args = ["--routes", "1000", "--calls", "100000"] if args.quick else []
    figures = {
        "routes": run_half("_scale_routes.py", routes_args),
        "sync_calls": run_half("_scale_sync_calls.py", sync_args),
    }
    print(json.dumps({"benchmark": "scale", "quick": args.quick, **figures}))


if __name__ == "__main__":
    main()
