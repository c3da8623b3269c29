import json
from datetime import timedelta
from pathlib import Path

import httpx
import pytest

from shipkey_client import (
    ClockTamperedError,
    LicenseClient,
    LicenseError,
    LicenseInfo,
    NoLicenseFileError,
    ServerError,
    UnknownKeyError,
)
from tests.helpers import KEY, MACHINE, NOW, Clock, FakeServer, Signer


@pytest.fixture
def server() -> FakeServer:
    server = FakeServer()
    server.add_license()
    return server


def make_client(
    server: FakeServer,
    cache_dir: Path | None = None,
    *,
    pinned: bool = True,
    machine_id: str = MACHINE,
) -> LicenseClient:
    return LicenseClient(
        "https://shop.example/",
        public_keys=server.signer.public_keys() if pinned else None,
        cache_dir=cache_dir,
        http=server.client(),
        clock=server.clock,
        machine_id=machine_id,
    )


def last_json(server: FakeServer) -> dict[str, object]:
    body = json.loads(server.requests[-1].content)
    assert isinstance(body, dict)
    return body


def test_activate_caches_a_verified_license_file(server: FakeServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    result = client.activate(KEY, machine_name="Ada's laptop")
    assert result.success
    assert result.message == "License activated"
    assert result.license == LicenseInfo(
        product_name="E-Book Pro",
        license_type="SUBSCRIPTION",
        status="ACTIVE",
        expires_at=NOW + timedelta(days=365),
        features=("export", "sync"),
        activations=1,
        max_activations=2,
    )
    assert result.payload is not None
    assert result.payload.machine_id == MACHINE
    assert result.license_file == (tmp_path / "license.lic").read_text()
    request = server.requests[-1]
    assert request.url == "https://shop.example/api/licenses/activate"
    assert last_json(server) == {
        "licenseKey": KEY,
        "machineId": MACHINE,
        "machineName": "Ada's laptop",
    }
    assert client.verify_offline() == result.payload
    # Another run of the application, without network.
    offline = LicenseClient(
        "https://unreachable.invalid",
        public_keys=server.signer.public_keys(),
        cache_dir=tmp_path,
        clock=server.clock,
        machine_id=MACHINE,
    )
    assert offline.verify_offline() == result.payload


def test_activate_normalises_the_key_and_omits_missing_machine_name(server: FakeServer) -> None:
    make_client(server).activate(f"  {KEY.lower()}\n")
    assert last_json(server) == {"licenseKey": KEY, "machineId": MACHINE}


def test_activating_again_renews_the_file_without_a_seat(
    server: FakeServer, tmp_path: Path
) -> None:
    client = make_client(server, tmp_path)
    first = client.activate(KEY)
    server.clock.advance(timedelta(days=20))
    again = client.activate(KEY)
    assert again.message == "Already activated"
    assert again.license is not None
    assert again.license.activations == 1
    assert first.payload is not None
    assert again.payload is not None
    assert again.payload.expires_at == first.payload.expires_at + timedelta(days=20)
    assert client.verify_offline() == again.payload


def test_activate_for_another_machine_does_not_touch_the_cache(
    server: FakeServer, tmp_path: Path
) -> None:
    client = make_client(server, tmp_path)
    result = client.activate(KEY, machine_id="support-desk")
    assert result.payload is not None
    assert result.payload.machine_id == "support-desk"
    assert not (tmp_path / "license.lic").exists()


@pytest.mark.parametrize(
    ("setup", "key", "status", "code"),
    [
        ("none", "NOT-A-KEY", 400, "INVALID_KEY_FORMAT"),
        ("none", "EBO-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-0000", 404, "LICENSE_NOT_FOUND"),
        ("SUSPENDED", KEY, 403, "LICENSE_SUSPENDED"),
        ("REVOKED", KEY, 403, "LICENSE_REVOKED"),
        ("EXPIRED", KEY, 403, "LICENSE_EXPIRED"),
    ],
)
def test_activate_errors(
    server: FakeServer, tmp_path: Path, setup: str, key: str, status: int, code: str
) -> None:
    if setup != "none":
        server.licenses[KEY].status = setup
    with pytest.raises(LicenseError) as info:
        make_client(server, tmp_path).activate(key)
    assert info.value.code == code
    assert info.value.status == status
    assert info.value.message
    assert info.value.data["code"] == code
    assert not (tmp_path / "license.lic").exists()


def test_too_many_activations_carries_the_counts(server: FakeServer) -> None:
    make_client(server, machine_id="m-1").activate(KEY)
    make_client(server, machine_id="m-2").activate(KEY)
    with pytest.raises(LicenseError) as info:
        make_client(server, machine_id="m-3").activate(KEY)
    assert info.value.code == "TOO_MANY_ACTIVATIONS"
    assert info.value.status == 403
    assert info.value.data["maxActivations"] == 2
    assert info.value.data["currentActivations"] == 2


def test_rate_limit(server: FakeServer) -> None:
    server.rate_limited = True
    with pytest.raises(LicenseError) as info:
        make_client(server).validate(KEY)
    assert info.value.status == 429
    assert info.value.code == "RATE_LIMITED"
    assert info.value.retry_after == 30.0


def test_activate_fetches_and_caches_keys_when_none_are_pinned(
    server: FakeServer, tmp_path: Path
) -> None:
    client = make_client(server, tmp_path, pinned=False)
    assert client.known_kids == frozenset()
    result = client.activate(KEY)
    paths = [request.url.path for request in server.requests]
    assert paths == ["/api/licenses/activate", "/api/licenses/public-keys"]
    assert client.known_kids == {server.signer.kid}
    stored = json.loads((tmp_path / "public-keys.json").read_text())
    assert stored == server.signer.public_keys()
    offline = LicenseClient(
        "https://unreachable.invalid", cache_dir=tmp_path, clock=server.clock, machine_id=MACHINE
    )
    assert offline.verify_offline() == result.payload


def test_pinned_keys_are_not_replaced(server: FakeServer, tmp_path: Path) -> None:
    pinned = Signer(kid="20250101-00000000")
    client = LicenseClient(
        "https://shop.example",
        public_keys=pinned.public_keys(),
        cache_dir=tmp_path,
        http=server.client(),
        clock=server.clock,
        machine_id=MACHINE,
    )
    with pytest.raises(UnknownKeyError):
        client.activate(KEY)
    assert not (tmp_path / "license.lic").exists()
    assert client.fetch_public_keys() == server.signer.public_keys()
    assert client.known_kids == {pinned.kid}


def test_fetch_public_keys_skips_other_algorithms(server: FakeServer) -> None:
    rotated = Signer(kid="20261201-11111111")
    server.extra_signers.append(rotated)
    client = make_client(server, pinned=False)
    keys = client.fetch_public_keys()
    assert keys == server.signer.public_keys() | rotated.public_keys()
    assert "future-1" not in keys
    assert client.known_kids == set(keys)


def test_deactivate_frees_the_seat_and_forgets_the_file(server: FakeServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    client.activate(KEY)
    assert client.deactivate(KEY) == "Deactivated"
    request = server.requests[-1]
    assert request.method == "DELETE"
    assert request.url.path == "/api/licenses/activate"
    assert dict(request.url.params) == {"key": KEY, "machineId": MACHINE}
    assert server.licenses[KEY].machines == {}
    assert not (tmp_path / "license.lic").exists()
    with pytest.raises(LicenseError) as info:
        client.deactivate(KEY)
    assert info.value.code == "ACTIVATION_NOT_FOUND"
    assert info.value.status == 404


def test_deactivate_other_machine_keeps_own_file(server: FakeServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    client.activate(KEY)
    client.activate(KEY, machine_id="old-laptop")
    client.deactivate(KEY, machine_id="old-laptop")
    assert (tmp_path / "license.lic").exists()
    assert set(server.licenses[KEY].machines) == {MACHINE}


@pytest.mark.parametrize(
    ("setup", "key", "valid", "code"),
    [
        ("activated", KEY, True, "VALID"),
        ("none", KEY, False, "NOT_ACTIVATED"),
        ("SUSPENDED", KEY, False, "SUSPENDED"),
        ("REVOKED", KEY, False, "REVOKED"),
        ("none", "EBO-ZZZZZ-ZZZZZ-ZZZZZ-ZZZZZ-0000", False, "NOT_FOUND"),
        ("none", "garbage", False, "INVALID_FORMAT"),
    ],
)
def test_validate(server: FakeServer, setup: str, key: str, valid: bool, code: str) -> None:
    client = make_client(server)
    if setup == "activated":
        client.activate(KEY)
    elif setup != "none":
        server.licenses[KEY].status = setup
    result = client.validate(key)
    assert (result.valid, result.code) == (valid, code)
    assert last_json(server) == {"licenseKey": key.upper(), "machineId": MACHINE}
    if code == "VALID":
        assert result.license is not None
        assert result.license.status == "ACTIVE"


def test_server_failure_is_a_server_error(server: FakeServer) -> None:
    def failing(request: httpx.Request) -> httpx.Response:
        return httpx.Response(502, text="<html>Bad gateway</html>")

    client = LicenseClient(
        "https://shop.example", http=httpx.Client(transport=httpx.MockTransport(failing))
    )
    with pytest.raises(ServerError) as info:
        client.validate(KEY, machine_id=MACHINE)
    assert info.value.status == 502


def test_unreachable_server_is_a_server_error() -> None:
    def unreachable(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("connection refused", request=request)

    client = LicenseClient(
        "https://shop.example", http=httpx.Client(transport=httpx.MockTransport(unreachable))
    )
    with pytest.raises(ServerError, match="cannot reach"):
        client.activate(KEY, machine_id=MACHINE)


@pytest.mark.parametrize(
    "response",
    [
        httpx.Response(200, text="not json"),
        httpx.Response(200, json=[1, 2]),
        httpx.Response(200, json={"nothing": True}),
    ],
)
def test_answer_outside_the_api_is_a_server_error(response: httpx.Response) -> None:
    client = LicenseClient(
        "https://shop.example",
        http=httpx.Client(transport=httpx.MockTransport(lambda request: response)),
    )
    with pytest.raises(ServerError):
        client.validate(KEY, machine_id=MACHINE)


def test_error_without_json_body_still_gives_a_code() -> None:
    client = LicenseClient(
        "https://shop.example",
        http=httpx.Client(
            transport=httpx.MockTransport(lambda request: httpx.Response(404, text="nope"))
        ),
    )
    with pytest.raises(LicenseError) as info:
        client.validate(KEY, machine_id=MACHINE)
    assert (info.value.code, info.value.status) == ("HTTP_404", 404)


def test_activation_repairs_a_clock_that_ran_ahead(server: FakeServer, tmp_path: Path) -> None:
    client = make_client(server, tmp_path)
    client.activate(KEY)
    real = server.clock.moment
    server.clock.moment = real + timedelta(days=5)  # the clock was wrong for a while
    client.verify_offline()
    server.clock.moment = real + timedelta(hours=1)  # and then corrected
    with pytest.raises(ClockTamperedError):
        client.verify_offline()
    client.activate(KEY)
    assert client.verify_offline().issued_at == server.clock.moment.replace(microsecond=0)


def test_client_as_context_manager_closes_its_http_client() -> None:
    with LicenseClient("https://shop.example", machine_id=MACHINE) as client:
        assert client.machine_id == MACHINE
    assert client._http.is_closed


def test_default_machine_id_is_the_fingerprint() -> None:
    client = LicenseClient("https://shop.example", app_salt="my-app")
    assert len(client.machine_id) == 64
    assert client.machine_id == LicenseClient("https://x", app_salt="my-app").machine_id
    assert client.machine_id != LicenseClient("https://x", app_salt="other").machine_id
    client.close()


def test_clock_is_passed_through(server: FakeServer) -> None:
    clock = Clock(NOW)
    client = LicenseClient("https://shop.example", clock=clock)
    assert client.now() == NOW


def test_a_machine_the_server_no_longer_knows_is_unlicensed(
    server: FakeServer, tmp_path: Path
) -> None:
    client = make_client(server, tmp_path)
    client.activate(KEY)
    client.verify_offline()
    del server.licenses[KEY].machines[MACHINE]  # deactivated from elsewhere, file kept
    result = client.validate(KEY)
    assert (result.valid, result.code) == (False, "NOT_ACTIVATED")
    assert last_json(server)["machineId"] == MACHINE
    assert client.cached_license_file() is None
    with pytest.raises(NoLicenseFileError):
        client.verify_offline()


def test_validating_another_machine_keeps_this_ones_file(
    server: FakeServer, tmp_path: Path
) -> None:
    client = make_client(server, tmp_path)
    client.activate(KEY)
    assert client.validate(KEY, machine_id="elsewhere").code == "NOT_ACTIVATED"
    assert client.verify_offline().machine_id == MACHINE
