"""405 answers name every method of the path in ``Allow``."""

from __future__ import annotations

import pytest
from fastapi.testclient import TestClient


@pytest.mark.parametrize(
    ("method", "path", "allowed"),
    [
        ("OPTIONS", "/api/licenses/activate", "POST, DELETE"),
        ("OPTIONS", "/api/admin/products", "GET, POST"),
        ("PUT", "/api/admin/products/some-book", "GET, PATCH"),
        ("POST", "/api/admin/uploads/upl_x", "GET, PUT, DELETE"),
        ("GET", "/api/licenses/validate", "POST"),  # answered in the fast lane
        ("POST", "/api/download/token", "GET, HEAD"),
        ("DELETE", "/healthz", "GET"),
    ],
)
def test_allow_names_every_method_of_the_path(
    client: TestClient, method: str, path: str, allowed: str
) -> None:
    response = client.request(method, path)
    assert response.status_code == 405
    assert response.headers["allow"] == allowed
    assert response.json()["code"] == "METHOD_NOT_ALLOWED"
