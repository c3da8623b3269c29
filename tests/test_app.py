"""Operations endpoints and the app's error contract."""

from __future__ import annotations

import gc
import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from shipkey.app import GC_YOUNG_THRESHOLD, create_app, settle_heap
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.licensing import keys
from shipkey.licensing import routes as license_routes
from shipkey.storage import Storage
from tests.conftest import ADMIN_TOKEN
from tests.factories import create_purchase, product_with_file


def test_healthz(client: TestClient) -> None:
    assert client.get("/healthz").json() == {"status": "ok"}


def test_openapi_and_docs(client: TestClient) -> None:
    spec = client.get("/openapi.json").json()
    assert "/api/download/{token}" in spec["paths"]
    assert "/api/admin/products/{ref}/file" in spec["paths"]
    assert client.get("/docs").status_code == 200


def test_metrics_count_downloads(admin: TestClient) -> None:
    product, data = product_with_file(admin)
    token = create_purchase(admin, product["slug"])["downloadLinks"][0]["token"]
    admin.get(f"/api/download/{token}")
    admin.get(f"/api/download/{token}", headers={"Range": "bytes=10-"})
    text = admin.get("/metrics").text
    assert 'shipkey_downloads_total{outcome="counted"} 1.0' in text
    assert 'shipkey_downloads_total{outcome="resumed"} 1.0' in text
    assert f"shipkey_uploaded_bytes_total {float(len(data))}" in text


def _metrics_from(
    app: object, address: str, headers: dict[str, str] | None = None
) -> tuple[int, str]:
    with TestClient(app, client=(address, 40000)) as client:  # type: ignore[arg-type]
        response = client.get("/metrics", headers=headers)
    return response.status_code, response.json()["code"] if response.status_code != 200 else ""


@pytest.mark.parametrize(
    ("address", "headers", "status"),
    [
        ("127.0.0.1", None, 200),  # the default SHIPKEY_METRICS_ALLOW: loopback
        ("127.8.9.10", None, 200),
        ("::1", None, 200),
        ("::ffff:127.0.0.1", None, 200),
        ("203.0.113.5", None, 403),
        ("2001:db8::5", None, 403),
        ("testclient", None, 403),
        ("203.0.113.5", {"Authorization": f"Bearer {ADMIN_TOKEN}"}, 200),
        ("203.0.113.5", {"Authorization": "Bearer wrong"}, 403),
        ("203.0.113.5", {"Authorization": "Basic d3Jvbmc6d3Jvbmc="}, 403),
    ],
)
def test_metrics_answer_admins_and_allowed_networks_only(
    app: object, address: str, headers: dict[str, str] | None, status: int
) -> None:
    assert _metrics_from(app, address, headers) == (
        status,
        "" if status == 200 else "FORBIDDEN",
    )


def test_metrics_allow_is_configurable_and_trusts_only_trusted_proxies(
    settings: Settings, db: Database, storage: Storage
) -> None:
    changed = settings.model_copy(
        update={"metrics_allow": "192.0.2.0/24, 2001:db8:9::/48", "trusted_proxies": "10.0.0.0/8"}
    )
    app = create_app(changed, db=db, storage=storage)
    assert _metrics_from(app, "192.0.2.77")[0] == 200
    assert _metrics_from(app, "2001:db8:9:1::1")[0] == 200
    assert _metrics_from(app, "127.0.0.1")[0] == 403  # the default is replaced
    behind_proxy = {"X-Forwarded-For": "192.0.2.77"}
    assert _metrics_from(app, "10.0.0.2", behind_proxy)[0] == 200
    assert _metrics_from(app, "203.0.113.5", behind_proxy)[0] == 403  # a forged header


def test_a_malformed_metrics_allow_is_refused_at_start_up() -> None:
    with pytest.raises(ValueError, match="metrics_allow"):
        Settings(_env_file=None, metrics_allow="10.0.0.0/8, not-a-network")


def test_unknown_route_and_method_use_the_error_shape(client: TestClient) -> None:
    missing = client.get("/nope")
    assert missing.status_code == 404
    assert missing.json() == {"error": "Not Found", "code": "NOT_FOUND"}
    wrong = client.delete("/healthz")
    assert wrong.status_code == 405
    assert wrong.json()["code"] == "METHOD_NOT_ALLOWED"


def test_opentelemetry_is_on_only_when_configured(
    settings: Settings, db: Database, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    for name in [name for name in os.environ if name.startswith("OTEL_")]:
        monkeypatch.delenv(name)
    plain = create_app(settings, db=db, storage=storage)
    assert not plain.app._native_telemetry.enabled()  # nothing looked up per request
    assert plain.app._telemetry["tracing"] is False
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shipkey")
    traced = create_app(settings, db=db, storage=storage)
    assert traced.app._telemetry["tracing"] is True
    assert traced.app._telemetry["metrics"] is True


@pytest.fixture
def collector() -> Iterator[None]:
    """The garbage collector as it was, afterwards (the test process goes on)."""
    threshold = gc.get_threshold()
    yield
    gc.unfreeze()
    gc.set_threshold(*threshold)


@pytest.mark.usefixtures("collector")
def test_a_served_app_keeps_the_collector_off_what_start_up_built() -> None:
    gc.unfreeze()
    settle_heap()
    assert gc.get_freeze_count() > 10_000  # the app, its modules and models
    assert gc.get_count()[0] < 100  # collected first: nothing of start-up is left young
    assert gc.get_threshold()[0] == GC_YOUNG_THRESHOLD
    frozen = gc.get_freeze_count()
    settle_heap()  # each worker process calls it once; a second call only adds
    assert gc.get_freeze_count() >= frozen


def test_license_validation_is_matched_before_every_other_route(client: TestClient) -> None:
    included = [route for route in client.app.routes if hasattr(route, "original_router")]  # type: ignore[attr-defined]
    assert included[0].original_router is license_routes.validate_router
    answer = client.post("/api/licenses/validate", json={"licenseKey": "nonsense"})
    assert answer.status_code == 200
    assert answer.json() == {"valid": False, "code": "INVALID_FORMAT", "license": None}


def test_validation_update_checks_and_the_webhook_take_the_fast_lane_unless_traced(
    settings: Settings, db: Database, storage: Storage, monkeypatch: pytest.MonkeyPatch
) -> None:
    hot = [
        ("GET", "/api/releases/{product}/latest"),
        ("POST", "/api/licenses/validate"),
        ("POST", "/api/webhooks/stripe"),
    ]
    assert create_app(settings, db=db, storage=storage).fast_routes == hot
    monkeypatch.setenv("OTEL_SERVICE_NAME", "shipkey")  # OpenTelemetry configured
    traced = create_app(settings, db=db, storage=storage)
    assert traced.fast_routes == []
    with TestClient(traced) as client:
        answer = client.post("/api/licenses/validate", json={"licenseKey": "nonsense"})
        assert answer.json()["code"] == "INVALID_FORMAT"
        answer = client.post("/api/webhooks/stripe", content=b"{}")
        assert answer.status_code == 503  # no webhook secret in these settings


def test_a_nul_character_is_refused_not_a_500(admin: TestClient, db: Database) -> None:
    response = admin.get("/api/admin/products/a%00b")
    if db.is_sqlite:  # SQLite stores NUL: the product is simply not there
        assert response.status_code == 404
    else:  # PostgreSQL refuses NUL in text
        assert response.status_code == 400
        assert response.json()["code"] == "INVALID_INPUT"


@pytest.mark.parametrize("database_url", ["sqlite"], indirect=True)
@pytest.mark.parametrize("driver", ["sqlite", "postgresql"])
def test_a_database_that_is_away_is_a_503_not_a_500(
    settings: Settings, tmp_path: Path, driver: str
) -> None:
    away = {
        "sqlite": f"sqlite:///{tmp_path / 'no such directory' / 'shipkey.db'}",
        "postgresql": "postgresql+psycopg://postgres@127.0.0.1:1/nothing",  # nobody listens
    }[driver]
    app = create_app(settings.model_copy(update={"database_url": away}))
    client = TestClient(app)
    key = keys.generate_key("ABC", settings.license_key_secret)
    answers = [
        client.post("/api/licenses/validate", json={"licenseKey": key}),
        client.get("/api/admin/products", headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}),
    ]
    for answer in answers:
        assert answer.status_code == 503, answer.text
        assert answer.json()["code"] == "DATABASE_UNAVAILABLE"
        assert answer.headers["Retry-After"] == "5"
    app.state.db.dispose()
