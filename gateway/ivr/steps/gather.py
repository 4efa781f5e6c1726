"""`gather`: ask a question and keep the answer (digits and/or speech) in a variable."""

from __future__ import annotations

import re
from collections.abc import Iterable
from typing import TYPE_CHECKING, Annotated

import msgspec

from gateway.ivr.actions import Gather, InputKind, Sound
from gateway.ivr.events import Digits, Event, Silence, Speech
from gateway.ivr.problems import FieldPath, Issue
from gateway.ivr.prompts import PromptSpec, prompt_texts
from gateway.ivr.steps.base import (
    CheckContext,
    DtmfKey,
    Link,
    Seconds,
    StepBase,
    StepRef,
    VarName,
    normalise_words,
    speech_matches,
)

if TYPE_CHECKING:
    from gateway.ivr.run import Run

_DIGITS = re.compile(r"^[0-9*]+$")
_PROMPTS = ("prompt", "invalid_prompt", "timeout_prompt", "failure_prompt")


class GatherStep(StepBase, frozen=True, tag="gather"):
    """Ask with `prompt`, keep the answer in `into`, go to `next`.

    Digits are accepted when their count fits (`num_digits`, or `min_digits`..`max_digits`). With `choices`,
    the answer must be one of them (by its name or one of its words or digits) and the name is kept. After
    `max_attempts` wrong or missing answers the caller goes to `on_failure` (or the call ends). Mark answers
    such as PINs `sensitive`: call events then record only how many keys were pressed.
    """

    prompt: PromptSpec
    into: Annotated[VarName, msgspec.Meta(description="Variable that keeps the answer")]
    next: StepRef
    input: Annotated[list[InputKind], msgspec.Meta(min_length=1)] = msgspec.field(
        default_factory=lambda: ["dtmf"]
    )
    num_digits: Annotated[int, msgspec.Meta(ge=1, le=32, description="Exact number of digits")] | None = None
    min_digits: Annotated[int, msgspec.Meta(ge=1, le=32)] = 1
    max_digits: Annotated[int, msgspec.Meta(ge=1, le=32)] = 20
    finish_on_key: Annotated[DtmfKey, msgspec.Meta(description='Key that ends the entry ("" for none)')] = "#"
    timeout: Annotated[Seconds, msgspec.Meta(description="Seconds to wait for the first key or word")] = 5.0
    inter_digit_timeout: Annotated[Seconds, msgspec.Meta(description="Seconds between keys")] = 3.0
    choices: Annotated[
        dict[str, list[str]],
        msgspec.Meta(
            description="Allowed answers: name -> words or digits that mean it",
            examples=[{"yes": ["yes", "1"]}],
        ),
    ] = msgspec.field(default_factory=dict)
    max_attempts: Annotated[int, msgspec.Meta(ge=1, le=10)] = 3
    invalid_prompt: PromptSpec | None = None
    timeout_prompt: PromptSpec | None = None
    failure_prompt: PromptSpec | None = None
    on_failure: StepRef | None = None
    sensitive: Annotated[
        bool,
        msgspec.Meta(
            description="The answer is private (a PIN, a card number): call events keep only how many keys"
        ),
    ] = False

    def links(self) -> list[Link]:
        links = [Link(("next",), self.next, "input", "answer")]
        if self.on_failure is not None:
            links.append(Link(("on_failure",), self.on_failure, "silence", "failure"))
        return links

    def texts(self) -> Iterable[tuple[FieldPath, str]]:
        for name in _PROMPTS:
            yield from prompt_texts(getattr(self, name), (name,))

    def assigns(self) -> Iterable[tuple[FieldPath, str]]:
        return [(("into",), self.into)]

    def check(self, context: CheckContext) -> Iterable[Issue]:
        if self.num_digits is None and self.min_digits > self.max_digits:
            yield Issue(("min_digits",), "min_digits is larger than max_digits")
        if self.finish_on_key and self.finish_on_key != "#" and self.finish_on_key in "0123456789*":
            yield Issue(("finish_on_key",), "the finish key is also a digit of the answer", 'use "#" or ""')
        for name, words in self.choices.items():
            if not words and not normalise_words(name):
                yield Issue(("choices", name), f"choice '{name}' cannot be said or pressed", at_key=True)

    def enter(self, run: Run) -> str | None:
        self._ask(run, run.sounds(self.prompt))
        return None

    def _ask(self, run: Run, prompts: list[Sound]) -> None:
        hints = [word for words in self.choices.values() for word in words] + list(self.choices)
        run.gather(
            Gather(
                prompts=prompts,
                input=list(self.input),
                timeout=self.timeout,
                inter_digit_timeout=self.inter_digit_timeout,
                num_digits=self.num_digits,
                finish_on_key=self.finish_on_key,
                hints=hints if "speech" in self.input else [],
                language=run.language,
            )
        )

    def resume(self, run: Run, event: Event) -> str | None:
        match event:
            case Digits(digits=digits):
                answer = self._digits_answer(digits)
            case Speech(text=text):
                answer = self._speech_answer(text)
            case Silence():
                answer = None
            case _:
                return self.enter(run)
        if answer is not None:
            run.vars[self.into] = answer
            return self.next
        run.failures += 1
        if run.failures >= self.max_attempts:
            run.emit(*run.sounds(self.failure_prompt))
            if self.on_failure is None:
                run.hangup("no_valid_input")
            return self.on_failure
        apology = self.timeout_prompt if isinstance(event, Silence) else self.invalid_prompt
        self._ask(run, run.sounds(apology) + run.sounds(self.prompt))
        return None

    def _digits_answer(self, digits: str) -> str | None:
        if self.choices:
            return next(
                (name for name, words in self.choices.items() if digits == name or digits in words), None
            )
        if not _DIGITS.match(digits):
            return None
        if self.num_digits is not None:
            return digits if len(digits) == self.num_digits else None
        return digits if self.min_digits <= len(digits) <= self.max_digits else None

    def _speech_answer(self, text: str) -> str | None:
        if self.choices:
            return next(
                (name for name, words in self.choices.items() if speech_matches(text, [name, *words])), None
            )
        spoken = text.strip()
        compact = re.sub(r"[\s.,-]+", "", spoken)
        if "dtmf" in self.input and compact.isdigit():
            return self._digits_answer(compact)
        return spoken or None
