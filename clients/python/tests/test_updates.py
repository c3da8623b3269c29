"""Update checks and checked downloads, against an update server written from the contract."""

from __future__ import annotations

import hashlib
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from shipkey_client import LicenseClient, LicenseError, Update, UpdateError
from tests.helpers import KEY, MACHINE, Signer, b64, error


@dataclass
class UpdateServer:
    """``GET /api/releases/{product}/latest`` and the files its links point to."""

    signer: Signer = field(default_factory=Signer)
    data: bytes = field(default_factory=lambda: os.urandom(70_000))
    served: bytes | None = None
    """What the file link answers (default: ``data``)."""
    version: str = "1.4.0"
    refusal: tuple[int, str] | None = None
    size: int | None = None
    signature: str | None = None
    kid: str | None = None
    seen: list[httpx.Request] = field(default_factory=list)

    def handle(self, request: httpx.Request) -> httpx.Response:
        self.seen.append(request)
        if request.url.path == "/api/releases/e-book-pro/latest":
            if request.headers.get("authorization") != f"License {KEY}":
                return error(401, "NOT_FOUND", "This license key is not valid.")
            if self.refusal is not None:
                return error(self.refusal[0], self.refusal[1], "refused")
            if request.url.params.get("currentVersion") == self.version:
                return httpx.Response(204)
            return httpx.Response(200, json=self.answer())
        if request.url.path == "/files/app.zip":
            return httpx.Response(302, headers={"location": "https://cdn.example/app.zip"})
        if request.url.path == "/app.zip":
            return httpx.Response(
                200, content=self.served if self.served is not None else self.data
            )
        return error(404, "NOT_FOUND", "no")

    def answer(self) -> dict[str, Any]:
        return {
            "version": self.version,
            "channel": "stable",
            "notes": "Faster export.",
            "publishedAt": "2026-12-01T10:00:00Z",
            "artifacts": [
                {
                    "fileName": "app.zip",
                    "size": self.size if self.size is not None else len(self.data),
                    "sha256": hashlib.sha256(self.data).hexdigest(),
                    "platform": "linux",
                    "arch": "x86_64",
                    "url": "https://shop.example/files/app.zip?expires=1&sig=x",
                    "signature": self.signature or b64(self.signer.private_key.sign(self.data)),
                    "kid": self.kid or self.signer.kid,
                }
            ],
        }


def _client(server: UpdateServer, **kwargs: Any) -> LicenseClient:
    return LicenseClient(
        "https://shop.example",
        public_keys=server.signer.public_keys(),
        http=httpx.Client(transport=httpx.MockTransport(server.handle)),
        machine_id=MACHINE,
        product="e-book-pro",
        **kwargs,
    )


def test_check_and_download(tmp_path: Path) -> None:
    server = UpdateServer()
    client = _client(server)
    update = client.check_for_update("1.3.0", key=KEY, platform="linux", arch="x86_64")
    assert isinstance(update, Update)
    assert update.version == "1.4.0"
    assert update.notes == "Faster export."
    assert update.files[0].platform == "linux"
    params = server.seen[0].url.params
    assert params["currentVersion"] == "1.3.0"
    assert params["channel"] == "stable"
    assert params["platform"] == "linux"
    path = client.download_update(update, tmp_path)
    assert path == tmp_path / "app.zip"
    assert path.read_bytes() == server.data
    assert [p.name for p in tmp_path.iterdir()] == ["app.zip"]


def test_already_newest_is_none() -> None:
    assert _client(UpdateServer()).check_for_update("1.4.0", "beta", key=KEY) is None


def test_refusals_are_license_errors() -> None:
    server = UpdateServer(refusal=(403, "REVOKED"))
    with pytest.raises(LicenseError) as caught:
        _client(server).check_for_update("1.0", key=KEY)
    assert caught.value.code == "REVOKED"
    assert caught.value.status == 403


def test_a_product_is_needed() -> None:
    client = LicenseClient("https://shop.example", public_keys={})
    with pytest.raises(ValueError, match="product"):
        client.check_for_update("1.0", key=KEY)


@pytest.mark.parametrize(
    ("change", "code"),
    [
        ({"served": b"tampered" * 100}, "SIZE_MISMATCH"),
        ({"size": 5}, "SIZE_MISMATCH"),
        ({"served": None, "data_flip": True}, "SHA256_MISMATCH"),
        ({"signature": b64(Signer().private_key.sign(b"other"))}, "BAD_SIGNATURE"),
        ({"signature": "***"}, "BAD_SIGNATURE"),
        ({"kid": "20990101-00000000"}, "UNKNOWN_KEY"),
    ],
)
def test_a_download_that_fails_a_check_is_deleted(
    tmp_path: Path, change: dict[str, Any], code: str
) -> None:
    server = UpdateServer()
    flip = change.pop("data_flip", False)
    for name, value in change.items():
        setattr(server, name, value)
    if flip:
        server.served = bytes([server.data[0] ^ 1]) + server.data[1:]
    client = _client(server)
    update = client.check_for_update(None, key=KEY)
    assert update is not None
    with pytest.raises(UpdateError) as caught:
        client.download_update(update, tmp_path)
    assert caught.value.code == code
    assert list(tmp_path.iterdir()) == []


def test_the_readme_updater_runs(tmp_path: Path) -> None:
    import re

    readme = (Path(__file__).parent.parent / "README.md").read_text(encoding="utf-8")
    section = readme.split("## Updates", 1)[1]
    match = re.search(r"```python\n(.*?)```", section, re.DOTALL)
    assert match is not None
    namespace: dict[str, Any] = {}
    exec(compile(match.group(1), "README.md", "exec"), namespace)  # noqa: S102 - our README
    server = UpdateServer()
    client = _client(server)
    client._cached_key = lambda: KEY  # type: ignore[method-assign]
    path = namespace["update"](client, tmp_path)
    assert path is not None
    assert path.read_bytes() == server.data
    server.version = "1.3.0"
    assert namespace["update"](client, tmp_path) is None
    server.served = b"x" * len(server.data)
    server.version = "1.5.0"
    assert namespace["update"](client, tmp_path / "other") is None
