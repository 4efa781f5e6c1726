"""TwiML voice documents read the way Twilio reads them, with the documented attribute defaults."""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field


class TwimlError(Exception):
    """The document is not TwiML Twilio would run; `code` is Twilio's error code (12100 parse, 12200 schema)."""

    def __init__(self, message: str, *, code: int) -> None:
        super().__init__(message)
        self.code = code


@dataclass(frozen=True)
class Say:
    text: str
    voice: str | None = None
    language: str | None = None
    loop: int = 1


@dataclass(frozen=True)
class Play:
    url: str
    loop: int = 1
    digits: str | None = None


@dataclass(frozen=True)
class Pause:
    length: int = 1


Prompt = Say | Play | Pause


@dataclass(frozen=True)
class Gather:
    action: str | None = None
    method: str = "POST"
    input: frozenset[str] = frozenset({"dtmf"})
    num_digits: int | None = None
    finish_on_key: str = "#"
    timeout: int = 5
    speech_timeout: str | None = None
    action_on_empty_result: bool = False
    hints: str | None = None
    language: str = "en-US"
    prompts: tuple[Prompt, ...] = ()


@dataclass(frozen=True)
class Record:
    action: str | None = None
    method: str = "POST"
    timeout: int = 5
    finish_on_key: str = "1234567890*#"
    max_length: int = 3600
    play_beep: bool = True
    trim: str = "trim-silence"
    transcribe: bool = False
    recording_status_callback: str | None = None
    recording_status_callback_method: str = "POST"
    recording_status_callback_event: tuple[str, ...] = ("completed",)


@dataclass(frozen=True)
class DialTarget:
    kind: str
    """number, sip, client, conference, queue, application or sim; bare text in <Dial> is a number."""
    address: str
    attributes: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True)
class Dial:
    targets: tuple[DialTarget, ...]
    action: str | None = None
    method: str = "POST"
    timeout: int = 30
    caller_id: str | None = None
    record: str | None = None
    answer_on_bridge: bool = False


@dataclass(frozen=True)
class Redirect:
    url: str
    method: str = "POST"


@dataclass(frozen=True)
class Hangup:
    pass


@dataclass(frozen=True)
class Reject:
    reason: str = "rejected"


@dataclass(frozen=True)
class Unsimulated:
    """A verb Twilio knows but this simulator does not play (Connect, Enqueue, Pay, ...)."""

    name: str
    attributes: dict[str, str]


Verb = Say | Play | Pause | Gather | Record | Dial | Redirect | Hangup | Reject | Unsimulated

_KNOWN_UNSIMULATED = {
    "Connect",
    "Echo",
    "Enqueue",
    "Leave",
    "Pay",
    "Prompt",
    "Queue",
    "Refer",
    "Sms",
    "Start",
    "Stop",
}
_DIAL_NOUNS = {"Number": "number", "Sip": "sip", "Client": "client", "Conference": "conference", "Queue": "queue",
               "Application": "application", "Sim": "sim"}  # fmt: skip


def parse_twiml(document: str | bytes) -> tuple[Verb, ...]:
    """The verbs of a `<Response>` document, in order."""
    try:
        root = ET.fromstring(document)  # noqa: S314 -- TwiML written by the gateway under test
    except ET.ParseError as exc:
        raise TwimlError(f"document is not well-formed XML: {exc}", code=12100) from None
    if root.tag != "Response":
        raise TwimlError(f"root element is <{root.tag}>, expected <Response>", code=12200)
    return tuple(_verb(element) for element in root)


def _verb(element: ET.Element) -> Verb:
    a = element.attrib
    tag = element.tag
    if tag in ("Say", "Play", "Pause"):
        return _prompt(element)
    if tag == "Gather":
        prompts = []
        for child in element:
            if child.tag not in ("Say", "Play", "Pause"):
                raise TwimlError(f"<Gather> cannot nest <{child.tag}>", code=12200)
            prompts.append(_prompt(child))
        return Gather(
            action=a.get("action"),
            method=a.get("method", "POST").upper(),
            input=frozenset(a.get("input", "dtmf").split()),
            num_digits=_int(a, "numDigits"),
            finish_on_key=a.get("finishOnKey", "#"),
            timeout=_int(a, "timeout") or 5,
            speech_timeout=a.get("speechTimeout"),
            action_on_empty_result=_bool(a, "actionOnEmptyResult", default=False),
            hints=a.get("hints"),
            language=a.get("language", "en-US"),
            prompts=tuple(prompts),
        )
    if tag == "Record":
        return Record(
            action=a.get("action"),
            method=a.get("method", "POST").upper(),
            timeout=_int(a, "timeout") or 5,
            finish_on_key=a.get("finishOnKey", "1234567890*#"),
            max_length=_int(a, "maxLength") or 3600,
            play_beep=_bool(a, "playBeep", default=True),
            trim=a.get("trim", "trim-silence"),
            transcribe=_bool(a, "transcribe", default=False),
            recording_status_callback=a.get("recordingStatusCallback"),
            recording_status_callback_method=a.get("recordingStatusCallbackMethod", "POST").upper(),
            recording_status_callback_event=tuple(a.get("recordingStatusCallbackEvent", "completed").split()),
        )
    if tag == "Dial":
        return _dial(element)
    if tag == "Redirect":
        return Redirect(url=(element.text or "").strip(), method=a.get("method", "POST").upper())
    if tag == "Hangup":
        return Hangup()
    if tag == "Reject":
        return Reject(reason=a.get("reason", "rejected"))
    if tag in _KNOWN_UNSIMULATED:
        return Unsimulated(name=tag, attributes=dict(a))
    raise TwimlError(f"<{tag}> is not a TwiML voice verb", code=12200)


def _prompt(element: ET.Element) -> Prompt:
    a = element.attrib
    if element.tag == "Say":
        text = " ".join("".join(element.itertext()).split())
        return Say(text=text, voice=a.get("voice"), language=a.get("language"), loop=_int(a, "loop") or 1)
    if element.tag == "Play":
        return Play(url=(element.text or "").strip(), loop=_int(a, "loop") or 1, digits=a.get("digits"))
    return Pause(length=_int(a, "length") or 1)


def _dial(element: ET.Element) -> Dial:
    a = element.attrib
    targets = [
        DialTarget(
            kind=_DIAL_NOUNS[child.tag], address=(child.text or "").strip(), attributes=dict(child.attrib)
        )
        for child in element
        if child.tag in _DIAL_NOUNS
    ]
    unknown = [child.tag for child in element if child.tag not in _DIAL_NOUNS]
    if unknown:
        raise TwimlError(f"<Dial> cannot nest <{unknown[0]}>", code=12200)
    if not targets and (element.text or "").strip():
        targets.append(DialTarget(kind="number", address=(element.text or "").strip()))
    if not targets:
        raise TwimlError("<Dial> has nothing to dial", code=12200)
    return Dial(
        targets=tuple(targets),
        action=a.get("action"),
        method=a.get("method", "POST").upper(),
        timeout=_int(a, "timeout") or 30,
        caller_id=a.get("callerId"),
        record=a.get("record"),
        answer_on_bridge=_bool(a, "answerOnBridge", default=False),
    )


def _int(attributes: dict[str, str], name: str) -> int | None:
    raw = attributes.get(name)
    if raw is None:
        return None
    try:
        return int(raw)
    except ValueError:
        raise TwimlError(f"attribute {name}={raw!r} is not a whole number", code=12200) from None


def _bool(attributes: dict[str, str], name: str, *, default: bool) -> bool:
    raw = attributes.get(name)
    return default if raw is None else raw.strip().lower() == "true"
