"""A client made for one product refuses keys and license files of every other product."""

import json
from pathlib import Path

import pytest

from shipkey_client import LicenseClient, LicenseError, LicenseFileError, ProductMismatchError
from tests.helpers import KEY, MACHINE, FakeServer, payload_dict


def make_client(
    server: FakeServer, cache_dir: Path | None = None, product: str | None = None
) -> LicenseClient:
    return LicenseClient(
        "https://shop.example",
        public_keys=server.signer.public_keys(),
        cache_dir=cache_dir,
        http=server.client(),
        clock=server.clock,
        machine_id=MACHINE,
        product=product,
    )


@pytest.fixture
def server() -> FakeServer:
    server = FakeServer()
    server.add_license(product="pixel-lite")
    return server


def test_a_file_of_another_product_is_refused_offline(server: FakeServer) -> None:
    text = server.signer.sign(payload_dict(product="pixel-lite"))
    with pytest.raises(ProductMismatchError) as info:
        make_client(server, product="pixel-studio").verify_offline(text)
    assert info.value.code == "PRODUCT_MISMATCH"
    assert isinstance(info.value, LicenseFileError)
    assert info.value.payload is not None
    assert make_client(server, product="pixel-lite").verify_offline(text).product == "pixel-lite"
    assert make_client(server).verify_offline(text).product == "pixel-lite"  # any product


def test_the_product_is_sent_to_the_server(server: FakeServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path, product="pixel-studio")
    with pytest.raises(LicenseError) as refused:
        client.activate(KEY)
    assert (refused.value.code, refused.value.status) == ("PRODUCT_MISMATCH", 403)
    assert json.loads(server.requests[-1].content)["product"] == "pixel-studio"
    result = client.validate(KEY)
    assert (result.valid, result.code) == (False, "PRODUCT_MISMATCH")
    assert json.loads(server.requests[-1].content)["product"] == "pixel-studio"
    assert client.cached_license_file() is None


def test_a_server_that_ignores_the_product_cannot_slip_a_file_through(
    server: FakeServer, tmp_path: Path
) -> None:
    server.ignore_product = True
    client = make_client(server, tmp_path, product="pixel-studio")
    with pytest.raises(ProductMismatchError):
        client.activate(KEY)
    assert client.cached_license_file() is None
