"""The OpenAPI document states every answer an operation gives: error answers are declared one
way, by every route.

* :class:`ErrorBody` is the shape of every error answer (``{"error", "code", …}``, see
  :mod:`shipkey.errors`); :class:`ValidationErrorBody` adds ``details`` (422).
* :func:`errors` builds a route's ``responses=`` from the statuses it can answer, each with the
  error shape and a description (the route may name its codes)::

      @router.post("/{id}/refund", responses=errors(404, (409, "`INVALID_STATE`: not paid.")))

  An ``APIRouter(responses=errors(…))`` gives them to every route of the router (the admin API's
  401 and 503: :data:`shipkey.admin.auth.ADMIN_ERRORS`).
* :func:`install` makes the app's document end with :func:`complete`, which adds what every
  operation with that kind of input answers, as :mod:`shipkey.errors` really answers it:
  422 ``VALIDATION_ERROR`` (in place of FastAPI's own shape) for an operation with parameters or
  a body, and 400 ``INVALID_JSON`` and 413 ``PAYLOAD_TOO_LARGE`` for a JSON body.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from fastapi import FastAPI
from pydantic import BaseModel, ConfigDict, Field

from shipkey.config import Settings

Responses = dict[int | str, dict[str, Any]]
"""What a route decorator's or a router's ``responses=`` takes."""


class ErrorBody(BaseModel):
    """An error: a message for a person and a code for programs; some codes add fields (such as
    ``maxActivations`` with ``TOO_MANY_ACTIVATIONS``)."""

    model_config = ConfigDict(extra="allow")

    error: str = Field(description="What went wrong, for a person.")
    code: str = Field(description="What went wrong, for programs.", examples=["NOT_FOUND"])


class FieldProblem(BaseModel):
    field: str | None = Field(description="The field, dotted (``metadata.features``).")
    message: str


class ValidationErrorBody(ErrorBody):
    """A request whose parameters or body do not fit the schema (``VALIDATION_ERROR``)."""

    details: list[FieldProblem]


DESCRIPTIONS: dict[int, str] = {
    400: "The request is not right (`BAD_REQUEST`).",
    401: "No valid admin token (`UNAUTHORIZED`).",
    403: "Not allowed (`FORBIDDEN`).",
    404: "Not found (`NOT_FOUND`).",
    409: "Not possible in the current state (`CONFLICT`).",
    410: "No longer there (`GONE`).",
    413: "The body is too large (`PAYLOAD_TOO_LARGE`).",
    415: "The body's media type is not one this operation reads (`UNSUPPORTED_MEDIA_TYPE`).",
    416: "The range is outside the file (`RANGE_NOT_SATISFIABLE`).",
    422: "A parameter or a field of the body is missing or invalid (`VALIDATION_ERROR`).",
    429: "Too many requests (`RATE_LIMITED`); `Retry-After` says when to try again.",
    503: "The database is not available (`DATABASE_UNAVAILABLE`); `Retry-After` says when to "
    "try again.",
}
"""The description of each error status unless the route gives its own."""

INVALID_JSON = "The body is not valid JSON (`INVALID_JSON`)."
BODY_TOO_LARGE = "The JSON body is larger than the API reads (`PAYLOAD_TOO_LARGE`)."


def errors(*statuses: int | tuple[int, str]) -> Responses:
    """``responses=`` for the error statuses a route (or every route of a router) answers, each
    with :class:`ErrorBody`; give ``(status, description)`` to name the route's own codes.
    (422 ``VALIDATION_ERROR`` is added by :func:`complete` wherever there is input; a route
    declares 422 itself only for codes of its own.)"""
    answer: Responses = {}
    for item in statuses:
        status, description = item if isinstance(item, tuple) else (item, DESCRIPTIONS[item])
        model = ValidationErrorBody if item == 422 else ErrorBody
        answer[status] = {"model": model, "description": description}
    return answer


def _content(model: type[BaseModel]) -> dict[str, Any]:
    return {"application/json": {"schema": {"$ref": f"{REF}{model.__name__}"}}}


REF = "#/components/schemas/"


SETTING_MAXIMUM = "x-shipkey-maximum-setting"


def at_most_setting(name: str) -> dict[str, Any]:
    """``json_schema_extra`` for a number whose upper bound is a setting (``max_upload_bytes``):
    the document states the bound of the app it describes."""
    return {SETTING_MAXIMUM: name}


def _apply_settings(node: Any, settings: Settings) -> None:
    if isinstance(node, dict):
        name = node.pop(SETTING_MAXIMUM, None)
        if name is not None:
            bound = int(getattr(settings, name))
            node["maximum"] = min(node.get("maximum", bound), bound)
        for value in node.values():
            _apply_settings(value, settings)
    elif isinstance(node, list):
        for value in node:
            _apply_settings(value, settings)


def complete(document: dict[str, Any], settings: Settings) -> dict[str, Any]:
    """``document`` with the answers every operation with input gives (see the module), and
    the bounds that are settings (:func:`at_most_setting`) filled in."""
    _apply_settings(document, settings)
    schemas = document.setdefault("components", {}).setdefault("schemas", {})
    for model in (ErrorBody, ValidationErrorBody):
        definition = model.model_json_schema(ref_template=REF + "{model}")
        schemas.update(definition.pop("$defs", {}))
        schemas[model.__name__] = definition
    for path_item in document.get("paths", {}).values():
        for operation in path_item.values():
            _complete_operation(operation)
    # FastAPI's own validation shapes, which no answer of this API has.
    if f"{REF}HTTPValidationError'" not in repr(document["paths"]):
        schemas.pop("HTTPValidationError", None)
        if f"{REF}ValidationError'" not in repr(schemas):
            schemas.pop("ValidationError", None)
    return document


def _complete_operation(operation: dict[str, Any]) -> None:
    responses: dict[str, Any] = operation.setdefault("responses", {})
    body = operation.get("requestBody", {}).get("content", {})
    has_input = bool(operation.get("parameters")) or bool(body)
    declared = responses.get("422", {}).get("description") not in (None, "Validation Error")
    if declared and "VALIDATION_ERROR" not in responses["422"]["description"]:
        # The route's own 422 codes, and the validation errors (an ErrorBody too).
        if has_input:
            responses["422"]["description"] += f" Or: {DESCRIPTIONS[422]}"
    elif has_input:
        responses["422"] = {
            "description": DESCRIPTIONS[422],
            "content": _content(ValidationErrorBody),
        }
    if "application/json" in body:
        bad = responses.setdefault("400", {"description": "", "content": _content(ErrorBody)})
        if "INVALID_JSON" not in bad["description"]:
            bad["description"] = f"{bad['description']} {INVALID_JSON}".strip()
        responses.setdefault("413", {"description": BODY_TOO_LARGE, "content": _content(ErrorBody)})


def install(app: FastAPI) -> None:
    """Make ``app``'s OpenAPI document (``/openapi.json``, ``app.openapi()``) end with
    :func:`complete`; it is built once, on first use."""
    build: Callable[[], dict[str, Any]] = app.openapi

    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            app.openapi_schema = complete(build(), app.state.settings)
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


FILE_CONTENT = {"*/*": {"schema": {"type": "string", "format": "binary"}}}
"""A file's bytes, of its own media type."""


def file_responses(*, redirect: bool = True) -> Responses:
    """The successful answers of a route that serves a stored file: 200, 206 for a range, 304
    for a matching ``If-None-Match``, and 302 to a presigned URL (``redirect`` download mode)."""
    answers: Responses = {
        200: {"description": "The file (no body for HEAD).", "content": FILE_CONTENT},
        206: {"description": "The range asked for (`Range`, `If-Range`).", "content": FILE_CONTENT},
        304: {"description": "`If-None-Match` matches the file's `ETag`."},
    }
    if redirect:
        answers[302] = {"description": "To a short-lived presigned URL (`redirect` mode)."}
    return answers


def query_parameters(*parameters: dict[str, Any]) -> dict[str, Any]:
    """``openapi_extra`` declaring query parameters a route reads itself (so that it answers a
    missing or malformed one with its own error instead of 422), each made with
    :func:`query_parameter`."""
    return {"parameters": list(parameters)}


def query_parameter(
    name: str, schema: dict[str, Any], *, required: bool = True, description: str = ""
) -> dict[str, Any]:
    """One query parameter for :func:`query_parameters`."""
    parameter = {"name": name, "in": "query", "required": required, "schema": schema}
    if description:
        parameter["description"] = description
    return parameter
