"""No input to the update check, the package index or release files gives a 500."""

from __future__ import annotations

from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import given
from hypothesis import strategies as st

from tests.licensing.helpers import licensed_key
from tests.releases.helpers import publish
from tests.test_fuzz import FUZZ, HEADER_TEXT, NUMBERS

TEXT = st.text(max_size=70)


@pytest.fixture
def key(admin: TestClient) -> str:
    key = licensed_key(admin)
    publish(admin, "1.0.0", {"app.zip": b"0123456789" * 10})
    return key


@FUZZ
@given(
    product=TEXT,
    channel=TEXT,
    platform=TEXT,
    version=TEXT | NUMBERS,
    auth=HEADER_TEXT,
    real=st.booleans(),
)
def test_latest_never_fails(
    client: TestClient,
    key: str,
    product: str,
    channel: str,
    platform: str,
    version: str,
    auth: str,
    real: bool,
) -> None:
    response = client.get(
        f"/api/releases/{quote(product, safe='') or 'x'}/latest",
        params={"channel": channel, "platform": platform, "currentVersion": version},
        headers={"Authorization": f"License {key}" if real else auth},
    )
    assert response.status_code < 500, response.text
    assert response.status_code == 204 or response.json()


@FUZZ
@given(project=TEXT, auth=HEADER_TEXT, accept=HEADER_TEXT, artifact=TEXT, rng=HEADER_TEXT)
def test_the_index_never_fails(
    client: TestClient, key: str, project: str, auth: str, accept: str, artifact: str, rng: str
) -> None:
    headers = {"Authorization": auth, "Accept": accept, "Range": rng}
    for path in (
        "/pypi/pixel-app/simple/",
        f"/pypi/pixel-app/simple/{quote(project, safe='') or 'x'}/",
        f"/pypi/pixel-app/files/{quote(artifact, safe='') or 'x'}/f.whl",
        f"/api/releases/files/{quote(artifact, safe='') or 'x'}/f.zip?expires=1&sig=00",
    ):
        assert client.get(path, headers=headers).status_code < 500
