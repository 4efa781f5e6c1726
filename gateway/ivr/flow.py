"""The flow document (one YAML file per flow) and a flow as loaded and served."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path
from typing import Annotated

import msgspec

from gateway.ivr.conditions import FlowSchedule
from gateway.ivr.steps import Step
from gateway.ivr.steps.base import StepRef
from routing.model import Schedule

__all__ = ["Flow", "LoadedFlow"]


class Flow(msgspec.Struct, forbid_unknown_fields=True, frozen=True, gc=False, kw_only=True):
    """An IVR flow: named `steps`, run from `start`. Each step says where the caller goes next.

    The file's name (without .yaml) is the flow's id, used by routes and by `goto`/`include` in other flows.
    """

    start: Annotated[StepRef, msgspec.Meta(description="The step a call begins at")]
    steps: Annotated[
        dict[str, Step], msgspec.Meta(description="Step id -> step; ids are letters, digits, _ and -")
    ]
    description: str = ""
    voice: Annotated[str | None, msgspec.Meta(description="Default text-to-speech voice, e.g. Polly.Amy")] = (
        None
    )
    language: Annotated[str | None, msgspec.Meta(description="Default language, e.g. en-GB")] = None
    variables: Annotated[
        dict[str, str],
        msgspec.Meta(
            description="Variables this flow uses, with their starting values (a route may set them)"
        ),
    ] = msgspec.field(default_factory=dict)
    schedules: Annotated[
        dict[str, Schedule],
        msgspec.Meta(description="Named opening hours for `business_hours` / `holiday` conditions"),
    ] = msgspec.field(default_factory=dict)


class LoadedFlow(msgspec.Struct, frozen=True, gc=False, kw_only=True):
    """A validated flow as served: `version` is the short sha256 of the file's bytes."""

    id: str
    version: str
    path: Path
    loaded_at: datetime
    flow: Flow
    text: str
    schedules: dict[str, FlowSchedule]
    step_lines: dict[str, int] = msgspec.field(default_factory=dict)
    """Line of each step in the file (for graphs and the simulator)."""

    @property
    def label(self) -> str:
        return f"{self.id}@{self.version}"
