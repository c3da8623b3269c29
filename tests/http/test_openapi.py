"""The OpenAPI document's error answers: declared with ``errors``, completed by ``complete``."""

from __future__ import annotations

from typing import Any

from fastapi.testclient import TestClient

from shipkey.config import Settings
from shipkey.http.openapi import DESCRIPTIONS, ErrorBody, ValidationErrorBody, errors

ERROR = "#/components/schemas/ErrorBody"
VALIDATION = "#/components/schemas/ValidationErrorBody"


def _operations(document: dict[str, Any]) -> list[tuple[str, str, dict[str, Any]]]:
    return [
        (method.upper(), path, operation)
        for path, item in document["paths"].items()
        for method, operation in item.items()
    ]


def _ref(response: dict[str, Any]) -> str | None:
    schema = response.get("content", {}).get("application/json", {}).get("schema", {})
    ref: str | None = schema.get("$ref")
    return ref


def test_errors_gives_each_status_the_error_shape_and_a_description() -> None:
    answer = errors(404, (409, "`SLUG_TAKEN`."), 422)
    assert answer == {
        404: {"model": ErrorBody, "description": DESCRIPTIONS[404]},
        409: {"model": ErrorBody, "description": "`SLUG_TAKEN`."},
        422: {"model": ValidationErrorBody, "description": DESCRIPTIONS[422]},
    }


def test_every_error_answer_has_the_error_shape(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    schemas = document["components"]["schemas"]
    assert schemas["ErrorBody"]["required"] == ["error", "code"]
    assert schemas["ErrorBody"]["additionalProperties"] is True
    assert "details" in schemas["ValidationErrorBody"]["required"]
    assert "HTTPValidationError" not in schemas  # FastAPI's shape, which no answer has
    for method, path, operation in _operations(document):
        for status, response in operation["responses"].items():
            if int(status) >= 400:
                assert _ref(response) in (ERROR, VALIDATION), (method, path, status)
                assert response["description"], (method, path, status)


def test_input_brings_its_validation_answers(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for method, path, operation in _operations(document):
        responses = operation["responses"]
        body = operation.get("requestBody", {}).get("content", {})
        if operation.get("parameters") or body:
            assert "422" in responses, (method, path)
        if "application/json" in body:
            assert "INVALID_JSON" in responses["400"]["description"], (method, path)
            assert "413" in responses, (method, path)
    validate = document["paths"]["/api/licenses/validate"]["post"]["responses"]
    assert _ref(validate["422"]) == VALIDATION


def test_admin_operations_document_401_and_503(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    admin = [op for op in _operations(document) if op[1].startswith("/api/admin/")]
    assert admin
    for method, path, operation in admin:
        assert {"401", "503"} <= set(operation["responses"]), (method, path)


def test_a_bound_that_is_a_setting_is_the_app_s(client: TestClient, settings: Settings) -> None:
    document = client.get("/openapi.json").json()
    size = document["components"]["schemas"]["UploadCreate"]["properties"]["size"]
    assert size["maximum"] == settings.max_upload_bytes
    assert not any(key.startswith("x-shipkey") for key in size)


def test_file_answers_are_documented(client: TestClient) -> None:
    document = client.get("/openapi.json").json()
    for path in ["/api/download/{token}", "/api/signed/{file_key}"]:
        for method in ["get", "head"]:
            responses = document["paths"][path][method]["responses"]
            assert {"200", "206", "302", "304", "404", "410", "416", "503"} <= set(responses)
            assert "*/*" in responses["200"]["content"]
    signed = document["paths"]["/api/signed/{file_key}"]["get"]["parameters"]
    required = {p["name"] for p in signed if p["in"] == "query" and p["required"]}
    assert required == {"expires", "sig"}
