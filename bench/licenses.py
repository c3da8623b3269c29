"""License validation: ``POST /api/licenses/validate`` under wrk, against an empty JSON endpoint.

For each database (SQLite, PostgreSQL) in one run, on one server (Granian, as ``shipkey serve``
runs it, same worker count):

1. ``GET /bench/empty`` (answers ``{}`` from the same app): the bound; also ``POST`` with the
   same bodies as validate, to that endpoint and to ``/bench/lane-empty`` in the fast lane
   (where validate is answered, see ``shipkey.http.fast_lane``): the floor of the lane;
2. validate, keys spread over all 1,000 licenses of the database;
3. validate, one hot key;
4. then the database grows to 1,000,000 licenses (bulk inserts: ``executemany`` on SQLite,
   ``COPY`` on PostgreSQL) and validate runs again, keys spread over 10,000 random licenses.

Rate limits are off (``SHIPKEY_RATE_LIMITS=off``), as for any load test.

    .venv/bin/python -m bench.licenses [--seconds 10] [--workers 1] [--db sqlite --db postgresql]
"""

from __future__ import annotations

import argparse
import os
import random
import time
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import create_engine, insert, make_url, text

from bench.apps import EMPTY_PATH, LANE_EMPTY_PATH
from bench.common import (
    BENCH_DIR,
    PYTHON,
    ROOT,
    console,
    each_database,
    free_port,
    goals_table,
    measure,
    raise_on_errors,
    running,
    runs_table,
    server_arguments,
    verdict,
    write_results,
)

POSTGRES_URL = os.environ.get(
    "SHIPKEY_BENCH_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/shipkey_bench"
)
LICENSE_SECRET = "bench-license-secret"  # noqa: S105 - a throwaway secret for a local bench
KEY_PREFIX = "BEN"
SMALL, LARGE = 1_000, 1_000_000
SPREAD_SAMPLE = 10_000
CONNECTIONS = 64
SCRIPT = BENCH_DIR / "validate.lua"

GOAL_RATIO = 0.5
GOAL_P99_MS = 25.0
GOAL_HOT = 0.9
GOAL_GROWTH = 1.2

_ALPHABET = "ABCDEFGHJKLMNPQRSTUVWXYZ23456789"


def make_keys(count: int, rng: random.Random) -> list[str]:
    """Valid license keys (the contract's format and checksum), quickly."""
    from shipkey.licensing.keys import key_checksum

    keys = []
    for _ in range(count):
        chars = "".join(rng.choices(_ALPHABET, k=20))
        base = f"{KEY_PREFIX}-{chars[:5]}-{chars[5:10]}-{chars[10:15]}-{chars[15:]}"
        keys.append(f"{base}-{key_checksum(base, LICENSE_SECRET)}")
    return keys


# --- the database ---------------------------------------------------------------------------


def reset_database(url: str) -> None:
    """An empty, migrated database at ``url``."""
    from shipkey import migrate
    from shipkey.db.engine import Database

    parsed = make_url(url)
    if parsed.get_backend_name() == "sqlite":
        assert parsed.database  # noqa: S101
        for suffix in ("", "-wal", "-shm"):
            Path(parsed.database + suffix).unlink(missing_ok=True)
    else:
        admin = create_engine(parsed.set(database="postgres"), isolation_level="AUTOCOMMIT")
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{parsed.database}" WITH (FORCE)'))
            conn.execute(text(f'CREATE DATABASE "{parsed.database}"'))
        admin.dispose()
    db = Database(url)
    migrate.upgrade(db.engine)
    db.dispose()


class Seeder:
    """Adds licenses of one product, owned by one customer, in bulk."""

    BATCH = 50_000

    def __init__(self, url: str) -> None:
        from shipkey.catalog import service as catalog
        from shipkey.catalog.models import ProductType
        from shipkey.catalog.schemas import ProductCreate
        from shipkey.db.engine import Database
        from shipkey.orders import service as orders

        self.db = Database(url)
        self.count = 0
        self.rng = random.Random(7)  # noqa: S311 - key material for a bench, not secrets
        with self.db.session() as session:
            product = catalog.create_product(
                session,
                ProductCreate(
                    name="Bench App",
                    slug="bench-app",
                    type=ProductType.LICENSE,
                    key_prefix=KEY_PREFIX,
                    metadata={"features": ["pro"]},
                ),
            )
            customer = orders.customer_for(session, "bench@example.com")
            session.flush()
            self.product_id, self.customer_id = product.id, customer.id

    def add(self, count: int, keep: int) -> list[str]:
        """Insert ``count`` licenses; return ``keep`` of their keys, chosen at random."""
        kept: list[str] = []
        left = count
        while left > 0:
            size = min(self.BATCH, left)
            keys = make_keys(size, self.rng)
            self._insert(keys)
            kept += self.rng.sample(keys, min(size, round(keep * size / count)))
            left -= size
        return kept

    def _rows(self, keys: list[str]) -> Iterator[tuple[Any, ...]]:
        now = datetime.now(UTC)
        for key in keys:
            self.count += 1
            yield (
                f"lic_bench{self.count:012d}",
                key,
                self.product_id,
                self.customer_id,
                "PERPETUAL",
                "ACTIVE",
                3,
                0,
                now,
            )

    COLUMNS = (
        "id",
        "key",
        "product_id",
        "customer_id",
        "license_type",
        "status",
        "max_activations",
        "activation_count",
        "created_at",
    )

    def _insert(self, keys: list[str]) -> None:
        from shipkey.licensing.models import License

        if self.db.is_sqlite:
            with self.db.engine.begin() as conn:
                conn.execute(
                    insert(License),
                    [dict(zip(self.COLUMNS, row, strict=True)) for row in self._rows(keys)],
                )
            return
        raw = self.db.engine.raw_connection()
        try:
            cursor = raw.cursor()
            columns = ", ".join(self.COLUMNS)
            with cursor.copy(f"COPY licenses ({columns}) FROM STDIN") as copy:
                for row in self._rows(keys):
                    copy.write_row(row)
            raw.commit()
        finally:
            raw.close()

    def analyze(self) -> None:
        with self.db.engine.begin() as conn:
            conn.execute(text("ANALYZE"))

    def close(self) -> None:
        self.db.dispose()


# --- runs -----------------------------------------------------------------------------------


@contextmanager
def server(
    url: str, data_dir: Path, workers: int, log: Path, kind: str = "granian"
) -> Iterator[tuple[str, int]]:
    port = free_port()
    env = {
        "SHIPKEY_DATABASE_URL": url,
        "SHIPKEY_DATA_DIR": str(data_dir),
        "SHIPKEY_LICENSE_SECRET": LICENSE_SECRET,
        "SHIPKEY_RATE_LIMITS": "off",
    }
    args = [PYTHON, "-m", "bench.serve", "--port", str(port), "--workers", str(workers)]
    args += ["--server", kind]
    base = f"http://127.0.0.1:{port}"
    with running(args, env=env, ready_url=f"{base}/healthz", log=log, cwd=ROOT) as proc:
        yield base, proc.pid


def check_valid(base: str, key: str) -> None:
    answer = httpx.post(f"{base}/api/licenses/validate", json={"licenseKey": key}, timeout=10)
    answer.raise_for_status()
    if answer.json().get("code") != "VALID":
        raise RuntimeError(f"validate answered {answer.json()} for a seeded key")


def load(
    base: str, pid: int, keys_file: Path | None, seconds: float, path: str | None = None
) -> dict[str, Any]:
    """wrk for ``seconds`` after a short warm-up, plus the server's CPU time per request.

    Without ``keys_file``: ``GET`` the empty endpoint. With it: ``POST {"licenseKey": …}``
    to ``path`` (validation unless told otherwise), the keys drawn at random from the file.
    """
    if keys_file is None:
        return measure(base + EMPTY_PATH, pid, seconds, connections=CONNECTIONS)
    target = path or "/api/licenses/validate"
    return measure(
        base + target,
        pid,
        seconds,
        connections=CONNECTIONS,
        script=SCRIPT,
        script_args=[str(keys_file)],
    )


def run_database(
    name: str, url: str, work: Path, seconds: float, workers: int, kind: str = "granian"
) -> dict[str, Any]:
    console.print(f"[bold]{name}[/bold]: seeding {SMALL:,} licenses …")
    reset_database(url)
    seeder = Seeder(url)
    log = work / f"{name}.log"
    try:
        small_keys = seeder.add(SMALL, SMALL)
        seeder.analyze()
        spread_small = work / f"{name}-spread-small.txt"
        spread_small.write_text("\n".join(small_keys) + "\n")
        hot_file = work / f"{name}-hot.txt"
        hot_file.write_text(small_keys[0] + "\n")
        runs: dict[str, dict[str, Any]] = {}
        with server(url, work / f"{name}-var", workers, log, kind) as (base, pid):
            check_valid(base, small_keys[0])
            runs["empty"] = load(base, pid, None, seconds)
            runs["emptyPost"] = load(base, pid, spread_small, seconds, EMPTY_PATH)
            runs["laneEmptyPost"] = load(base, pid, spread_small, seconds, LANE_EMPTY_PATH)
            runs["spread1k"] = load(base, pid, spread_small, seconds)
            runs["hot"] = load(base, pid, hot_file, seconds)
        console.print(f"[bold]{name}[/bold]: growing to {LARGE:,} licenses …")
        started = time.perf_counter()
        large_keys = seeder.add(LARGE - SMALL, SPREAD_SAMPLE)
        seeder.analyze()
        seed_seconds = time.perf_counter() - started
        spread_large = work / f"{name}-spread-large.txt"
        spread_large.write_text("\n".join(large_keys) + "\n")
        with server(url, work / f"{name}-var", workers, log, kind) as (base, pid):
            check_valid(base, large_keys[0])
            runs["empty1m"] = load(base, pid, None, seconds)
            runs["spread1m"] = load(base, pid, spread_large, seconds)
    finally:
        seeder.close()
    raise_on_errors(runs, name, log)
    empty, spread, hot, large = (runs[k] for k in ("empty", "spread1k", "hot", "spread1m"))
    ratio = spread["requests_per_s"] / empty["requests_per_s"]
    ratio_post = spread["requests_per_s"] / runs["emptyPost"]["requests_per_s"]
    ratio_lane = spread["requests_per_s"] / runs["laneEmptyPost"]["requests_per_s"]
    hot_ratio = hot["requests_per_s"] / spread["requests_per_s"]
    growth = large["p50_ms"] / spread["p50_ms"]
    return {
        "runs": runs,
        "seedSeconds1m": seed_seconds,
        "ratioToEmpty": ratio,
        "ratioToEmptyPost": ratio_post,
        "ratioToLaneEmptyPost": ratio_lane,
        "cpuRatioToEmpty": empty["cpu_us_per_request"] / spread["cpu_us_per_request"],
        "hotToSpread": hot_ratio,
        "latency1mTo1k": growth,
        "goals": {
            "ratioToEmpty": ratio >= GOAL_RATIO,
            "p99": spread["p99_ms"] < GOAL_P99_MS,
            "hotToSpread": hot_ratio >= GOAL_HOT,
            "latency1mTo1k": growth <= GOAL_GROWTH,
        },
    }


def run(
    databases: list[str], seconds: float, workers: int, kind: str = "granian"
) -> dict[str, Any]:
    def one(name: str, url: str, work: Path) -> dict[str, Any]:
        return run_database(name, url, work, seconds, workers, kind)

    return {
        "connections": CONNECTIONS,
        "workers": workers,
        "server": kind,
        "seconds": seconds,
        "databases": each_database("shipkey-bench-licenses-", databases, POSTGRES_URL, one),
    }


def show(results: dict[str, Any]) -> None:
    labels = {
        "empty": "empty JSON endpoint (bound)",
        "emptyPost": "empty JSON endpoint, POST with the same body",
        "laneEmptyPost": "empty JSON endpoint in the fast lane, POST with the same body",
        "spread1k": "validate, keys spread, 1,000 licenses",
        "hot": "validate, one hot key, 1,000 licenses",
        "empty1m": "empty JSON endpoint (bound), 1,000,000 licenses",
        "spread1m": "validate, keys spread, 1,000,000 licenses",
    }
    for name, data in results["databases"].items():
        runs = data["runs"]
        console.print(
            runs_table(
                f"License validation on {name}: {results['connections']} connections, "
                f"{results['workers']} worker(s), {results.get('server', 'granian')}, "
                f"{results['seconds']:g} s per row",
                labels,
                runs,
            )
        )
        goals = data["goals"]
        spread = runs["spread1k"]
        console.print(
            goals_table(
                name,
                [
                    [
                        "validate req/s vs empty endpoint",
                        f"{data['ratioToEmpty']:.2f}×",
                        f"≥ {GOAL_RATIO}×",
                        verdict(goals["ratioToEmpty"]),
                    ],
                    [
                        "validate req/s vs the same POST to the empty endpoint",
                        f"{data.get('ratioToEmptyPost', 0):.2f}×",
                        "",
                        "",
                    ],
                    [
                        "validate req/s vs the same POST to the empty endpoint in the lane",
                        f"{data.get('ratioToLaneEmptyPost', 0):.2f}×",
                        "",
                        "",
                    ],
                    [
                        "validate p99",
                        f"{spread['p99_ms']:.1f} ms",
                        f"< {GOAL_P99_MS:g} ms",
                        verdict(goals["p99"]),
                    ],
                    [
                        "hot key req/s vs keys spread",
                        f"{data['hotToSpread']:.2f}×",
                        f"≥ {GOAL_HOT}×",
                        verdict(goals["hotToSpread"]),
                    ],
                    [
                        "p50 latency, 1,000,000 vs 1,000 licenses",
                        f"{data['latency1mTo1k']:.2f}×",
                        f"≤ {GOAL_GROWTH}×",
                        verdict(goals["latency1mTo1k"]),
                    ],
                ],
            )
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    server_arguments(parser)
    parser.add_argument(
        "--server",
        choices=["granian", "uvicorn"],
        default="granian",
        help="granian: as shipkey serve; uvicorn: with uvloop and httptools, to compare",
    )
    args = parser.parse_args(argv)
    results = run(args.db or ["sqlite", "postgresql"], args.seconds, args.workers, args.server)
    show(results)
    name = "licenses" if args.workers == 1 else f"licenses-workers{args.workers}"
    if args.server != "granian":
        name += f"-{args.server}"
    console.print(f"results: {write_results(name, results)}")


if __name__ == "__main__":
    main()
