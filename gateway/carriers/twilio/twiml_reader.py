"""TwiML read back the way Twilio reads it, for `trunkline call simulate`: the verbs of a `<Response>` with the
attributes that matter to a caller, and one readable line per verb.

Only what a voice answer of the gateway (or any TwiML app) needs to be followed: Say, Play, Pause, Gather (with
nested prompts), Record, Dial (Number, Sip, Client...), Redirect, Hangup, Reject. Other verbs are kept by name.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from dataclasses import dataclass, field

MAX_DOCUMENT = 256 * 1024
"""Larger answers are refused rather than parsed."""


class TwimlUnreadable(ValueError):
    """The answer is not a TwiML `<Response>` document."""


@dataclass(frozen=True)
class Prompt:
    kind: str
    """say | play | pause"""
    text: str = ""
    """What is said, the URL played, or the pause length in seconds."""


@dataclass(frozen=True)
class Verb:
    name: str
    """The TwiML element: Say, Gather, Dial, Redirect, ..."""
    attributes: dict[str, str] = field(default_factory=dict)
    text: str = ""
    prompts: tuple[Prompt, ...] = ()
    """Say/Play/Pause nested in a Gather (or the verb itself for a top-level one)."""
    targets: tuple[tuple[str, str], ...] = ()
    """What a Dial dials: (noun, address), e.g. ("Number", "+14155550100")."""

    def attribute(self, name: str, default: str = "") -> str:
        return self.attributes.get(name, default)


_PROMPTS = {"Say": "say", "Play": "play", "Pause": "pause"}


def read_twiml(document: str | bytes) -> list[Verb]:
    """The verbs of a `<Response>`, in order."""
    if len(document) > MAX_DOCUMENT:
        raise TwimlUnreadable(f"the answer is larger than {MAX_DOCUMENT} bytes")
    try:
        # expat (>= 2.4.1, as Python ships it) refuses entity expansion bombs; the size is capped above.
        root = ET.fromstring(document)  # noqa: S314
    except ET.ParseError as exc:
        raise TwimlUnreadable(f"the answer is not well-formed XML ({exc})") from None
    if root.tag != "Response":
        raise TwimlUnreadable(f"the answer's root element is <{root.tag}>, not <Response>")
    return [_verb(element) for element in root]


def _text(element: ET.Element) -> str:
    return " ".join("".join(element.itertext()).split())


def _prompt(element: ET.Element) -> Prompt:
    kind = _PROMPTS[element.tag]
    if kind == "pause":
        return Prompt(kind, element.attrib.get("length", "1"))
    return Prompt(kind, _text(element))


def _verb(element: ET.Element) -> Verb:
    attributes = dict(element.attrib)
    if element.tag in _PROMPTS:
        return Verb(element.tag, attributes, _text(element), prompts=(_prompt(element),))
    if element.tag == "Gather":
        prompts = tuple(_prompt(child) for child in element if child.tag in _PROMPTS)
        return Verb("Gather", attributes, prompts=prompts)
    if element.tag == "Dial":
        targets = tuple((child.tag, _text(child)) for child in element)
        if not targets and _text(element):
            targets = (("Number", _text(element)),)
        return Verb("Dial", attributes, targets=targets)
    return Verb(element.tag, attributes, _text(element))


def _quoted(prompt: Prompt) -> str:
    if prompt.kind == "say":
        return f'"{prompt.text}"'
    if prompt.kind == "play":
        return f"[audio {prompt.text}]"
    return f"[pause {prompt.text}s]"


def describe(verb: Verb) -> list[str]:
    """What the caller hears or what happens, one line each (`Say: "Welcome"`, `Gather: keys, 1 digit`)."""
    if verb.name in _PROMPTS:
        return [f"{verb.name}: {_quoted(verb.prompts[0])}"]
    if verb.name == "Gather":
        inputs = verb.attribute("input", "dtmf").split()
        wanted = " or ".join("keys" if kind == "dtmf" else "speech" for kind in inputs)
        digits = verb.attribute("numDigits")
        count = f", {digits} digit{'s' if digits != '1' else ''}" if digits else ""
        lines = [f"  {_quoted(prompt)}" for prompt in verb.prompts]
        return [f"Gather: {wanted}{count} (timeout {verb.attribute('timeout', '5')}s)", *lines]
    if verb.name == "Record":
        return [
            f"Record: up to {verb.attribute('maxLength', '3600')}s, ends on {verb.attribute('finishOnKey', '#')}"
        ]
    if verb.name == "Dial":
        where = ", ".join(f"{noun.lower()} {_without_query(address)}" for noun, address in verb.targets)
        return [f"Dial: {where} (ring {verb.attribute('timeout', '30')}s)"]
    if verb.name == "Redirect":
        return [f"Redirect: {verb.text}"]
    if verb.name == "Reject":
        return [f"Reject: {verb.attribute('reason', 'rejected')}"]
    if verb.name == "Hangup":
        return ["Hangup"]
    return [f"{verb.name} (not simulated)"]


def _without_query(address: str) -> str:
    """A SIP address without its headers (they carry credentials and ids nobody needs to read)."""
    return address.split("?", 1)[0]
