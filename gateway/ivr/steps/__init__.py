"""The step types of a flow, one module each, and the tagged union that names them all (`type:`)."""

from __future__ import annotations

from typing import TypeAlias

from gateway.ivr.steps.assign import SetStep
from gateway.ivr.steps.base import CheckContext, Link, LinkKind, StepBase
from gateway.ivr.steps.branch import BranchStep, Case
from gateway.ivr.steps.gather import GatherStep
from gateway.ivr.steps.goto import GotoStep
from gateway.ivr.steps.hangup import HangupStep
from gateway.ivr.steps.include import IncludeStep, ReturnStep
from gateway.ivr.steps.lookup import HttpStep
from gateway.ivr.steps.menu import MenuStep
from gateway.ivr.steps.play import PlayStep
from gateway.ivr.steps.record import RecordStep
from gateway.ivr.steps.say import SayStep
from gateway.ivr.steps.transfer import TransferStep

__all__ = [
    "STEP_TYPES",
    "BranchStep",
    "Case",
    "CheckContext",
    "GatherStep",
    "GotoStep",
    "HangupStep",
    "HttpStep",
    "IncludeStep",
    "Link",
    "LinkKind",
    "MenuStep",
    "PlayStep",
    "RecordStep",
    "ReturnStep",
    "SayStep",
    "SetStep",
    "Step",
    "StepBase",
    "TransferStep",
    "step_type",
]

Step: TypeAlias = (
    SayStep
    | PlayStep
    | MenuStep
    | GatherStep
    | BranchStep
    | SetStep
    | HttpStep
    | TransferStep
    | RecordStep
    | HangupStep
    | GotoStep
    | IncludeStep
    | ReturnStep
)

STEP_TYPES: tuple[type[StepBase], ...] = (
    SayStep,
    PlayStep,
    MenuStep,
    GatherStep,
    BranchStep,
    SetStep,
    HttpStep,
    TransferStep,
    RecordStep,
    HangupStep,
    GotoStep,
    IncludeStep,
    ReturnStep,
)


def step_type(step: StepBase) -> str:
    """The step's `type:` as written in flow files (say, menu, ...)."""
    return str(step.__struct_config__.tag)
