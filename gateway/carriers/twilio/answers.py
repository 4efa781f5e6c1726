"""TwiML answers the Twilio adapter gives besides IVR turns. Pure: text in, TwiML out.

IVR turns are rendered by `gateway.ivr.render_twiml`; these cover routing targets (reject, forward, voicemail), a
call that no route takes, the ends of bridged calls, and call control (transfer, DTMF).
"""

from __future__ import annotations

from typing import Literal

from twilio.twiml.voice_response import VoiceResponse

from gateway.ivr import DialNumber, DialSip, render_twiml
from routing.model import ForwardTarget, RejectTarget

TWIML_MEDIA_TYPE = "application/xml"
NOT_ROUTED_MESSAGE = "Sorry, this number cannot take your call right now. Please try again later. Goodbye."
UNAVAILABLE_MESSAGE = "Sorry, we cannot connect your call right now. Please try again later. Goodbye."
VOICEMAIL_PROMPT = "Please leave a message after the tone. Press the hash key when you are done."
VOICEMAIL_MAX_SECONDS = 120


def reject(target: RejectTarget) -> str:
    """Refuse the call unanswered: busy for `busy`, a plain rejection otherwise (Twilio's two reasons)."""
    reason: Literal["busy", "rejected"] = "busy" if target.reason == "busy" else "rejected"
    response = VoiceResponse()
    response.reject(reason=reason)
    return str(response.to_xml())


def goodbye(message: str) -> str:
    """Tell the caller why the call cannot go on, then hang up (never silence)."""
    response = VoiceResponse()
    response.say(message)
    response.hangup()
    return str(response.to_xml())


def hangup() -> str:
    response = VoiceResponse()
    response.hangup()
    return str(response.to_xml())


def forward(target: ForwardTarget, *, action_url: str, timeout: int = 30) -> str:
    """Dial the number or SIP address; the dial's result comes back to `action_url`."""
    if target.number is not None:
        return render_twiml([DialNumber(number=target.number, timeout=timeout)], action_url=action_url)
    return render_twiml([DialSip(uri=target.sip_uri or "", timeout=timeout)], action_url=action_url)


def voicemail(*, action_url: str, recording_callback_url: str) -> str:
    """Prompt, then record a message; the recording is reported to `recording_callback_url`."""
    response = VoiceResponse()
    response.say(VOICEMAIL_PROMPT)
    response.record(
        action=action_url,
        method="POST",
        max_length=VOICEMAIL_MAX_SECONDS,
        play_beep=True,
        finish_on_key="#",
        timeout=5,
        recording_status_callback=recording_callback_url,
        recording_status_callback_method="POST",
    )
    response.say("Thank you. Goodbye.")
    response.hangup()
    return str(response.to_xml())


def transfer(to: str) -> str:
    """A live call's new instructions for a transfer: dial `to` (E.164 or a SIP URI)."""
    response = VoiceResponse()
    dial = response.dial()
    if to.startswith(("sip:", "sips:")):
        dial.sip(to)
    else:
        dial.number(to)
    return str(response.to_xml())


def play_digits(digits: str, *, resume_url: str) -> str:
    """Play DTMF into a live call, then carry on with what the call was doing (`resume_url`)."""
    response = VoiceResponse()
    response.play(digits=digits)
    response.redirect(resume_url, method="POST")
    return str(response.to_xml())
