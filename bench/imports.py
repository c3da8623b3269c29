"""``make bench-import``: a 100,000-row export through ``shipkey import``.

Usage::

    .venv/bin/python -m bench.imports [--rows 100000] [--db sqlite|postgresql]

Writes a generic CSV of ``--rows`` sales (every tenth buyer buys twice, every row with a
license key in a foreign format), then runs the command line as a user would, three times:
a dry run, the import, and the same import again (every row skipped). Each run's wall time,
the command's CPU time and peak RSS (its whole process tree, sampled) and, on PostgreSQL, the
CPU time of the server processes serving the bench database (sampled) are reported; the goal
is under a minute for 100,000 rows, with memory that does not grow with the file.
"""

from __future__ import annotations

import argparse
import csv
import os
import resource
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from rich.console import Console
from sqlalchemy.engine import make_url

from bench.common import ROOT, VENV_BIN, DatabaseCpuSampler, RssSampler, table, write_results
from bench.licenses import reset_database

POSTGRES_URL = os.environ.get(
    "SHIPKEY_BENCH_POSTGRES_URL",
    "postgresql+psycopg://postgres@127.0.0.1:5432/shipkey_bench_import",
)
GOAL_SECONDS = 60.0
HEADER = [
    "email",
    "name",
    "product",
    "orderId",
    "amount",
    "currency",
    "createdAt",
    "licenseKey",
    "maxActivations",
    "expiresAt",
    "status",
]


def write_csv(path: Path, rows: int) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(HEADER)
        for i in range(rows):
            buyer = i - i % 10 + 1 if i % 10 == 9 else i  # every tenth buyer buys twice
            writer.writerow(
                [
                    f"buyer{buyer}@example.com",
                    f"Buyer {buyer}",
                    "bench-app",
                    f"order-{i}",
                    1900,
                    "EUR",
                    f"2024-01-01T00:{i // 60 % 60:02d}:{i % 60:02d}Z",
                    f"legacy-{i:08d}-key",
                    3,
                    "",
                    "COMPLETED",
                ]
            )


def seed(env: dict[str, str]) -> None:
    code = (
        "from shipkey.config import Settings\n"
        "from shipkey.db.engine import Database\n"
        "from shipkey.catalog import service\n"
        "from shipkey.catalog.schemas import ProductCreate\n"
        "s = Settings()\n"
        "db = Database(s.resolved_database_url)\n"
        "with db.session() as session:\n"
        "    service.create_product(session, ProductCreate(name='Bench App', slug='bench-app',"
        " type='LICENSE', licenseType='PERPETUAL'))\n"
        "db.dispose()\n"
    )
    subprocess.run([str(VENV_BIN / "python"), "-c", code], env=env, check=True)


def run(env: dict[str, str], path: Path, *extra: str) -> dict[str, Any]:
    database = make_url(env["SHIPKEY_DATABASE_URL"]).database or ""
    command = [str(VENV_BIN / "shipkey"), "import", str(path), "--format", "generic", *extra]
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    started = time.perf_counter()
    with (
        subprocess.Popen(
            command, env=env, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, cwd=ROOT
        ) as proc,
        RssSampler(proc.pid) as rss,
        DatabaseCpuSampler(database) as server,
    ):
        output, _ = proc.communicate()
    seconds = time.perf_counter() - started
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime + after.ru_stime) - (before.ru_utime + before.ru_stime)
    if proc.returncode != 0:
        raise RuntimeError(f"shipkey import failed: {output.decode()}")
    return {
        "seconds": seconds,
        "cpuSeconds": cpu,
        "serverCpuSeconds": server.seconds,
        "peakRssMiB": rss.peak / 2**20,
        "summary": output.decode().strip().splitlines()[0],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, default=100_000)
    parser.add_argument("--db", choices=["sqlite", "postgresql"], default="sqlite")
    args = parser.parse_args()
    console = Console()
    with tempfile.TemporaryDirectory() as tmp:
        data = Path(tmp)
        url = POSTGRES_URL if args.db == "postgresql" else f"sqlite:///{data / 'shipkey.db'}"
        reset_database(url)
        env = {
            **os.environ,
            "SHIPKEY_DATA_DIR": str(data),
            "SHIPKEY_DATABASE_URL": url,
            "SHIPKEY_SECRET_KEY": "bench-secret-key-bench-secret-key",
        }
        seed(env)
        path = data / "export.csv"
        write_csv(path, args.rows)
        size_mib = path.stat().st_size / 2**20
        runs = {
            "dry run": run(env, path, "--dry-run"),
            "import": run(env, path),
            "again (all skipped)": run(env, path),
        }
    rows = [
        [
            name,
            result["seconds"],
            result["cpuSeconds"],
            result["serverCpuSeconds"],
            args.rows / result["seconds"],
            result["peakRssMiB"],
        ]
        for name, result in runs.items()
    ]
    console.print(
        table(
            f"shipkey import: {args.rows:,} rows ({size_mib:.1f} MiB), {args.db}",
            ["run", "seconds", "CPU seconds", "server CPU s", "rows/s", "peak RSS MiB"],
            rows,
        )
    )
    for name, result in runs.items():
        console.print(f"{name}: {result['summary']}")
    ok = runs["import"]["seconds"] < GOAL_SECONDS
    console.print(f"goal (< {GOAL_SECONDS:.0f} s): {'met' if ok else 'MISSED'}")
    console.print(f"load average at the end: {os.getloadavg()[0]:.1f}")
    write_results(
        f"imports-{args.db}",
        {
            "rows": args.rows,
            "fileMiB": size_mib,
            "db": args.db,
            "runs": runs,
            "goalMet": ok,
            "loadAverage": os.getloadavg()[0],
        },
    )


if __name__ == "__main__":
    main()
