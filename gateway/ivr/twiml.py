"""Render engine actions as TwiML (Twilio's voice markup), and read Twilio's callback parameters as events.

Pure functions over data: no I/O, no HTTP. Before rendering, the adapter performs `HttpRequest` actions
(`gateway.ivr.driver`) and resolves `ConnectAgent` into a `DialSip` to LiveKit SIP (it creates the room and
the agent dispatch first); both are refused here, so a forgotten step fails loudly in tests, not on a call.

Twilio's `<Gather timeout>` is the wait for input *and* between keys; there is no separate inter-digit
timeout, so `Gather.inter_digit_timeout` is not rendered (the LiveKit runner uses it).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any
from urllib.parse import quote, urljoin

import msgspec
from twilio.twiml.voice_response import VoiceResponse

from gateway.ivr.actions import (
    Action,
    ConnectAgent,
    DialNumber,
    DialSip,
    Gather,
    Hangup,
    HttpRequest,
    Play,
    Record,
    Say,
    Sound,
)
from gateway.ivr.events import Digits, Event, RecordResult, Silence, Speech, TransferResult, TransferStatus

__all__ = ["UnrenderableAction", "render_twiml", "render_twiml_uncached", "twilio_event"]


class UnrenderableAction(ValueError):
    """An action the adapter must resolve before rendering (an HTTP request, an agent connection)."""


_ACTION_URL = "urn:trunkline:action-url"
_RENDERED: dict[bytes, str] = {}
_RENDERED_MAX = 4096
_key_encoder = msgspec.json.Encoder()


def render_twiml(actions: Sequence[Action], *, action_url: str, media_base_url: str | None = None) -> str:
    """TwiML for one turn. `action_url` receives the caller's input and the results of Record and Dial.

    Audio given as a path relative to the flows directory is played from `media_base_url` + path.
    Callers mostly hear the same menus, so renderings are memoised by content (bounded; the action URL is
    filled in afterwards).
    """
    key = _key_encoder.encode((actions, media_base_url))
    rendered = _RENDERED.get(key)
    if rendered is None:
        rendered = render_twiml_uncached(actions, action_url=_ACTION_URL, media_base_url=media_base_url)
        if len(_RENDERED) >= _RENDERED_MAX:
            _RENDERED.clear()
        _RENDERED[key] = rendered
    return rendered.replace(_ACTION_URL, _xml_escape(action_url))


def _xml_escape(text: str) -> str:
    """Escaped for an XML attribute (also valid as element text)."""
    return (
        text.replace("&", "&amp;")
        .replace("<", "&lt;")
        .replace(">", "&gt;")
        .replace('"', "&quot;")
        .replace("\n", "&#10;")
        .replace("\r", "&#13;")
        .replace("\t", "&#09;")
    )


def render_twiml_uncached(
    actions: Sequence[Action], *, action_url: str, media_base_url: str | None = None
) -> str:
    """`render_twiml` without the memo: builds the document with twilio's VoiceResponse every time."""
    response = VoiceResponse()
    if len(actions) == 1 and isinstance(actions[0], Hangup) and actions[0].reject is not None:
        response.reject(reason=actions[0].reject)
        return str(response.to_xml())
    for action in actions:
        match action:
            case Say() | Play():
                _sound(response, action, media_base_url)
            case Gather():
                _gather(response, action, action_url, media_base_url)
            case Record():
                response.record(
                    action=action_url,
                    method="POST",
                    max_length=action.max_length,
                    play_beep=action.beep,
                    finish_on_key=action.finish_on_key,
                    timeout=action.timeout,
                    transcribe=action.transcribe,
                )
                # Reached only when Twilio skips the action URL (nothing was recorded): report silence.
                response.redirect(action_url, method="POST")
            case DialNumber():
                _dial(response, action, action_url).number(action.number)
            case DialSip():
                _dial(response, action, action_url).sip(
                    _sip_with_headers(action.uri, action.headers),
                    username=action.username,
                    password=action.password,
                )
            case Hangup():
                response.hangup()
            case HttpRequest() | ConnectAgent():
                raise UnrenderableAction(
                    f"{type(action).__name__} must be resolved by the adapter before rendering TwiML"
                )
    return str(response.to_xml())


def _dial(response: VoiceResponse, action: DialNumber | DialSip, action_url: str) -> Any:
    return response.dial(action=action_url, method="POST", timeout=action.timeout, caller_id=action.caller_id)


def _sound(parent: VoiceResponse, sound: Sound, media_base_url: str | None) -> None:
    if isinstance(sound, Say):
        parent.say(sound.text, voice=sound.voice, language=sound.language)
    else:
        parent.play(_media_url(sound.url, media_base_url), loop=sound.loop if sound.loop != 1 else None)


def _gather(response: VoiceResponse, gather: Gather, action_url: str, media_base_url: str | None) -> None:
    element = response.gather(
        action=action_url,
        method="POST",
        input=" ".join(gather.input),
        timeout=_seconds(gather.timeout),
        num_digits=gather.num_digits,
        finish_on_key=gather.finish_on_key,
        hints=", ".join(gather.hints) if gather.hints else None,
        language=gather.language if "speech" in gather.input else None,
        action_on_empty_result=True,
    )
    for sound in gather.prompts:
        _sound(element, sound, media_base_url)
    # Reached only if Twilio ignores actionOnEmptyResult: report the silence to the same URL.
    response.redirect(action_url, method="POST")


def _seconds(value: float) -> int:
    return max(1, round(value))


def _media_url(url: str, media_base_url: str | None) -> str:
    if media_base_url is None or url.startswith(("https://", "http://")):
        return url
    return urljoin(media_base_url.rstrip("/") + "/", quote(url))


def _sip_with_headers(uri: str, headers: Mapping[str, str]) -> str:
    if not headers:
        return uri
    query = "&".join(f"{quote(name)}={quote(value)}" for name, value in headers.items())
    return f"{uri}{'&' if '?' in uri else '?'}{query}"


_DIAL_STATUS: dict[str, TransferStatus] = {
    "completed": "completed",
    "answered": "completed",
    "busy": "busy",
    "no-answer": "no-answer",
    "failed": "failed",
    "canceled": "canceled",
}


def twilio_event(params: Mapping[str, str]) -> Event:
    """The engine event carried by a Twilio action callback (Gather, Record or Dial).

    Gather: `Digits` / `SpeechResult` (+ `Confidence`), nothing means silence. Record: `RecordingUrl`
    (+ `RecordingDuration`; an empty recording counts as silence). Dial: `DialCallStatus`.
    """
    dial_status = params.get("DialCallStatus")
    if dial_status:
        return TransferResult(status=_DIAL_STATUS.get(dial_status, "failed"))
    recording = params.get("RecordingUrl")
    if recording:
        duration = _number(params.get("RecordingDuration"))
        return RecordResult(url=recording, duration=duration) if duration > 0 else Silence()
    digits = params.get("Digits", "")
    if digits and digits != "hangup":
        return Digits(digits=digits)
    speech = params.get("SpeechResult", "").strip()
    if speech:
        confidence = params.get("Confidence")
        return Speech(text=speech, confidence=_number(confidence) if confidence else None)
    return Silence()


def _number(value: str | None) -> float:
    try:
        return float(value) if value else 0.0
    except ValueError:
        return 0.0
