"""Base classes for the JSON the API reads and writes: camelCase on the wire."""

from __future__ import annotations

from typing import Generic, TypeVar

from pydantic import BaseModel, ConfigDict
from pydantic.alias_generators import to_camel


class ApiModel(BaseModel):
    """An answer: snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class InputModel(ApiModel):
    """A request body: unknown fields are refused, so typos do not pass silently."""

    model_config = ConfigDict(
        alias_generator=to_camel, populate_by_name=True, extra="forbid", str_strip_whitespace=True
    )


ItemT = TypeVar("ItemT")


class PageOf(ApiModel, Generic[ItemT]):
    """One page of a list: ``{"items": [...], "nextCursor": "<opaque>" | null}``."""

    items: list[ItemT]
    next_cursor: str | None


class ErrorBody(BaseModel):
    """Every error: ``{"error": "<message for a person>", "code": "<MACHINE_CODE>"}``."""

    error: str
    code: str


def error_responses(**described: str) -> dict[int | str, dict[str, object]]:
    """``responses=`` of a route: each status (``e400="…"``) answered with :class:`ErrorBody`."""
    return {
        int(status.removeprefix("e")): {"model": ErrorBody, "description": text}
        for status, text in described.items()
    }
