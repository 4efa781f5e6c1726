"""Pre-signed Twilio voice webhooks for wrk: one line per request (`signature<TAB>form body`), unique CallSids,
and the Lua script that replays them in a cycle."""

from __future__ import annotations

import random
from pathlib import Path
from urllib.parse import urlencode

from tests.support.twilio.callbacks import CallParty
from tests.support.twilio.sids import new_call_sid
from tests.support.twilio.webhooks import sign

REPLAY_LUA = """
local lines = {}
local i = 0
init = function(args)
  for line in io.lines("FILE") do lines[#lines + 1] = line end
end
request = function()
  i = i + 1
  if i > #lines then i = 1 end
  local line = lines[i]
  local tab = string.find(line, "\\t", 1, true)
  return wrk.format("POST", "PATH", {
    ["Content-Type"] = "application/x-www-form-urlencoded",
    ["X-Twilio-Signature"] = string.sub(line, 1, tab - 1),
  }, string.sub(line, tab + 1))
end
"""


def write_requests(
    path: Path, *, url: str, account_sid: str, auth_token: str, to: str, count: int, seed: int = 1
) -> None:
    """`count` inbound calls to `to` from varied UK mobiles, each signed for `url`."""
    rng = random.Random(seed)
    with path.open("w") as out:
        for _ in range(count):
            caller = f"+4477009{rng.randrange(0, 100000):05d}"
            params = tuple(CallParty(account_sid, new_call_sid(), caller, to).request_params("ringing"))
            out.write(f"{sign(url, params, auth_token)}\t{urlencode(params)}\n")


def replay_script(path: Path, requests_file: Path, request_path: str) -> Path:
    path.write_text(REPLAY_LUA.replace("FILE", str(requests_file)).replace("PATH", request_path))
    return path
