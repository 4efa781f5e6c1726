"""`menu`: a classic IVR menu (long/short greeting, invalid and timeout prompts, limits, `_` and `timeout`)."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.actions import Gather, InputKind, Sound
from gateway.ivr.events import Digits, Event, Silence, Speech
from gateway.ivr.problems import FieldPath, Issue, did_you_mean
from gateway.ivr.prompts import PromptSpec, prompt_texts
from gateway.ivr.steps.base import (
    CheckContext,
    Link,
    LinkKind,
    Seconds,
    StepBase,
    StepRef,
    VarName,
    speech_matches,
)

if TYPE_CHECKING:
    from gateway.ivr.run import Run

DEFAULT_BRANCH = "_"
TIMEOUT_BRANCH = "timeout"
_SPECIAL = (DEFAULT_BRANCH, TIMEOUT_BRANCH)
_KEY = re.compile(r"^[0-9*#]+$")
_PROMPTS = ("greeting", "short_greeting", "invalid_prompt", "timeout_prompt", "exit_prompt")


class MenuStep(StepBase, frozen=True, tag="menu"):
    """Play a greeting and send the caller where the key they press (or the word they say) leads.

    The first time the caller hears `greeting`; after a mistake, `invalid_prompt` or `timeout_prompt` and then
    `short_greeting`. After `max_failures` invalid entries the caller goes to the `_` option, after
    `max_timeouts` silences to the `timeout` option (or `_`); `exit_prompt` plays first. Without them, the call
    ends.
    """

    greeting: PromptSpec
    options: Annotated[
        dict[str, StepRef],
        msgspec.Meta(
            description="Key (0-9, *, #, or several digits) -> step. `_`: after too many invalid entries; "
            "`timeout`: after too many silences",
            examples=[{"1": "sales", "2": "support", "_": "operator", "timeout": "goodbye"}],
        ),
    ]
    short_greeting: PromptSpec | None = None
    invalid_prompt: PromptSpec | None = None
    timeout_prompt: PromptSpec | None = None
    exit_prompt: PromptSpec | None = None
    speech: Annotated[
        dict[str, list[str]],
        msgspec.Meta(description="Key -> words a caller may say instead of pressing it (turns on speech)"),
    ] = msgspec.field(default_factory=dict)
    timeout: Annotated[Seconds, msgspec.Meta(description="Seconds to wait for a key")] = 5.0
    inter_digit_timeout: Annotated[Seconds, msgspec.Meta(description="Seconds between keys")] = 2.0
    max_failures: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    max_timeouts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    into: Annotated[VarName | None, msgspec.Meta(description="Variable that keeps the key chosen")] = None

    def keys(self) -> list[str]:
        return [key for key in self.options if key not in _SPECIAL]

    def links(self) -> list[Link]:
        links = []
        for key, target in self.options.items():
            kind: LinkKind = "input"
            label = f"press {key}"
            if key == TIMEOUT_BRANCH:
                kind, label = "silence", "timeout"
            elif key == DEFAULT_BRANCH:
                kind = "input" if TIMEOUT_BRANCH in self.options else "silence"
                label = "invalid"
            links.append(Link(("options", key), target, kind, label))
        return links

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        for name in _PROMPTS:
            yield from prompt_texts(getattr(self, name), (name,))

    def assigns(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("into",), self.into)] if self.into else []

    def check(self, context: CheckContext) -> Iterable[Issue]:
        keys = self.keys()
        for key in self.options:
            if key not in _SPECIAL and not _KEY.match(key):
                hint = did_you_mean(key, _SPECIAL) or "keys are digits 0-9, * or #; or `_` and `timeout`"
                yield Issue(("options", key), f"'{key}' is not a key a caller can press", hint, at_key=True)
        if not keys:
            yield Issue(
                ("options",),
                "the menu has no key to press",
                'add e.g. `"1": <step>` under options',
                at_key=True,
            )
        for key in self.speech:
            if key not in keys:
                hint = did_you_mean(key, keys) or "speech words map to the keys under `options`"
                yield Issue(("speech", key), f"'{key}' is not one of the menu's keys", hint, at_key=True)
        if DEFAULT_BRANCH not in self.options and self.exit_prompt is None:
            yield Issue(
                ("options",),
                f"after {self.max_failures} invalid entries the call ends without a word",
                "add `_: <step>` under options (e.g. an operator), or an `exit_prompt`",
                severity="warning",
                at_key=True,
            )

    def _gather(self, run: Run, prompts: list[Sound]) -> Gather:
        keys = self.keys()
        lengths = {len(key) for key in keys}
        inputs: list[InputKind] = ["dtmf", "speech"] if self.speech else ["dtmf"]
        return Gather(
            prompts=prompts,
            input=inputs,
            timeout=self.timeout,
            inter_digit_timeout=self.inter_digit_timeout,
            num_digits=lengths.pop() if len(lengths) == 1 else None,
            finish_on_key="" if any("#" in key for key in keys) else "#",
            hints=[phrase for phrases in self.speech.values() for phrase in phrases],
            language=run.language,
        )

    def enter(self, run: Run) -> str | None:
        run.gather(self._gather(run, run.sounds(self.greeting)))
        return None

    def resume(self, run: Run, event: Event) -> str | None:
        chosen: str | None
        match event:
            case Digits(digits=digits):
                chosen = digits if digits in self.options and digits not in _SPECIAL else None
            case Speech(text=text):
                chosen = next(
                    (key for key, words in self.speech.items() if speech_matches(text, words)), None
                )
            case Silence():
                return self._on_silence(run)
            case _:
                return self.enter(run)
        if chosen is not None:
            if self.into:
                run.vars[self.into] = chosen
            return self.options[chosen]
        run.failures += 1
        if run.failures >= self.max_failures:
            return self._leave(run, DEFAULT_BRANCH, "menu_failures")
        self._again(run, self.invalid_prompt)
        return None

    def _on_silence(self, run: Run) -> str | None:
        run.timeouts += 1
        if run.timeouts >= self.max_timeouts:
            branch = TIMEOUT_BRANCH if TIMEOUT_BRANCH in self.options else DEFAULT_BRANCH
            return self._leave(run, branch, "menu_timeouts")
        self._again(run, self.timeout_prompt)
        return None

    def _again(self, run: Run, apology: PromptSpec | None) -> None:
        greeting = self.short_greeting if self.short_greeting is not None else self.greeting
        run.gather(self._gather(run, run.sounds(apology) + run.sounds(greeting)))

    def _leave(self, run: Run, branch: str, reason: str) -> str | None:
        run.emit(*run.sounds(self.exit_prompt))
        target = self.options.get(branch)
        if target is None:
            run.hangup(reason)
        return target
