"""Screenshots of the main pages for the README: ``.venv/bin/python scripts/screenshots.py``.

Starts a throw-away shipkey (SQLite in a temporary directory) seeded with the demo store and a
month of made-up sales, then photographs the buyer's and the seller's pages in Debian's
Chromium (desktop, German, and a phone) into ``docs/screenshots/``.
"""

from __future__ import annotations

import random
import secrets
import socket
import sys
import tempfile
import threading
import time
from datetime import datetime, timedelta
from pathlib import Path

import uvicorn
from playwright.sync_api import Browser, Page, sync_playwright
from sqlalchemy import update
from sqlalchemy.orm import Session

from shipkey import demo, migrate
from shipkey.app import create_app
from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.downloads import links as downloads
from shipkey.downloads.models import Download
from shipkey.hooks import service as hooks
from shipkey.licensing import seats
from shipkey.licensing.signing_keys import signing_key_store
from shipkey.mail import service as mail
from shipkey.orders.models import Purchase
from shipkey.orders.schemas import PurchaseCreate
from shipkey.portal import service as portal
from shipkey.portal.models import LoginPurpose
from shipkey.risk import service as risk
from shipkey.sales import flows
from shipkey.storage import open_storage

CHROMIUM = "/usr/bin/chromium"
OUT = Path(__file__).resolve().parent.parent / "docs" / "screenshots"
BUYER = demo.DEMO_BUYER
BUYERS = ["ada@example.com", "grace@example.com", "linus@example.com", "margaret@example.com"]


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def seed(settings: Settings, db: Database) -> str:
    """The demo store, a month of sales, downloads and deliveries; the licensed purchase's id."""
    storage = open_storage(settings.resolved_storage_url)
    secret = settings.license_key_secret
    rng = random.Random(7)  # noqa: S311 - made-up demo data
    now = utcnow()
    with db.session() as session:
        demo.seed(session, storage, settings)
        hooks.create_endpoint(
            session,
            "https://crm.example.com/hooks/shipkey",
            ["purchase.completed", "license.created", "purchase.refunded"],
            "CRM: new customers and refunds",
        )
        for day in range(29, 0, -1):
            for _ in range(rng.randint(0, 4)):
                slug = rng.choice(["field-guide", "pixel-forge", "field-guide"])
                purchase, delivery = flows.create_purchase(
                    session,
                    settings,
                    PurchaseCreate(product=slug, email=rng.choice(BUYERS)),
                )
                when = now - timedelta(days=day, hours=rng.randint(0, 20))
                session.execute(
                    update(Purchase)
                    .where(Purchase.id == purchase.id)
                    .values(created_at=when, completed_at=when, delivered_at=when)
                )
                message = delivery.message if delivery else None
                if message is not None:
                    mail.mark_sent(session, message.id, f"<{message.id}@demo>", when)
                if delivery and delivery.links and rng.random() < 0.8:
                    session.execute(
                        update(Download)
                        .where(Download.id == delivery.links[0].download.id)
                        .values(downloaded_at=when + timedelta(minutes=5), ip_address="203.0.113.9")
                    )
                    session.execute(
                        update(Purchase).where(Purchase.id == purchase.id).values(download_count=1)
                    )
        failed = mail.queue_login(
            session, settings, "typo@exmaple.com", "en", f"{settings.base_url}/login/x"
        )
        mail.mark_failed(session, failed.id, "550 5.1.1 <typo@exmaple.com>: Recipient unknown")
        sale, delivery = flows.create_purchase(
            session,
            settings,
            PurchaseCreate(product="pixel-forge", email=BUYER, name="Demo Buyer", locale="de"),
        )
        if delivery is None:
            raise RuntimeError("the demo sale was not delivered")
        key = delivery.licenses[0].key
        link = delivery.links[0]
        session.execute(
            update(Download)
            .where(Download.id == link.download.id)
            .values(
                created_at=now - timedelta(hours=3),
                downloaded_at=now - timedelta(hours=2),
                ip_address="198.51.100.4",
            )
        )
        session.execute(update(Purchase).where(Purchase.id == sale.id).values(download_count=1))
        downloads.issue_link(session, sale, settings.base_url)
        shared_link(session, settings, sale, now)
        sale_id = sale.id
    keys = signing_key_store(settings.resolved_data_dir)
    for machine, name in [("a1b2c3-studio", "Studio iMac"), ("d4e5f6-laptop", "ThinkPad X1")]:
        seats.activate(db, keys, secret, key, machine, machine_name=name, ip="198.51.100.4")
    return sale_id


def shared_link(session: Session, settings: Settings, sale: Purchase, now: datetime) -> None:
    """Another sale whose links went round a group: fetched from five networks in an hour."""
    shared, delivery = flows.create_purchase(
        session, settings, PurchaseCreate(product="field-guide", email="linus@example.com")
    )
    if delivery is None:
        raise RuntimeError("the shared sale was not delivered")
    for minutes, address in enumerate(
        ["203.0.113.9", "198.51.100.23", "192.0.2.77", "100.64.12.5", "172.16.40.2"]
    ):
        link = downloads.issue_link(session, shared, settings.base_url)
        session.execute(
            update(Download)
            .where(Download.id == link.download.id)
            .values(downloaded_at=now - timedelta(minutes=60 - 10 * minutes), ip_address=address)
        )
    risk.check_purchase(session, settings, shared.id, now)


def buyer_session(page: Page, settings: Settings, db: Database) -> None:
    with db.session() as session:
        token = portal.create_login_token(session, BUYER, LoginPurpose.BUYER, "en")
    page.goto(f"{settings.base_url}/login/{token}")
    page.get_by_role("button").filter(has_text="Sign in").or_(
        page.get_by_role("button").filter(has_text="Anmelden")
    ).first.click()
    page.wait_for_url("**/purchases")


def shoot(page: Page, name: str, *, full: bool = True) -> None:
    OUT.mkdir(parents=True, exist_ok=True)
    page.screenshot(path=str(OUT / f"{name}.png"), full_page=full)
    print(f"docs/screenshots/{name}.png")


def take(browser: Browser, settings: Settings, db: Database, sale_id: str, admin: str) -> None:
    base = settings.base_url
    desktop = browser.new_context(viewport={"width": 1200, "height": 800}, locale="en-US")
    page = desktop.new_page()
    page.goto(f"{base}/login")
    shoot(page, "login", full=False)
    buyer_session(page, settings, db)
    shoot(page, "purchases", full=False)
    page.goto(f"{base}/purchases/{sale_id}")
    page.get_by_role("button", name="Generate download link").click()
    shoot(page, "purchase")

    page.goto(f"{base}/admin/login")
    page.get_by_label("Admin token").fill(admin)
    page.get_by_role("button", name="Sign in").click()
    page.wait_for_url(f"{base}/admin")
    shoot(page, "admin-dashboard")
    page.goto(f"{base}/admin/purchases")
    shoot(page, "admin-purchases", full=False)
    page.goto(f"{base}/admin/purchases/{sale_id}")
    shoot(page, "admin-purchase")
    page.goto(f"{base}/admin/products/pixel-forge")
    shoot(page, "admin-product", full=False)
    page.goto(f"{base}/admin/deliveries?status=FAILED")
    shoot(page, "admin-deliveries", full=False)
    page.goto(f"{base}/admin/risk")
    shoot(page, "admin-risk", full=False)
    page.get_by_role("link", name="Evidence").first.click()
    shoot(page, "admin-evidence", full=False)
    page.goto(f"{base}/admin/webhook-endpoints")
    page.get_by_role("link", name="https://crm.example.com/hooks/shipkey").first.click()
    page.get_by_role("button", name="Send a test event").click()
    page.wait_for_load_state()
    page.set_viewport_size({"width": 1200, "height": 1500})
    shoot(page, "admin-webhook-endpoint", full=False)
    page.set_viewport_size({"width": 1200, "height": 800})
    page.goto(f"{base}/admin/audit-log")
    shoot(page, "admin-audit-log", full=False)
    desktop.close()

    german = browser.new_context(viewport={"width": 1200, "height": 800}, locale="de-DE")
    page = german.new_page()
    buyer_session(page, settings, db)
    page.goto(f"{base}/purchases/{sale_id}")
    shoot(page, "purchase-de")
    german.close()

    phone = browser.new_context(
        viewport={"width": 390, "height": 844},
        device_scale_factor=2,
        is_mobile=True,
        has_touch=True,
        locale="en-US",
    )
    page = phone.new_page()
    buyer_session(page, settings, db)
    page.goto(f"{base}/purchases/{sale_id}")
    shoot(page, "phone-purchase", full=False)
    phone.close()


def main() -> int:
    with tempfile.TemporaryDirectory(prefix="shipkey-screens-") as tmp:
        port = free_port()
        admin = "sk_admin_" + secrets.token_urlsafe(24)
        settings = Settings(
            _env_file=None,
            data_dir=Path(tmp),
            base_url=f"http://127.0.0.1:{port}",
            admin_token=admin,
            rate_limits="off",
        )
        db = Database(settings.resolved_database_url)
        migrate.upgrade(db.engine)
        sale_id = seed(settings, db)
        app = create_app(settings, db=db, run_worker=True)
        server = uvicorn.Server(
            uvicorn.Config(app, host="127.0.0.1", port=port, log_level="warning")
        )
        thread = threading.Thread(target=server.run, daemon=True)
        thread.start()
        while not server.started:
            time.sleep(0.05)
        try:
            with sync_playwright() as driver:
                browser = driver.chromium.launch(executable_path=CHROMIUM, headless=True)
                take(browser, settings, db, sale_id, admin)
                browser.close()
        finally:
            server.should_exit = True
            thread.join(timeout=10)
            db.dispose()
    return 0


if __name__ == "__main__":
    sys.exit(main())
