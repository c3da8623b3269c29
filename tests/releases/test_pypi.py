"""The package index's pages: PEP 503 HTML, PEP 691 JSON, PEP 592 yanked files, HTTP Basic."""

from __future__ import annotations

import base64
import hashlib

from fastapi.testclient import TestClient

from shipkey.releases.pypi_routes import realm_of
from tests.licensing.helpers import licensed_key
from tests.releases.helpers import publish, wheel

JSON = "application/vnd.pypi.simple.v1+json"


def _auth(key: str, user: str = "license") -> dict[str, str]:
    return {"Authorization": "Basic " + base64.b64encode(f"{user}:{key}".encode()).decode()}


def _setup(admin: TestClient) -> tuple[str, dict[str, bytes]]:
    key = licensed_key(admin)
    files = {}
    for version in ["1.0.0", "1.1.0"]:
        name, data = wheel("pixel_tools", version)
        files[name] = data
        release = publish(admin, version, {name: data, f"notes-{version}.txt": b"not a package"})
    admin.post(f"/api/admin/releases/{release['id']}/yank", json={"reason": "broken <build>"})
    return key, files


def test_html_pages(admin: TestClient, client: TestClient) -> None:
    key, files = _setup(admin)
    root = client.get("/pypi/pixel-app/simple/", headers=_auth(key))
    assert root.status_code == 200
    assert root.headers["content-type"].startswith("text/html")
    assert 'href="pixel-tools/"' in root.text
    page = client.get("/pypi/pixel-app/simple/Pixel.Tools/", headers=_auth(key))
    assert page.status_code == 200
    for name, data in files.items():
        assert f"{name}#sha256={hashlib.sha256(data).hexdigest()}" in page.text
    assert 'data-yanked="broken &lt;build&gt;">pixel_tools-1.1.0' in page.text
    assert "notes-" not in page.text
    assert client.get("/pypi/pixel-app/simple/other/", headers=_auth(key)).status_code == 404


def test_json_pages(admin: TestClient, client: TestClient) -> None:
    key, files = _setup(admin)
    headers = {**_auth(key), "Accept": f"{JSON}, text/html;q=0.01"}
    root = client.get("/pypi/pixel-app/simple/", headers=headers)
    assert root.headers["content-type"] == JSON
    assert root.json() == {"meta": {"api-version": "1.0"}, "projects": [{"name": "pixel-tools"}]}
    page = client.get("/pypi/pixel-app/simple/pixel-tools/", headers=headers).json()
    assert page["name"] == "pixel-tools"
    by_name = {f["filename"]: f for f in page["files"]}
    assert set(by_name) == set(files)
    old, new = (
        by_name["pixel_tools-1.0.0-py3-none-any.whl"],
        by_name["pixel_tools-1.1.0-py3-none-any.whl"],
    )
    assert "yanked" not in old
    assert new["yanked"] == "broken <build>"
    assert (
        old["hashes"]["sha256"]
        == hashlib.sha256(files["pixel_tools-1.0.0-py3-none-any.whl"]).hexdigest()
    )
    assert client.get(old["url"], headers=_auth(key)).content == files[old["filename"]]
    gone = client.get(new["url"], headers=_auth(key))
    assert gone.status_code == 410
    assert gone.json()["code"] == "RELEASE_YANKED"


def test_basic_auth_is_required(admin: TestClient, client: TestClient) -> None:
    key, _ = _setup(admin)
    for headers in [
        {},
        _auth(key, user="someone"),
        _auth("KEY-AAAAA-AAAAA-AAAAA-AAAAA-0000"),
        {"Authorization": "Basic !!!"},
        {"Authorization": f"License {key}"},
    ]:
        answer = client.get("/pypi/pixel-app/simple/", headers=headers)
        assert answer.status_code == 401, headers
        assert answer.headers["www-authenticate"] == 'Basic realm="shipkey pixel-app"'
    assert admin.post(f"/api/admin/licenses/{key}/suspend").status_code == 200
    refused = client.get("/pypi/pixel-app/simple/pixel-tools/", headers=_auth(key))
    assert refused.status_code == 401
    assert refused.json()["code"] == "SUSPENDED"
    assert "www-authenticate" in refused.headers


def test_a_product_that_is_not_a_slug_is_refused_before_any_header(client: TestClient) -> None:
    # The realm of the challenge names the product: only a slug may get into the header.
    for path in ["/pypi/%C2%A5z/simple/", "/pypi/%C2%A5z/simple/x/", "/pypi/%C2%A5z/files/a/b"]:
        answer = client.get(path)
        assert answer.status_code == 422, path
        assert answer.json()["code"] == "VALIDATION_ERROR"
    assert realm_of("pixel-app") == "shipkey pixel-app"
    assert realm_of('a"b\u00e9') == "shipkey"
