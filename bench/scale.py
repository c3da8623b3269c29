"""Data at scale: the seller's and the buyer's pages on a database with a year of sales.

Fills a dedicated PostgreSQL database with server-side SQL (``INSERT … SELECT
generate_series``, no ORM) to 1,000,000 purchases, 3,000,000 download rows, 1,000,000
licenses, 1,000,000 sent e-mails (bodies kept), 1,000,000 webhook events, 5,000,000 finished
jobs and 100,000 sign-in links, times ``SHIPKEY_BENCH_SCALE`` (default 1.0; 0.1 is a tenth).
Then it measures, in process (the app's whole request path without the network), every
admin list page (first page and the next), the purchase and license searches, the dashboard,
the buyer's pages, a download and a license validation, each against ``/healthz`` measured in
the same rounds.

python -m bench.scale [--scale 0.1] [--rounds 40] [--keep] [--skip-fill]

``--keep`` leaves the database in place with what measuring needs (the product, the one real
sale and its key, the sizes) noted in the database's own comment; ``--skip-fill`` measures such
a database again (and leaves it in place), after bringing it to the newest migration, so a
code change can be measured on the same rows without filling them again.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import statistics
import tempfile
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from fastapi.testclient import TestClient
from rich.table import Table
from sqlalchemy import create_engine, inspect, text
from sqlalchemy.engine import make_url

from bench.common import console, write_results

ADMIN_TOKEN = "bench-admin-token-0123456789abcdef"  # noqa: S105 - a bench's own token
SECRET = "bench-secret-key-0123456789abcdef0123456789abcdef"  # noqa: S105
DEFAULT_URL = "postgresql+psycopg://postgres@127.0.0.1:5432/shipkey_scale"
FULL = {
    "purchases": 1_000_000,
    "downloads": 3_000_000,
    "licenses": 1_000_000,
    "mail": 1_000_000,
    "webhooks": 1_000_000,
    "jobs": 5_000_000,
    "logins": 100_000,
}
DAYS = 365
GOAL_ADMIN_MS = 200.0
GOAL_BUYER_MS = 50.0
_NEXT = re.compile(r'<a[^>]*rel="next"[^>]*href="([^"]+)"|<a[^>]*href="([^"]+)"[^>]*rel="next"')


def counts(scale: float) -> dict[str, int]:
    return {name: max(int(full * scale), 10) for name, full in FULL.items()}


def customers(n: dict[str, int]) -> int:
    return max(n["purchases"] // 3, 10)


# --- the database ---------------------------------------------------------------------------


def reset_database(url: str) -> None:
    from shipkey import migrate
    from shipkey.db.engine import Database

    parsed = make_url(url)
    admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
        conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
    admin.dispose()
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()


STORE_NOTE = "shipkey bench.scale store: "


def keep_store(url: str, store: dict[str, Any]) -> None:
    """Note what measuring needs in the database's comment, for a later ``--skip-fill``."""
    note = (STORE_NOTE + json.dumps(store, separators=(",", ":"))).replace("'", "''")
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    with engine.connect() as conn:
        database = conn.execute(text("SELECT current_database()")).scalar_one()
        conn.exec_driver_sql(f"COMMENT ON DATABASE \"{database}\" IS '{note}'")
    engine.dispose()


def kept_store(url: str) -> dict[str, Any]:
    """The store a kept fill noted, the database brought to the newest migration."""
    from shipkey import migrate

    engine = create_engine(url)
    try:
        with engine.connect() as conn:
            note = conn.execute(
                text(
                    "SELECT shobj_description(oid, 'pg_database') FROM pg_database"
                    " WHERE datname = current_database()"
                )
            ).scalar_one_or_none()
    except Exception as exc:  # noqa: BLE001 - any failure to connect means nothing was kept
        raise SystemExit(f"--skip-fill: no database at {make_url(url)!r}: {exc}") from exc
    if not note or not note.startswith(STORE_NOTE):
        engine.dispose()
        raise SystemExit("--skip-fill: this database was not filled with --keep")
    store: dict[str, Any] = json.loads(note.removeprefix(STORE_NOTE))
    migrate.upgrade(engine)
    engine.dispose()
    return store


def _ago(i: str, n: int) -> str:
    """A timestamp spread evenly over the last year: row ``n`` is the newest."""
    return f"now() - make_interval(secs => ({n} - {i}) * {DAYS * 86400.0 / n})"


FILL = [
    (
        "customers",
        """INSERT INTO customers (id, email, name, locale, created_at)
        SELECT 'cus_s' || i, 'buyer' || i || '@example.com', 'Buyer ' || i, 'en', {ago}
        FROM generate_series(1, :customers) AS i""",
    ),
    (
        "purchases",
        """INSERT INTO purchases (id, product_id, customer_id, email, name, locale, status, amount,
            currency, source, max_downloads, download_count, created_at, completed_at,
            fulfilled_at, delivered_at, amount_refunded)
        SELECT 'pur_s' || i, :product_id, 'cus_s' || (1 + i % :customers),
            'buyer' || (1 + i % :customers) || '@example.com', 'Buyer', 'en',
            CASE WHEN i % 50 = 0 THEN 'REFUNDED' WHEN i % 97 = 0 THEN 'PENDING'
                 ELSE 'COMPLETED' END,
            900 + (i % 7) * 500, 'EUR', 'stripe', 5, 0, {ago},
            CASE WHEN i % 97 = 0 THEN NULL ELSE {ago} + interval '1 minute' END,
            {ago}, {ago}, 0
        FROM generate_series(1, :purchases) AS i""",
    ),
    (
        "downloads",
        """INSERT INTO downloads (id, purchase_id, token_hash, created_at, expires_at,
            downloaded_at, ip_address, user_agent, resumed_bytes)
        SELECT 'dl_s' || i, 'pur_s' || (1 + i % :purchases), md5('d' || i) || md5('e' || i),
            {ago}, {ago} + interval '3 days',
            CASE WHEN i % 5 = 0 THEN NULL ELSE {ago} + interval '10 minutes' END,
            '192.0.2.1', 'curl/8', 0
        FROM generate_series(1, :downloads) AS i""",
    ),
    (
        "licenses",
        """INSERT INTO licenses (id, key, product_id, customer_id, purchase_id, license_type,
            status, max_activations, activation_count, created_at)
        SELECT 'lic_s' || i, 'SCL-' || upper(md5('k' || i)), :product_id,
            'cus_s' || (1 + i % :customers), 'pur_s' || (1 + i % :purchases), 'PERPETUAL',
            'ACTIVE', 3, 0, {ago}
        FROM generate_series(1, :licenses) AS i""",
    ),
    (
        "mail_messages",
        """INSERT INTO mail_messages (id, kind, to_address, locale, subject, text_body,
            html_body, purchase_id, status, attempts, created_at, sent_at, message_id)
        SELECT 'msg_s' || i, 'delivery', 'buyer' || (1 + i % :customers) || '@example.com',
            'en', 'Your download', repeat(md5('t' || i), 30), repeat(md5('h' || i), 30),
            'pur_s' || (1 + i % :purchases),
            CASE WHEN i % 1000 = 0 THEN 'FAILED' ELSE 'SENT' END, 1, {ago},
            CASE WHEN i % 1000 = 0 THEN NULL ELSE {ago} + interval '5 seconds' END,
            '<' || i || '@bench>'
        FROM generate_series(1, :mail) AS i""",
    ),
    (
        "webhook_events",
        """INSERT INTO webhook_events (id, provider, event_id, type, status, object_id,
            livemode, payload, purchase_id, attempts, received_at, processed_at)
        SELECT 'whe_s' || i, 'stripe', 'evt_s' || i, 'checkout.session.completed',
            'PROCESSED', 'cs_s' || i, false,
            jsonb_build_object('id', 'evt_s' || i, 'filler', repeat(md5('w' || i), 25)),
            'pur_s' || (1 + i % :purchases), 1, {ago}, {ago}
        FROM generate_series(1, :webhooks) AS i""",
    ),
    (
        "jobs",
        """INSERT INTO jobs (id, kind, payload, status, attempts, run_at, created_at,
            finished_at)
        SELECT 'job_s' || i, 'mail.send', jsonb_build_object('message_id', 'msg_s' || i),
            'DONE', 1, {ago}, {ago}, {ago} + interval '2 seconds'
        FROM generate_series(1, :jobs) AS i""",
    ),
    (
        "login_tokens",
        """INSERT INTO login_tokens (id, token_hash, email, purpose, locale, created_at,
            expires_at, used_at)
        SELECT 'lgn_s' || i, md5('l' || i) || md5('m' || i),
            'buyer' || (1 + i % :customers) || '@example.com', 'BUYER', 'en', {ago},
            {ago} + interval '15 minutes', CASE WHEN i % 2 = 0 THEN {ago} END
        FROM generate_series(1, :logins) AS i""",
    ),
]


def fill(url: str, n: dict[str, int], product_id: str) -> dict[str, float]:
    """The rows, table by table; the seconds each took."""
    engine = create_engine(url, isolation_level="AUTOCOMMIT")
    took: dict[str, float] = {}
    sizes = {"customers": customers(n), **n}
    per_table = {
        "customers": "customers",
        "purchases": "purchases",
        "downloads": "downloads",
        "licenses": "licenses",
        "mail_messages": "mail",
        "webhook_events": "webhooks",
        "jobs": "jobs",
        "login_tokens": "logins",
    }
    with engine.connect() as conn:
        for table, sql in FILL:
            rows = sizes[per_table[table]]
            start = time.perf_counter()
            conn.execute(
                text(sql.format(ago=_ago("i", rows))),
                {**sizes, "product_id": product_id},
            )
            took[table] = time.perf_counter() - start
            console.print(f"  {table}: {rows:,} rows in {took[table]:.1f} s")
        start = time.perf_counter()
        conn.execute(text("VACUUM ANALYZE"))
        took["vacuum analyze"] = time.perf_counter() - start
    engine.dispose()
    return took


# --- the app --------------------------------------------------------------------------------


@contextmanager
def app_clients(url: str, data_dir: Path) -> Iterator[tuple[Any, TestClient, TestClient]]:
    from shipkey.app import create_app
    from shipkey.config import Settings
    from shipkey.db.engine import Database
    from shipkey.storage import storage_for

    settings = Settings(
        _env_file=None,
        data_dir=data_dir,
        database_url=url,
        secret_key=SECRET,
        admin_token=ADMIN_TOKEN,
        base_url="http://testserver",
        rate_limits="off",
    )
    db = Database(url)
    app = create_app(settings, db=db, storage=storage_for(settings))
    with (
        TestClient(app, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}) as api,
        TestClient(app) as browser,
    ):
        yield db, api, browser
    db.dispose()


def _csrf(page: str) -> str:
    match = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert match is not None  # noqa: S101
    return match.group(1)


def upload_file(api: TestClient) -> None:
    """The product's 64 KiB file (again, into this run's data directory, on a kept database)."""
    api.put(
        "/api/admin/products/scale-app/file",
        params={"filename": "app.zip"},
        content=os.urandom(64 * 1024),
        headers={"Content-Type": "application/zip"},
    ).raise_for_status()


def setup_store(api: TestClient) -> dict[str, Any]:
    """A license product with a small file and one sale through the API (a real key)."""
    product = api.post(
        "/api/admin/products",
        json={"name": "Scale App", "slug": "scale-app", "type": "LICENSE", "maxDownloads": 1000},
    ).json()
    upload_file(api)
    sale = api.post(
        "/api/admin/purchases", json={"product": "scale-app", "email": "shop@example.net"}
    ).json()
    sale = api.get(f"/api/admin/purchases/{sale['id']}").json()
    return {"product": product, "sale": sale}


def sign_in_seller(browser: TestClient) -> None:
    token = _csrf(browser.get("/admin/login").text)
    browser.post(
        "/admin/login", data={"token": ADMIN_TOKEN, "csrf_token": token}, follow_redirects=False
    )


def sign_in_buyer(db: Any, browser: TestClient, email: str) -> None:
    from sqlalchemy import select

    from shipkey.mail.models import MailMessage

    token = _csrf(browser.get("/login").text)
    browser.post("/login", data={"email": email, "csrf_token": token})
    with db.read_session() as session:
        body = session.scalars(
            select(MailMessage.text_body)
            .where(MailMessage.to_address == email, MailMessage.kind == "login")
            .order_by(MailMessage.created_at.desc())
        ).first()
    match = re.search(r"/login/([A-Za-z0-9_-]+)", body or "")
    assert match is not None  # noqa: S101
    page = browser.get(f"/login/{match.group(1)}")
    browser.post(
        f"/login/{match.group(1)}", data={"csrf_token": _csrf(page.text)}, follow_redirects=False
    )


def next_link(page: str) -> str | None:
    match = _NEXT.search(page)
    if match is None:
        return None
    return (match.group(1) or match.group(2)).replace("&amp;", "&")


# --- measuring ------------------------------------------------------------------------------


CPU_MS: list[float] = []
"""The CPU of this process (the app and the test client, not the database) per request, of
the last :func:`timed` run, in ms."""


def timed(
    call: Callable[[], Any], rounds: int, before: Callable[[], Any] | None = None
) -> list[float]:
    call()  # warm
    samples = []
    cpu = 0.0
    for _ in range(rounds):
        if before is not None:
            before()
        start, start_cpu = time.perf_counter(), time.process_time()
        call()
        samples.append((time.perf_counter() - start) * 1000)
        cpu += time.process_time() - start_cpu
    CPU_MS[:] = [cpu * 1000 / max(rounds, 1)]
    return samples


def measured(samples: list[float]) -> dict[str, float]:
    """p50, p95 and max of ``samples``, and the CPU per request of the run that took them."""
    return {**summary(samples), **({"cpu": CPU_MS[0]} if CPU_MS else {})}


def summary(samples: list[float]) -> dict[str, float]:
    ordered = sorted(samples)
    return {
        "p50": statistics.median(ordered),
        "p95": ordered[min(len(ordered) - 1, round(0.95 * (len(ordered) - 1)))],
        "max": ordered[-1],
    }


def get_ok(client: TestClient, path: str) -> Callable[[], Any]:
    def call() -> Any:
        response = client.get(path)
        if response.status_code != 200:
            raise RuntimeError(f"{path}: {response.status_code} {response.text[:200]}")
        return response

    return call


def measure(
    db: Any, api: TestClient, browser: TestClient, store: dict[str, Any], rounds: int
) -> dict[str, Any]:
    sign_in_seller(browser)
    admin_pages = {
        "dashboard": "/admin",
        "purchases": "/admin/purchases",
        "purchase search (e-mail)": "/admin/purchases?q=buyer12345@example.com",
        "purchase search (part)": "/admin/purchases?q=r1234",
        "licenses": "/admin/licenses",
        "license search (key part)": "/admin/licenses?q=ABC12",
        "license search (e-mail)": "/admin/licenses?q=buyer12345@example.com",
        "deliveries": "/admin/deliveries",
        "deliveries failed": "/admin/deliveries?status=FAILED",
        "webhooks": "/admin/webhooks",
        "products": "/admin/products",
    }
    for name in ("purchases", "licenses", "deliveries", "webhooks"):
        following = next_link(browser.get(admin_pages[name]).text)
        if following:
            admin_pages[f"{name}, next page"] = following
    rows: dict[str, Any] = {}

    def forget_days() -> None:
        with db.session() as session:
            if inspect(session.get_bind()).has_table("dashboard_days"):
                session.execute(text("DELETE FROM dashboard_days"))

    cold = timed(get_ok(browser, "/admin"), max(rounds // 3, 3), before=forget_days)
    rows["dashboard, no day kept yet"] = {"kind": "admin", "path": "/admin", **measured(cold)}
    for name, path in admin_pages.items():
        rows[name] = {
            "kind": "admin",
            "path": path,
            **measured(timed(get_ok(browser, path), rounds)),
        }
        console.print(f"  {name}: p95 {rows[name]['p95']:.1f} ms")
    sale_id = store["sale"]["id"]
    own = f"pur_s{store['customers']}"  # buyer1's first purchase
    with TestClient(browser.app) as buyer:
        sign_in_buyer(db, buyer, "buyer1@example.com")
        for name, path in {
            "buyer: purchases": "/purchases",
            "buyer: one purchase": f"/purchases/{own}",
        }.items():
            samples = timed(get_ok(buyer, path), rounds)
            rows[name] = {"kind": "buyer", "path": path, **measured(samples)}
    rows["healthz"] = {
        "kind": "base",
        "path": "/healthz",
        **measured(timed(get_ok(api, "/healthz"), rounds * 4)),
    }
    key = store["sale"]["licenses"][0]["key"] if store["sale"].get("licenses") else None
    if key:

        def validate() -> Any:
            response = api.post("/api/licenses/validate", json={"licenseKey": key})
            response.raise_for_status()

        rows["license validation"] = {
            "kind": "base",
            "path": "/api/licenses/validate",
            **measured(timed(validate, rounds * 4)),
        }
    links = [
        api.post(f"/api/admin/purchases/{sale_id}/download-links").json()["token"]
        for _ in range(rounds + 1)
    ]

    def download() -> Any:
        response = api.get(f"/api/download/{links.pop()}")
        response.raise_for_status()

    rows["download (64 KiB)"] = {
        "kind": "base",
        "path": "/api/download/{token}",
        **measured(timed(download, rounds)),
    }
    base = rows["healthz"]["p50"]
    for name in ("license validation", "download (64 KiB)"):
        if name in rows:
            rows[name]["ratio"] = rows[name]["p50"] / base
    return rows


def show(results: dict[str, Any]) -> None:
    table = Table(title=f"shipkey at scale {results['scale']} (PostgreSQL, in process)")
    for column in ("page", "p50 ms", "p95 ms", "max ms", "CPU ms", "goal"):
        table.add_column(column, justify="left" if column == "page" else "right")
    for name, row in results["rows"].items():
        goal = {"admin": GOAL_ADMIN_MS, "buyer": GOAL_BUYER_MS}.get(row["kind"])
        verdict = (
            ("ok" if row["p95"] < goal else "[red]over[/red]") + f" < {goal:g}"
            if goal
            else (f"{row['ratio']:.1f}× /healthz" if "ratio" in row else "")
        )
        cpu = f"{row['cpu']:.1f}" if "cpu" in row else ""
        table.add_row(
            name, f"{row['p50']:.1f}", f"{row['p95']:.1f}", f"{row['max']:.1f}", cpu, verdict
        )
    console.print(table)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument(
        "--scale", type=float, default=float(os.environ.get("SHIPKEY_BENCH_SCALE", "1.0"))
    )
    parser.add_argument("--rounds", type=int, default=40)
    parser.add_argument("--skip-fill", action="store_true", help="measure the database as it is")
    parser.add_argument("--keep", action="store_true", help="keep the database afterwards")
    parser.add_argument("--name", default="scale", help="the result file's name")
    args = parser.parse_args(argv)
    url = os.environ.get("SHIPKEY_BENCH_SCALE_URL", DEFAULT_URL)
    load_at_start = round(os.getloadavg()[0], 1)
    scale = args.scale
    n = counts(scale)
    took: dict[str, float] = {}
    kept: dict[str, Any] | None = None
    if args.skip_fill:
        kept = kept_store(url)
        scale, n = kept["scale"], kept["rows_filled"]
        console.print(f"measuring {make_url(url).database} as kept (scale {scale})")
    else:
        console.print(f"filling {make_url(url).database} at scale {scale}")
        reset_database(url)
    with (
        tempfile.TemporaryDirectory() as data_dir,
        app_clients(url, Path(data_dir)) as (db, api, browser),
    ):
        if kept is not None:
            store = kept
            upload_file(api)
        else:
            store = setup_store(api)
            took = fill(url, n, store["product"]["id"])
            store.update(scale=scale, rows_filled=n, customers=customers(n), fill_seconds=took)
            if args.keep:
                keep_store(url, store)
        console.print("measuring")
        rows = measure(db, api, browser, store, args.rounds)
    results = {
        "scale": scale,
        "rows_filled": n,
        "fill_seconds": took,
        "filled": "kept from an earlier run" if kept is not None else "this run",
        "rounds": args.rounds,
        "rows": rows,
        "loadAverage": round(os.getloadavg()[0], 1),
        "loadAtStart": load_at_start,
    }
    show(results)
    write_results(args.name, results)
    if not args.keep and not args.skip_fill:  # a kept database stays kept
        engine = create_engine(make_url(url).set(database="postgres"), isolation_level="AUTOCOMMIT")
        with engine.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{make_url(url).database}" WITH (FORCE)'))
        engine.dispose()


if __name__ == "__main__":
    main()
