"""JSON Schemas generated from the flow and flow-test types, committed for editors (yaml-language-server)."""

from __future__ import annotations

import inspect
import json
from pathlib import Path
from typing import Any

import msgspec

from gateway.ivr.flow import Flow
from gateway.ivr.flowtests import FlowTestFile

__all__ = ["SCHEMA_FILE", "flow_schema", "flow_tests_schema", "render_schema", "schema_files"]

SCHEMA_FILE = "schema.json"
TESTS_DIR = "tests"
_DRAFT = "https://json-schema.org/draft/2020-12/schema"


def _schema(kind: type[Any], title: str) -> dict[str, Any]:
    generated = _tidy(msgspec.json.schema(kind))
    return {"$schema": _DRAFT, "title": title, **generated}


def _tidy(node: Any) -> Any:
    """Docstrings become descriptions: drop their source indentation."""
    if isinstance(node, dict):
        return {
            key: inspect.cleandoc(value) if key == "description" and isinstance(value, str) else _tidy(value)
            for key, value in node.items()
        }
    if isinstance(node, list):
        return [_tidy(item) for item in node]
    return node


def flow_schema() -> dict[str, Any]:
    return _schema(Flow, "Trunkline IVR flow")


def flow_tests_schema() -> dict[str, Any]:
    return _schema(FlowTestFile, "Trunkline IVR flow tests")


def render_schema(schema: dict[str, Any]) -> str:
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"


def schema_files(flows_dir: Path) -> dict[Path, str]:
    """Where each schema belongs under `flows_dir`, with its text."""
    return {
        flows_dir / SCHEMA_FILE: render_schema(flow_schema()),
        flows_dir / TESTS_DIR / SCHEMA_FILE: render_schema(flow_tests_schema()),
    }
