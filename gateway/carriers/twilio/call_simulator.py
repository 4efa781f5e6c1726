"""`trunkline call simulate`: play Twilio's side of one inbound call against a running gateway.

The voice webhook is posted the way Twilio posts it (form-encoded, `X-Twilio-Signature` computed by twilio's own
`RequestValidator` with the project's auth token, over the URL Twilio would have signed), each TwiML answer is
printed readably (`twiml_reader`), and the caller's answers (typed, or scripted with `--input`) go back to the
Gather/Record/Dial action URLs; Redirects are followed. The call ends on Hangup, Reject, an answer with nothing
left to do, or when the caller has nothing more to say; its status callback then completes the record.
"""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from urllib.parse import urljoin

import httpx
from twilio.request_validator import RequestValidator

from gateway.carriers.twilio.twiml_reader import TwimlUnreadable, Verb, describe, read_twiml

VOICE_PATH = "/carriers/twilio/voice"
STATUS_PATH = "/carriers/twilio/status"
DTMF_KEYS = frozenset("0123456789*#")
DIAL_OUTCOMES = ("completed", "busy", "no-answer", "failed", "canceled")
RECORDING_SECONDS = 5


class SimulationFailed(Exception):
    """The gateway did not answer as Twilio expects (an error status, or not TwiML)."""


@dataclass(frozen=True)
class Endpoint:
    """Where requests go (`base_url`) and the URL Twilio signs (`signed_url`: the gateway's public URL)."""

    base_url: str
    signed_url: str

    def transport(self, url: str) -> str:
        """The URL to send a request for `url` (as written in TwiML, public) to."""
        if url.startswith(self.signed_url):
            return self.base_url + url[len(self.signed_url) :]
        return url


class Caller:
    """The person on the line: scripted answers (`--input 1,2,#`), else typed ones; None when they hang up."""

    def __init__(self, scripted: list[str] | None, ask: Callable[[str], str] = input) -> None:
        self._scripted: Iterator[str] | None = iter(scripted) if scripted is not None else None
        self._ask = ask
        self.echo = scripted is not None
        """Scripted answers are printed, so the transcript shows them."""

    def answer(self) -> str | None:
        if self._scripted is not None:
            return next(self._scripted, None)
        try:
            return self._ask("caller> ")
        except EOFError:
            return None


def split_inputs(raw: str) -> list[str]:
    """`1,2,#` -> ["1", "2", "#"]; an empty item (`1,,2`) is silence."""
    return [item.strip() for item in raw.split(",")]


@dataclass
class CallSimulation:
    endpoint: Endpoint
    account_sid: str
    auth_token: str
    caller_number: str
    called_number: str
    caller: Caller
    out: Callable[[str], None] = print
    dial_outcome: str = "completed"
    client: httpx.Client = field(default_factory=lambda: httpx.Client(timeout=20.0))
    call_sid: str = field(default_factory=lambda: "CA" + secrets.token_hex(16))
    started: float = field(default_factory=time.monotonic)
    status: str = "in-progress"
    requests: int = 0

    # --- requests as Twilio makes them ----------------------------------------------------------------------

    def _params(self, call_status: str) -> dict[str, str]:
        return {
            "AccountSid": self.account_sid,
            "ApiVersion": "2010-04-01",
            "CallSid": self.call_sid,
            "CallStatus": call_status,
            "Called": self.called_number,
            "Caller": self.caller_number,
            "Direction": "inbound",
            "From": self.caller_number,
            "To": self.called_number,
        }

    def post(self, url: str, extra: dict[str, str], *, method: str = "POST", call_status: str = "") -> str:
        """Send a signed webhook for `url` (public, as TwiML names it); the answer's text."""
        params = {**self._params(call_status or self.status), **extra}
        signed = url
        if method.upper() == "GET":
            query = httpx.QueryParams(params)
            signed = f"{url}{'&' if '?' in url else '?'}{query}"
            params = {}
        signature = RequestValidator(self.auth_token).compute_signature(signed, params)
        self.requests += 1
        try:
            answer = self.client.request(
                method.upper(),
                self.endpoint.transport(signed),
                data=params or None,
                headers={"X-Twilio-Signature": signature, "User-Agent": "TwilioProxy/1.1"},
            )
        except httpx.HTTPError as exc:
            raise SimulationFailed(f"could not reach {self.endpoint.transport(signed)}: {exc}") from None
        if answer.status_code >= 400:
            detail = answer.text[:500]
            if "json" in answer.headers.get("content-type", ""):
                detail = str(answer.json().get("detail", detail))
            raise SimulationFailed(f"the gateway answered {answer.status_code}: {detail}")
        return answer.text

    # --- the call -----------------------------------------------------------------------------------------

    def run(self) -> str:
        """Play the call to its end; how it ended (`hangup`, `rejected: busy`, `caller hung up`, ...)."""
        voice_url = self.endpoint.signed_url + VOICE_PATH
        self.out(f"call {self.call_sid} from {self.caller_number} to {self.called_number}")
        document = self.post(voice_url, {}, call_status="ringing")
        ended = self._follow(document, voice_url)
        self.out(f"call ended: {ended}")
        self._status_callback()
        return ended

    def _follow(self, document: str, url: str) -> str:
        for _ in range(200):
            try:
                verbs = read_twiml(document)
            except TwimlUnreadable as exc:
                raise SimulationFailed(f"{exc}; the answer was: {document[:300]}") from None
            outcome = self._play(verbs, url)
            if isinstance(outcome, str):
                return outcome
            document, url = outcome
        return "stopped after 200 answers (a loop?)"

    def _play(self, verbs: list[Verb], url: str) -> str | tuple[str, str]:
        """Play one answer's verbs: how the call ended, or the next (document, its URL)."""
        for verb in verbs:
            for line in describe(verb):
                self.out(f"  {line}")
            if verb.name == "Hangup":
                return "hangup"
            if verb.name == "Reject":
                self.status = "busy" if verb.attribute("reason") == "busy" else "no-answer"
                return f"rejected: {verb.attribute('reason', 'rejected')}"
            if verb.name == "Redirect":
                target = urljoin(url, verb.text)
                return self.post(target, {}, method=verb.attribute("method", "POST")), target
            if verb.name == "Gather":
                answer = self.caller.answer()
                if answer is None:
                    return "caller hung up"
                if self.caller.echo:
                    self.out(f"caller> {answer}")
                extra = _gather_reply(answer, verb.attribute("finishOnKey", "#"))
                if extra is None and verb.attribute("actionOnEmptyResult") != "true":
                    self.out("  (no input)")
                    continue  # Twilio goes on with the next verb
                return self._action(verb, url, extra or {})
            if verb.name == "Record":
                sid = "RE" + secrets.token_hex(16)
                self.out(f"  (the caller speaks for {RECORDING_SECONDS}s, then presses #)")
                recording = {
                    "RecordingSid": sid,
                    "RecordingUrl": f"https://api.twilio.com/2010-04-01/Accounts/{self.account_sid}/Recordings/{sid}",
                    "RecordingDuration": str(RECORDING_SECONDS),
                    "Digits": "#",
                }
                return self._action(verb, url, recording)
            if verb.name == "Dial":
                self.out(f"  (the dialled party: {self.dial_outcome})")
                if "action" not in verb.attributes:
                    if self.dial_outcome == "completed":
                        return "connected (the gateway is out of the call)"
                    continue
                duration = "30" if self.dial_outcome == "completed" else "0"
                return self._action(
                    verb, url, {"DialCallStatus": self.dial_outcome, "DialCallDuration": duration}
                )
        return "the answer had nothing more to do (Twilio hangs up)"

    def _action(self, verb: Verb, url: str, extra: dict[str, str]) -> tuple[str, str]:
        target = urljoin(url, verb.attribute("action")) if verb.attribute("action") else url
        return self.post(target, extra, method=verb.attribute("method", "POST")), target

    def _status_callback(self) -> None:
        if self.status == "in-progress":
            self.status = "completed"
        duration = str(max(1, round(time.monotonic() - self.started)))
        extra = {"CallDuration": duration} if self.status == "completed" else {}
        try:
            self.post(self.endpoint.signed_url + STATUS_PATH, extra, call_status=self.status)
        except SimulationFailed as exc:
            self.out(f"(status callback not accepted: {exc})")


def _gather_reply(answer: str, finish_on_key: str) -> dict[str, str] | None:
    """The Gather action's parameters for what the caller did; None for no input."""
    answer = answer.strip()
    if answer and set(answer) <= DTMF_KEYS:
        digits = answer.removesuffix(finish_on_key) if finish_on_key else answer
        return {"Digits": digits} if digits else None
    if not answer or answer == "-":
        return None
    return {"SpeechResult": answer, "Confidence": "0.92"}
