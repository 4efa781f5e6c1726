"""REST /v1 controllers for the control plane: thin (validate, authorise, call domain code)."""

from __future__ import annotations

from gateway.admin.agents import AgentController

CONTROLLERS = [AgentController]
