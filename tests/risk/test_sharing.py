"""The rules over what is recorded: links and keys used from many networks, activations that
come and go, buyers who keep getting their money back. Clients reach the app through the test's
own proxy (loopback, a trusted proxy), which names each client in X-Forwarded-For."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.jobs.worker import Worker
from shipkey.licensing.models import LicenseSighting
from shipkey.orders.models import Purchase
from shipkey.portal.models import LoginToken
from shipkey.risk.evidence import dispute_evidence, purchase_evidence
from tests.factories import create_product, create_purchase, new_link, product_with_file
from tests.risk.conftest import SELLER
from tests.risk.helpers import (
    download,
    flagged_hooks,
    flush_sightings,
    license_status,
    risk_events,
    seller_mails,
    validate,
)


def _licensed(admin: TestClient, **fields: object) -> str:
    create_product(
        admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL", **fields
    )
    return "pixel"


def test_links_fetched_from_many_networks_flag_the_purchase_once(
    admin: TestClient, live_server: str, db: Database, worker: Worker, endpoint: str
) -> None:
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"], maxDownloads=10)
    for n in range(4):
        response = download(live_server, new_link(admin, purchase["id"]), f"198.51.{n}.7")
        assert response.status_code == 200
    worker.run_once()

    [event] = risk_events(admin, status="OPEN")
    assert event["kind"] == "DOWNLOAD_SHARING"
    assert event["purchaseId"] == purchase["id"]
    assert event["licenseKey"] is None
    assert event["status"] == "OPEN"
    networks = [item["network"] for item in event["details"]["networks"]]
    assert networks == [f"198.51.{n}.0/24" for n in range(4)]
    addresses = [d["ipAddress"] for item in event["details"]["networks"] for d in item["downloads"]]
    assert addresses == [f"198.51.{n}.7" for n in range(4)]

    # A fifth network: the rule hits again, but the open event stands alone.
    assert (
        download(live_server, new_link(admin, purchase["id"]), "2001:db8:5::1").status_code == 200
    )
    worker.run_once()
    assert len(risk_events(admin)) == 1
    [mail] = seller_mails(db)
    assert mail.to_address == SELLER
    assert purchase["id"] in mail.text_body
    assert "198.51.3.0/24" in mail.text_body
    [hook] = flagged_hooks(db)
    assert hook.data["id"] == event["id"]
    assert hook.data["kind"] == "DOWNLOAD_SHARING"


def test_an_honest_buyer_at_home_and_on_the_phone_is_not_flagged(
    admin: TestClient, live_server: str, db: Database, worker: Worker
) -> None:
    product, _ = product_with_file(admin)
    purchase = create_purchase(admin, product["slug"], maxDownloads=10)
    for address in ("203.0.113.5", "203.0.113.77", "198.51.100.9"):  # home twice, then phone
        assert download(live_server, new_link(admin, purchase["id"]), address).status_code == 200
    worker.run_once()
    assert risk_events(admin) == []
    assert seller_mails(db) == []


def test_a_key_validated_from_many_networks_at_once_is_flagged(
    admin: TestClient,
    live_server: str,
    db: Database,
    worker: Worker,
    endpoint: str,
    settings: Settings,
) -> None:
    purchase = create_purchase(admin, _licensed(admin))
    key = purchase["licenses"][0]["key"]
    addresses = [f"10.{n}.0.1" for n in range(4)] + [f"2001:db8:{n + 1}::7" for n in range(3)]

    with ThreadPoolExecutor(max_workers=7) as pool:
        answers = list(pool.map(lambda a: validate(live_server, key, a), addresses * 3))
    assert all(a.status_code == 200 and a.json()["valid"] for a in answers)
    flush_sightings(db, settings)
    with db.read_session() as session:
        sightings = session.scalars(
            select(LicenseSighting.network).order_by(LicenseSighting.network)
        ).all()
    expected = sorted(
        [f"10.{n}.0.0/24" for n in range(4)] + [f"2001:db8:{n + 1}::/48" for n in range(3)]
    )
    assert list(sightings) == expected  # one row a network and day, however many calls

    worker.run_once()
    [event] = risk_events(admin, kind="KEY_SHARING")
    assert event["licenseKey"] == key
    assert event["purchaseId"] == purchase["id"]
    assert sorted(item["network"] for item in event["details"]["networks"]) == expected
    assert len(seller_mails(db)) == 1
    assert len(flagged_hooks(db)) == 1
    assert license_status(db, key) == "ACTIVE"  # SHIPKEY_RISK_ACTION=flag: flagged only


def test_a_key_used_at_home_and_at_work_is_not_flagged(
    admin: TestClient, live_server: str, db: Database, worker: Worker, settings: Settings
) -> None:
    key = create_purchase(admin, _licensed(admin))["licenses"][0]["key"]
    for address in ["203.0.113.5", "203.0.113.9", "198.51.100.20"] * 4:
        assert validate(live_server, key, address).json()["valid"]
    flush_sightings(db, settings)
    worker.run_once()
    assert risk_events(admin) == []


def test_activations_that_come_and_go_are_flagged(
    admin: TestClient, client: TestClient, worker: Worker
) -> None:
    key = create_purchase(admin, _licensed(admin, maxDeactivations=10))["licenses"][0]["key"]
    for n in range(6):
        machine = f"machine-{n}"
        activated = client.post(
            "/api/licenses/activate", json={"licenseKey": key, "machineId": machine}
        )
        assert activated.status_code == 200, activated.text
        freed = client.delete("/api/licenses/activate", params={"key": key, "machineId": machine})
        assert freed.status_code == 200, freed.text
        worker.run_once()
        assert len(risk_events(admin)) == (1 if n == 5 else 0)
    [event] = risk_events(admin)
    assert event["kind"] == "ACTIVATION_CHURN"
    assert [a["machineId"] for a in event["details"]["activations"]] == [
        f"machine-{n}" for n in range(6)
    ]


def test_risk_events_are_paged_and_filtered(
    admin: TestClient, live_server: str, worker: Worker
) -> None:
    product, _ = product_with_file(admin)
    for _ in range(3):
        purchase = create_purchase(admin, product["slug"], maxDownloads=10)
        for n in range(4):
            download(live_server, new_link(admin, purchase["id"]), f"192.0.{n}.1")
    worker.run_once()
    first = admin.get("/api/admin/risk-events", params={"limit": 2})
    assert first.status_code == 200
    page = first.json()
    assert len(page["items"]) == 2
    assert page["nextCursor"]
    rest = admin.get("/api/admin/risk-events", params={"limit": 2, "cursor": page["nextCursor"]})
    assert len(rest.json()["items"]) == 1
    assert rest.json()["nextCursor"] is None
    assert risk_events(admin, kind="KEY_SHARING") == []
    assert risk_events(admin, status="CLEARED") == []
    assert admin.get("/api/admin/risk-events", params={"kind": "NOPE"}).status_code == 422
    assert admin.get("/api/admin/risk-events", params={"cursor": "bad"}).status_code == 400


def test_evidence_of_a_purchase(
    admin: TestClient,
    client: TestClient,
    live_server: str,
    db: Database,
    worker: Worker,
    settings: Settings,
) -> None:
    product, data = product_with_file(
        admin, name="Pixel", slug="pixel", type="LICENSE", licenseType="PERPETUAL"
    )
    purchase = create_purchase(admin, product["slug"])
    key = purchase["licenses"][0]["key"]
    worker.run_once()  # the delivery e-mail goes out
    token = new_link(admin, purchase["id"])
    assert download(live_server, token, "203.0.113.5", agent="Safari/17").status_code == 200
    activated = client.post("/api/licenses/activate", json={"licenseKey": key, "machineId": "m1"})
    assert activated.status_code == 200
    validate(live_server, key, "203.0.113.5")
    validate(live_server, key, "2001:db8:1::1")
    flush_sightings(db, settings)
    signed_in = utcnow() - timedelta(hours=1)
    with db.session() as session:
        session.add(
            LoginToken(
                token_hash="0" * 64,
                email="Buyer@example.com",
                expires_at=signed_in + timedelta(minutes=15),
                used_at=signed_in,
            )
        )

    response = admin.get(f"/api/admin/purchases/{purchase['id']}/evidence")
    assert response.status_code == 200, response.text
    evidence = response.json()
    assert evidence["purchase"]["id"] == purchase["id"]
    assert evidence["customer"]["email"] == "buyer@example.com"
    assert evidence["consent"] is None
    [mail] = evidence["emails"]
    assert mail["to"] == "buyer@example.com"
    assert mail["sentAt"] is not None
    [fetched] = evidence["downloads"]
    assert fetched["ipAddress"] == "203.0.113.5"
    assert fetched["userAgent"] == "Safari/17"
    assert fetched["bytes"] == len(data)
    [machine] = evidence["activations"]
    assert machine["machineId"] == "m1"
    assert machine["licenseKey"] == key
    validations = evidence["validations"]
    assert validations["count"] == 2
    assert validations["networks"] == ["203.0.113.0/24", "2001:db8:1::/48"]
    assert validations["first"] is not None
    assert validations["last"] is not None
    assert len(evidence["signIns"]) == 1
    assert admin.get("/api/admin/purchases/pur_nope/evidence").status_code == 404


def test_evidence_carries_the_buyers_consent(admin: TestClient, db: Database) -> None:
    product = create_product(admin, name="Waived", slug="waived")
    purchase = create_purchase(admin, product["slug"])
    agreed = utcnow() - timedelta(minutes=5)
    with db.session() as session:
        row = session.get(Purchase, purchase["id"])
        assert row is not None
        row.consent_accepted_at = agreed
        row.consent_text = "I agree that delivery starts at once."
        row.consent_text_version = "2026-12"
        row.consent_ip = "198.51.100.7"

    evidence = admin.get(f"/api/admin/purchases/{purchase['id']}/evidence").json()
    assert evidence["consent"] == {
        "acceptedAt": agreed.isoformat(),
        "text": "I agree that delivery starts at once.",
        "textVersion": "2026-12",
        "ipAddress": "198.51.100.7",
    }
    with db.session() as session:
        row = session.get(Purchase, purchase["id"])
        assert row is not None
        text = dispute_evidence(purchase_evidence(session, row))["uncategorized_text"]
    assert "right of withdrawal" in text
    assert "2026-12" in text
