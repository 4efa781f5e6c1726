"""Faults on demand: how the far end answers calls and transfers, added latency, outages."""

from __future__ import annotations

import threading
from collections import deque
from typing import Literal

import msgspec

from .sip_match import normalize_number

DownMode = Literal["refused", "503"]

REASON_PHRASES: dict[int, str] = {
    200: "OK",
    403: "Forbidden",
    404: "Not Found",
    408: "Request Timeout",
    480: "Temporarily Unavailable",
    486: "Busy Here",
    487: "Request Terminated",
    500: "Server Internal Error",
    503: "Service Unavailable",
    600: "Busy Everywhere",
    603: "Decline",
}


class DialOutcome(msgspec.Struct, frozen=True):
    """The callee's final answer to an outbound INVITE, after `ring_seconds` of ringing."""

    sip_status: int = 200
    reason: str = "OK"
    ring_seconds: float = 0.0

    @property
    def answered(self) -> bool:
        return 200 <= self.sip_status < 300

    @classmethod
    def answer(cls, ring_seconds: float = 0.0) -> DialOutcome:
        return cls(200, "OK", ring_seconds)

    @classmethod
    def failure(cls, sip_status: int, reason: str | None = None, ring_seconds: float = 0.0) -> DialOutcome:
        return cls(sip_status, REASON_PHRASES.get(sip_status, "") if reason is None else reason, ring_seconds)

    @classmethod
    def busy(cls, ring_seconds: float = 0.0) -> DialOutcome:
        return cls.failure(486, ring_seconds=ring_seconds)

    @classmethod
    def declined(cls, ring_seconds: float = 0.0) -> DialOutcome:
        return cls.failure(603, ring_seconds=ring_seconds)

    @classmethod
    def no_answer(cls, sip_status: Literal[480, 408] = 480, ring_seconds: float = 0.0) -> DialOutcome:
        return cls.failure(sip_status, ring_seconds=ring_seconds)

    @classmethod
    def not_found(cls, ring_seconds: float = 0.0) -> DialOutcome:
        return cls.failure(404, ring_seconds=ring_seconds)


class TransferOutcome(msgspec.Struct, frozen=True):
    """How a SIP REFER ends, after `seconds`: completed, or refused with a SIP status and LiveKit's reason."""

    sip_status: int = 200
    reason: str = "OK"
    transfer_reason: str = "STR_COMPLETED"
    seconds: float = 0.0

    @property
    def completed(self) -> bool:
        return 200 <= self.sip_status < 300

    @classmethod
    def complete(cls, seconds: float = 0.0) -> TransferOutcome:
        return cls(seconds=seconds)

    @classmethod
    def rejected(
        cls, sip_status: int = 603, reason: str | None = None, seconds: float = 0.0
    ) -> TransferOutcome:
        phrase = REASON_PHRASES.get(sip_status, "") if reason is None else reason
        return cls(sip_status, phrase, "STR_REJECTED", seconds)

    @classmethod
    def ringing_timeout(cls, seconds: float = 0.0) -> TransferOutcome:
        return cls(408, "Request Timeout", "STR_RINGING_TIMEOUT", seconds)


class FaultBook:
    """Thread-safe queues of scripted outcomes, keyed by the dialled number or transfer target."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._dials: dict[str, deque[DialOutcome]] = {}
        self._transfers: dict[str, deque[TransferOutcome]] = {}
        self._latency: dict[str, float] = {}
        self.default_dial = DialOutcome.answer()

    def queue_dial(self, number: str, outcome: DialOutcome) -> None:
        with self._lock:
            self._dials.setdefault(normalize_number(number), deque()).append(outcome)

    def next_dial(self, number: str) -> DialOutcome:
        with self._lock:
            queue = self._dials.get(normalize_number(number))
            return queue.popleft() if queue else self.default_dial

    def queue_transfer(self, target: str, outcome: TransferOutcome) -> None:
        with self._lock:
            self._transfers.setdefault(_transfer_key(target), deque()).append(outcome)

    def next_transfer(self, target: str) -> TransferOutcome:
        with self._lock:
            queue = self._transfers.get(_transfer_key(target))
            return queue.popleft() if queue else TransferOutcome.complete()

    def set_latency(self, seconds: float, method: str | None = None) -> None:
        with self._lock:
            self._latency[method or "*"] = seconds

    def latency(self, method: str) -> float:
        with self._lock:
            return self._latency.get(method, self._latency.get("*", 0.0))


def _transfer_key(target: str) -> str:
    inner = target.removeprefix("<").removesuffix(">")
    for scheme in ("sips:", "sip:", "tel:"):
        inner = inner.removeprefix(scheme)
    return normalize_number(inner.split("@", 1)[0].split(";", 1)[0])
