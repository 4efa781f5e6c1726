"""`transfer`: connect the caller to a voice agent, a phone number or a SIP address."""

from __future__ import annotations

import re
from collections.abc import Iterable
from functools import lru_cache
from typing import TYPE_CHECKING, Annotated, Any

import msgspec

from gateway.ivr.actions import ConnectAgent, DialNumber, DialSip
from gateway.ivr.events import Event, TransferResult
from gateway.ivr.problems import FieldPath, Issue
from gateway.ivr.prompts import PromptSpec, prompt_texts
from gateway.ivr.state import Outcome
from gateway.ivr.steps.base import CheckContext, Link, StepBase, StepRef
from routing.numbers import InvalidNumber, normalize

if TYPE_CHECKING:
    from gateway.ivr.run import Run

_SIP_URI = re.compile(r"^sips?:[^\s@]+@[^\s@]+$")
_CUSTOM_HEADER = re.compile(r"^X-[A-Za-z0-9-]+$")


class TransferStep(StepBase, frozen=True, tag="transfer"):
    """Connect the caller to exactly one of `agent`, `number` or `sip`.

    If the transfer fails (busy, no answer, failed) the caller goes to `on_failure`, or the call ends.
    """

    agent: Annotated[str | None, msgspec.Meta(description="Voice agent name (bridged through LiveKit)")] = (
        None
    )
    number: Annotated[str | None, msgspec.Meta(description="E.164 number, e.g. +442079460000")] = None
    sip: Annotated[str | None, msgspec.Meta(description="SIP URI, e.g. sip:queue@pbx.example.com")] = None
    overrides: Annotated[
        dict[str, Any],
        msgspec.Meta(description="Agent settings for this call, merged over its stored config"),
    ] = msgspec.field(default_factory=dict)
    headers: Annotated[dict[str, str], msgspec.Meta(description="SIP X- headers to send")] = msgspec.field(
        default_factory=dict
    )
    caller_id: Annotated[str | None, msgspec.Meta(description="Number to show (E.164)")] = None
    timeout: Annotated[int, msgspec.Meta(ge=5, le=600, description="Seconds to let it ring")] = 30
    prompt: PromptSpec | None = None
    on_failure: StepRef | None = None

    def __post_init__(self) -> None:
        targets = [name for name in ("agent", "number", "sip") if getattr(self, name) is not None]
        if len(targets) != 1:
            raise ValueError("a transfer needs exactly one of `agent`, `number` or `sip`")
        if self.overrides and self.agent is None:
            raise ValueError("`overrides` apply to an agent transfer only")
        if self.headers and self.sip is None and self.agent is None:
            raise ValueError("`headers` apply to SIP and agent transfers only")

    @property
    def target_label(self) -> str:
        if self.agent is not None:
            return f"agent {self.agent}"
        return "number" if self.number is not None else "sip"

    def links(self) -> list[Link]:
        if self.on_failure is None:
            return []
        return [Link(("on_failure",), self.on_failure, "result", "failed")]

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        for name in ("agent", "number", "sip", "caller_id"):
            value = getattr(self, name)
            if value is not None:
                yield (name,), value
        for name, value in self.headers.items():
            yield ("headers", name), value
        yield from _override_texts(self.overrides, ("overrides",))
        yield from prompt_texts(self.prompt, ("prompt",))

    def numbers(self) -> Iterable[tuple[FieldPath, str]]:
        for name in ("number", "caller_id"):
            value = getattr(self, name)
            if value is not None and "{{" not in value:
                yield (name,), value

    def check(self, context: CheckContext) -> Iterable[Issue]:
        if self.sip is not None and "{{" not in self.sip and not _SIP_URI.match(self.sip):
            yield Issue(("sip",), f"'{self.sip}' is not a SIP URI", "write it like sip:queue@pbx.example.com")
        for name in self.headers:
            if not _CUSTOM_HEADER.match(name):
                yield Issue(
                    ("headers", name),
                    f"'{name}' cannot be sent",
                    "custom SIP headers start with X-",
                    at_key=True,
                )

    def enter(self, run: Run) -> str | None:
        announcement = run.sounds(self.prompt)
        run.emit(*announcement)
        caller_id = _number_or_none(run.text(self.caller_id)) if self.caller_id is not None else None
        if self.agent is not None:
            run.transfer(
                ConnectAgent(
                    agent=run.text(self.agent),
                    overrides=_render_overrides(run, self.overrides),
                    timeout=self.timeout,
                    announcement=len(announcement),
                )
            )
        elif self.number is not None:
            number = _number_or_none(run.text(self.number))
            if number is None:
                return self._failed(run, "invalid_number")
            run.transfer(DialNumber(number=number, caller_id=caller_id, timeout=self.timeout))
        else:
            headers = {name: run.header(value) for name, value in self.headers.items()}
            run.transfer(
                DialSip(
                    uri=run.text(self.sip or ""), headers=headers, caller_id=caller_id, timeout=self.timeout
                )
            )
        return None

    def resume(self, run: Run, event: Event) -> str | None:
        if isinstance(event, TransferResult):
            if event.status == "completed":
                run.hangup("transferred", outcome=Outcome("transferred", self.target_label))
                return None
            return self._failed(run, event.status)
        return self._failed(run, "interrupted")

    def _failed(self, run: Run, why: str) -> str | None:
        if self.on_failure is None:
            run.hangup(f"transfer_failed: {why}")
        return self.on_failure


@lru_cache(maxsize=4096)
def _number_or_none(raw: str) -> str | None:
    """E.164 form of a number a template produced (the loader already checked numbers written out)."""
    try:
        return normalize(raw, None).e164
    except InvalidNumber:
        return None


def _override_texts(value: Any, path: FieldPath) -> Iterable[tuple[FieldPath, str]]:
    if isinstance(value, str):
        yield path, value
    elif isinstance(value, dict):
        for key, inner in value.items():
            yield from _override_texts(inner, (*path, key))
    elif isinstance(value, list):
        for index, inner in enumerate(value):
            yield from _override_texts(inner, (*path, index))


def _render_overrides(run: Run, value: Any) -> Any:
    if isinstance(value, str):
        return run.text(value)
    if isinstance(value, dict):
        return {key: _render_overrides(run, inner) for key, inner in value.items()}
    if isinstance(value, list):
        return [_render_overrides(run, inner) for inner in value]
    return value
