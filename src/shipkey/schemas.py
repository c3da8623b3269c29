"""Base classes for the JSON the API reads and writes: camelCase on the wire."""

from __future__ import annotations

import types
from typing import Annotated, Any, Generic, TypeVar, Union, get_args, get_origin

import email_validator
from pydantic import BaseModel, ConfigDict, EmailStr, Field, ValidationInfo, model_validator
from pydantic.alias_generators import to_camel


def _any_case(word: str) -> str:
    return "".join(f"[{char.lower()}{char.upper()}]" if char.isalpha() else char for char in word)


EMAIL_PATTERN = "^(?!.*[@.](%s)$)" % "|".join(  # noqa: UP031
    _any_case(name) for name in email_validator.SPECIAL_USE_DOMAIN_NAMES
)
"""What ``format: email`` does not say: addresses at special-use domains (``.test``,
``.localhost``, …) are refused, as the validator behind :data:`Email` refuses them."""

Email = Annotated[EmailStr, Field(json_schema_extra={"pattern": EMAIL_PATTERN})]
"""An e-mail address in a request."""


class ApiModel(BaseModel):
    """An answer: snake_case in Python, camelCase in JSON."""

    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


def _not_blank(schema: dict[str, Any]) -> None:
    """Strings are trimmed before their length is checked, so a string that must not be empty
    must hold more than whitespace: its schema says so (``pattern: \\S``) unless it has a
    pattern of its own."""
    for prop in schema.get("properties", {}).values():
        for option in [prop, *prop.get("anyOf", [])]:
            if option.get("type") == "string" and option.get("minLength", 0) >= 1:
                option.setdefault("pattern", r"\S")


FORM = {"form": True}
"""Validation context for values read from an HTML form (text for numbers and booleans)."""

_NOT_JSON_TYPE = object()
"""Put in place of a value of the wrong JSON type: the field's own validation refuses it."""

_JSON_KINDS: dict[type[BaseModel], dict[str, type]] = {}


def _kind(annotation: Any) -> type | None:
    """``bool``, ``int`` or ``float`` for a field of that type (or that type or None)."""
    options = get_args(annotation) if get_origin(annotation) in (Union, types.UnionType) else ()
    found = [opt for opt in options or (annotation,) if opt is not type(None)]
    if len(found) == 1 and found[0] in (bool, int, float):
        kind: type = found[0]
        return kind
    return None


def _json_kinds(model: type[BaseModel]) -> dict[str, type]:
    kinds = _JSON_KINDS.get(model)
    if kinds is None:
        kinds = {}
        for name, field in model.model_fields.items():
            kind = _kind(field.annotation)
            if kind is not None:
                kinds[field.alias or name] = kind
                kinds[name] = kind
        _JSON_KINDS[model] = kinds
    return kinds


def _wrong_json_type(kind: type, value: Any) -> bool:
    if value is None:
        return False
    if kind is bool:
        return not isinstance(value, bool)
    return isinstance(value, bool | str)


class InputModel(ApiModel):
    """A request body: unknown fields are refused, so typos do not pass silently.

    Numbers and booleans must be given as JSON numbers and booleans, as the OpenAPI document
    says (pydantic alone would take ``"5"`` or ``true`` for a number and ``0`` for a boolean);
    pages that validate a form pass ``context=FORM``.
    """

    model_config = ConfigDict(
        alias_generator=to_camel,
        populate_by_name=True,
        extra="forbid",
        str_strip_whitespace=True,
        json_schema_extra=_not_blank,
    )

    @model_validator(mode="before")
    @classmethod
    def _json_types(cls, data: Any, info: ValidationInfo) -> Any:
        kinds = _json_kinds(cls)
        if not kinds or not isinstance(data, dict) or info.context == FORM:
            return data
        wrong = [
            key
            for key, value in data.items()
            if key in kinds and _wrong_json_type(kinds[key], value)
        ]
        if not wrong:
            return data
        return {**data, **dict.fromkeys(wrong, _NOT_JSON_TYPE)}


ItemT = TypeVar("ItemT")


class PageOf(ApiModel, Generic[ItemT]):
    """One page of a list: ``{"items": [...], "nextCursor": "<opaque>" | null}``."""

    items: list[ItemT]
    next_cursor: str | None
