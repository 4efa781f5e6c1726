"""A loopback stand-in for the Calls part of Twilio's REST API (2010-04-01), for the real `twilio.rest.Client`.

    with TwilioRestStandIn(account_sid=sid, auth_token=token) as api:
        client = Client(sid, token)
        client.edge = client.region = None      # else get_hostname() rewrites the host (TWILIO_EDGE/TWILIO_REGION)
        client.api.base_url = api.base_url      # Domain.absolute_url joins base_url with the resource path
        call = client.calls.create(to="+14155550100", from_="+14155550199", url="https://gw.example/answer")
        conversation = await api.drive(call.sid, simulator)   # ringing, answered, then the Url's TwiML runs

It serves POST .../Calls.json (create, 201), GET .../Calls/{Sid}.json (fetch) and POST .../Calls/{Sid}.json (update:
Status=canceled|completed, Url, Twiml), with HTTP basic auth (AccountSid:AuthToken), Twilio's Call resource JSON
and its error JSON (`code`, `message`, `more_info`, `status`). It records every request. The server runs on its own
thread and event loop, so the synchronous client can be called from a test.
"""

from __future__ import annotations

import asyncio
import concurrent.futures
import re
import socket
import threading
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from urllib.parse import urlsplit

import phonenumbers
from aiohttp import BasicAuth, web

from tests.support.twilio.callbacks import API_VERSION, TERMINAL, CallEvent, rfc2822
from tests.support.twilio.conversation import Conversation
from tests.support.twilio.sids import new_call_sid
from tests.support.twilio.simulator import TwilioSimulator

_E164 = re.compile(r"^\+[1-9]\d{1,14}$")
_CALLS = re.compile(r"^/2010-04-01/Accounts/(?P<account>[^/]+)/Calls(?:/(?P<sid>[^/]+))?\.json$")
_SUBRESOURCES = ("notifications", "recordings", "payments", "events", "siprec", "streams", "transcriptions")


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    form: tuple[tuple[str, str], ...]
    user: str | None
    status: int

    @property
    def params(self) -> dict[str, str]:
        return dict(self.form)


@dataclass
class CallRecord:
    sid: str
    account_sid: str
    to: str
    from_: str
    form: tuple[tuple[str, str], ...]
    created_at: datetime
    status: str = "queued"
    updated_at: datetime | None = None
    start_time: datetime | None = None
    end_time: datetime | None = None
    duration: int | None = None
    answered_by: str | None = None
    conversation: Conversation | None = None
    loop: asyncio.AbstractEventLoop | None = None
    futures: list[concurrent.futures.Future[None]] = field(default_factory=list)

    def param(self, name: str) -> str | None:
        return next((value for key, value in self.form if key == name), None)

    def params(self, name: str) -> tuple[str, ...]:
        return tuple(value for key, value in self.form if key == name)

    def resource(self) -> dict[str, object]:
        """The Call resource as Twilio's API returns it."""
        base = f"/{API_VERSION}/Accounts/{self.account_sid}/Calls/{self.sid}"
        return {
            "account_sid": self.account_sid,
            "annotation": None,
            "answered_by": self.answered_by,
            "api_version": API_VERSION,
            "caller_name": None,
            "date_created": rfc2822(self.created_at),
            "date_updated": rfc2822(self.updated_at or self.created_at),
            "direction": "outbound-api",
            "duration": None if self.duration is None else str(self.duration),
            "end_time": None if self.end_time is None else rfc2822(self.end_time),
            "forwarded_from": None,
            "from": self.from_,
            "from_formatted": _formatted(self.from_),
            "group_sid": None,
            "parent_call_sid": None,
            "phone_number_sid": None,
            "price": None,
            "price_unit": "USD",
            "queue_time": "0",
            "sid": self.sid,
            "start_time": None if self.start_time is None else rfc2822(self.start_time),
            "status": self.status,
            "subresource_uris": {name: f"{base}/{name.capitalize()}.json" for name in _SUBRESOURCES},
            "to": self.to,
            "to_formatted": _formatted(self.to),
            "trunk_sid": None,
            "uri": f"{base}.json",
        }


class TwilioRestStandIn:
    def __init__(self, *, account_sid: str, auth_token: str, numbers: Sequence[str] = ()) -> None:
        self.account_sid = account_sid
        self.auth_token = auth_token
        self.numbers = frozenset(numbers)
        """Caller IDs the account owns; when empty, any valid E.164 `From` is accepted."""
        self.calls: dict[str, CallRecord] = {}
        self.requests: list[RecordedRequest] = []
        self.base_url = ""
        self.on_created: Callable[[CallRecord], None] | None = None
        """Called (on the stand-in's thread) once a call is created and before Twilio answers the request: a
        test can crash the gateway in the window between Twilio's acceptance and the gateway's next write."""
        self._lock = threading.Lock()
        self._loop = asyncio.new_event_loop()
        self._thread: threading.Thread | None = None
        self._runner: web.AppRunner | None = None

    # --- lifecycle ---------------------------------------------------------------------------------------------

    def start(self) -> TwilioRestStandIn:
        sock = socket.socket()
        sock.bind(("127.0.0.1", 0))
        self.base_url = f"http://127.0.0.1:{sock.getsockname()[1]}"
        ready = threading.Event()
        self._thread = threading.Thread(
            target=self._serve, args=(sock, ready), daemon=True, name="twilio-rest"
        )
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._thread is None:
            return
        if self._runner is not None:
            asyncio.run_coroutine_threadsafe(self._runner.cleanup(), self._loop).result(10)
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)
        self._loop.close()
        self._thread = None

    def __enter__(self) -> TwilioRestStandIn:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def _serve(self, sock: socket.socket, ready: threading.Event) -> None:
        asyncio.set_event_loop(self._loop)
        app = web.Application()
        app.router.add_route("*", "/{tail:.*}", self._handle)
        self._runner = web.AppRunner(app, access_log=None)
        self._loop.run_until_complete(self._runner.setup())
        self._loop.run_until_complete(web.SockSite(self._runner, sock).start())
        ready.set()
        self._loop.run_forever()

    # --- driving calls ---------------------------------------------------------------------------------------------

    def call(self, sid: str) -> CallRecord:
        with self._lock:
            return self.calls[sid]

    async def drive(
        self,
        sid: str,
        twilio: TwilioSimulator,
        *,
        outcome: str = "answered",
        answered_by: str | None = None,
        sip_code: int | None = None,
        ring_seconds: int = 3,
    ) -> Conversation:
        """Place a created call with the simulator: its status callbacks, then (when answered) its Url or Twiml.

        `outcome`: answered, busy, no-answer, failed, canceled, or ringing (left ringing for a REST cancel).
        """
        record = self.call(sid)
        if twilio.account_sid != self.account_sid:
            raise ValueError("the simulator must play the same account as the REST stand-in")
        events = record.params("StatusCallbackEvent") or ("completed",)
        conversation = twilio.conversation(
            call_sid=sid,
            status_callback=record.param("StatusCallback"),
            status_callback_method=(record.param("StatusCallbackMethod") or "POST").upper(),
            status_callback_events=events,
            on_event=lambda event: self._record_event(sid, event),
        )
        with self._lock:
            record.conversation = conversation
            record.loop = asyncio.get_running_loop()
        detection = record.param("MachineDetection")
        await conversation.dial_out(
            record.from_,
            record.to,
            outcome=outcome,
            url=record.param("Url"),
            twiml=record.param("Twiml"),
            method=(record.param("Method") or "POST").upper(),
            sip_code=sip_code,
            answered_by=answered_by or ("human" if detection else None),
            ring_seconds=ring_seconds,
        )
        return conversation

    async def settle(self, sid: str) -> CallRecord:
        """Wait until the REST updates handed to the simulated call (hang-ups, redirects) have played out."""
        with self._lock:
            pending = list(self.calls[sid].futures)
        for future in pending:
            await asyncio.wrap_future(future)
        return self.call(sid)

    def _record_event(self, sid: str, event: CallEvent) -> None:
        with self._lock:
            record = self.calls[sid]
            record.updated_at = event.at
            record.status = "queued" if event.status == "initiated" else event.status
            if event.status == "in-progress":
                record.start_time = event.at
            if event.status in TERMINAL:
                record.end_time = event.at
                record.duration = (
                    0 if record.start_time is None else round((event.at - record.start_time).total_seconds())
                )
            if record.conversation is not None:
                record.answered_by = record.conversation.answered_by

    # --- HTTP ------------------------------------------------------------------------------------------------------

    async def _handle(self, request: web.Request) -> web.Response:
        form = (
            tuple((k, str(v)) for k, v in (await request.post()).items()) if request.method == "POST" else ()
        )
        user, response = self._authenticate(request)
        if response is None:
            response = self._route(request, form)
        with self._lock:
            self.requests.append(RecordedRequest(request.method, request.path, form, user, response.status))
        return response

    def _authenticate(self, request: web.Request) -> tuple[str | None, web.Response | None]:
        try:
            auth = BasicAuth.decode(request.headers.get("Authorization", ""))
        except ValueError:
            return None, _error(401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'})
        if auth.login != self.account_sid or auth.password != self.auth_token:
            return auth.login, _error(
                401, 20003, "Authenticate", {"WWW-Authenticate": 'Basic realm="Twilio API"'}
            )
        return auth.login, None

    def _route(self, request: web.Request, form: tuple[tuple[str, str], ...]) -> web.Response:
        match = _CALLS.match(request.path)
        if match is None or match["account"] != self.account_sid:
            return _not_found(request.path)
        sid = match["sid"]
        if sid is None:
            return (
                self._create(form) if request.method == "POST" else _error(405, 20004, "Method not allowed")
            )
        with self._lock:
            record = self.calls.get(sid)
        if record is None:
            return _not_found(request.path)
        if request.method == "GET":
            return _json(200, record.resource())
        if request.method == "POST":
            return self._update(record, dict(form))
        return _error(405, 20004, "Method not allowed")

    def _create(self, form: tuple[tuple[str, str], ...]) -> web.Response:
        params = dict(form)
        to, from_ = params.get("To", ""), params.get("From", "")
        if not to:
            return _error(400, 21201, "No 'To' number is specified")
        if not from_:
            return _error(400, 21213, "No 'From' number is specified")
        if not any(params.get(name) for name in ("Url", "Twiml", "ApplicationSid")):
            return _error(400, 21205, "A 'Url', 'Twiml' or 'ApplicationSid' parameter is required.")
        if not _callable_address(to):
            return _error(400, 21211, f"The 'To' number {to} is not a valid phone number.")
        if not _valid_number(from_):
            return _error(
                400,
                21212,
                f"The 'From' number {from_} is not a valid phone number, shortcode, or alphanumeric sender ID.",
            )
        if self.numbers and from_ not in self.numbers:
            return _error(
                400,
                21210,
                f"The source phone number provided, {from_}, is not yet verified for your account. You may only make "
                "calls from phone numbers that you've verified or purchased from Twilio.",
            )
        for name in ("Url", "StatusCallback", "FallbackUrl"):
            if params.get(name) and not _absolute_url(params[name]):
                return _error(400, 21205, f"{name} is not a valid URL: {params[name]}")
        for name in ("Method", "StatusCallbackMethod", "FallbackMethod"):
            if params.get(name) and params[name].upper() not in ("GET", "POST"):
                return _error(400, 21200, f"{name} must be GET or POST, not {params[name]!r}")
        record = CallRecord(
            new_call_sid(), self.account_sid, to, from_, form, datetime.now(UTC).replace(microsecond=0)
        )
        with self._lock:
            self.calls[record.sid] = record
        if self.on_created is not None:
            self.on_created(record)
        return _json(201, record.resource())

    def _update(self, record: CallRecord, params: dict[str, str]) -> web.Response:
        status = params.get("Status")
        url, twiml = params.get("Url"), params.get("Twiml")
        if status is not None and status not in ("canceled", "completed"):
            return _error(400, 21200, f"Status must be canceled or completed, not {status!r}")
        with self._lock:
            current = record.status
        if (url or twiml) and current != "in-progress":
            return _error(400, 21220, "Call is not in-progress. Cannot redirect.")
        if url and not _absolute_url(url):
            return _error(400, 21205, f"Url is not a valid URL: {url}")
        if status is not None and current not in TERMINAL:
            if current != "in-progress":
                self._end(record, "canceled")
            elif status == "completed":
                self._end(record, "completed")
        elif url or twiml:
            self._play(record, "redirect", url, twiml, (params.get("Method") or "POST").upper())
        with self._lock:
            return _json(200, record.resource())

    def _end(self, record: CallRecord, status: str) -> None:
        """Hang up: at once in the resource; the simulated call then plays it out (status callbacks)."""
        with self._lock:
            record.status = status
            record.updated_at = record.end_time = datetime.now(UTC).replace(microsecond=0)
        self._play(record, "remote_hangup", status)

    def _play(self, record: CallRecord, action: str, *args: str | None) -> None:
        """Hand a REST update to the simulated call, on the event loop that drives it."""
        conversation, loop = record.conversation, record.loop
        if conversation is None or loop is None:
            return
        if action == "remote_hangup":
            coroutine = conversation.remote_hangup(args[0] or "completed")
        else:
            coroutine = conversation.redirect(url=args[0], twiml=args[1], method=args[2] or "POST")
        record.futures.append(asyncio.run_coroutine_threadsafe(coroutine, loop))


def _json(status: int, body: dict[str, object], headers: dict[str, str] | None = None) -> web.Response:
    return web.json_response(body, status=status, headers=headers)


def _error(status: int, code: int, message: str, headers: dict[str, str] | None = None) -> web.Response:
    body: dict[str, object] = {
        "code": code,
        "message": message,
        "more_info": f"https://www.twilio.com/docs/errors/{code}",
        "status": status,
    }
    return _json(status, body, headers)


def _not_found(path: str) -> web.Response:
    return _error(404, 20404, f"The requested resource {path} was not found")


def _valid_number(value: str) -> bool:
    if not _E164.match(value):
        return False
    try:
        return bool(phonenumbers.is_possible_number(phonenumbers.parse(value)))
    except phonenumbers.NumberParseException:
        return False


def _callable_address(value: str) -> bool:
    return value.startswith(("sip:", "client:")) or _valid_number(value)


def _absolute_url(value: str) -> bool:
    parts = urlsplit(value)
    return parts.scheme in ("http", "https") and bool(parts.netloc)


def _formatted(value: str) -> str:
    if not _valid_number(value):
        return value
    number = phonenumbers.parse(value)
    style = (
        phonenumbers.PhoneNumberFormat.NATIONAL
        if number.country_code == 1
        else phonenumbers.PhoneNumberFormat.E164
    )
    return str(phonenumbers.format_number(number, style))
