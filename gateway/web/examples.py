"""Request body examples for the OpenAPI document: what a first request looks like, per operation."""

from __future__ import annotations

from typing import Any

from litestar.enums import RequestEncodingType
from litestar.openapi.spec import Example
from litestar.params import BodyKwarg


def json_example(summary: str, value: Any) -> BodyKwarg:
    """Annotate a JSON body with one example: `data: Annotated[Struct, json_example("...", {...})]`."""
    return BodyKwarg(media_type=RequestEncodingType.JSON, examples=[Example(summary=summary, value=value)])
