"""Update checks: ``GET /api/releases/{product}/latest`` under wrk, against validation.

For each database (SQLite, PostgreSQL), on one server (Granian, as ``shipkey serve`` runs it,
same worker count), 1,000 licenses of one product with 20 releases on three channels, each
with files for three platforms, 64 connections:

1. ``POST /api/licenses/validate``, keys spread over all licenses (the bound to compare with);
2. ``GET /api/releases/bench-app/latest?platform=linux&arch=x86_64``, the same keys, as
   ``Authorization: License KEY`` (an update and its signed links in every answer);
3. the same with ``currentVersion`` the newest (204, what most checks get).

Goal: update checks at ≥ 0.8× validation's requests per second.

    .venv/bin/python -m bench.releases [--seconds 10] [--workers 1] [--db sqlite --db postgresql]
"""

from __future__ import annotations

import argparse
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
from sqlalchemy import insert

from bench.common import (
    BENCH_DIR,
    console,
    each_database,
    goals_table,
    measure,
    raise_on_errors,
    runs_table,
    server_arguments,
    verdict,
    write_results,
)
from bench.licenses import (
    CONNECTIONS,
    POSTGRES_URL,
    SMALL,
    Seeder,
    load,
    reset_database,
    server,
)

SCRIPT = BENCH_DIR / "latest.lua"
RELEASES = 20
PLATFORMS = (("linux", "x86_64"), ("macos", "arm64"), ("windows", "x86_64"))
GOAL_RATIO = 0.8
QUERY = "platform=linux&arch=x86_64"


def newest_version() -> str:
    return f"1.{RELEASES - 1}.0"


def seed_releases(seeder: Seeder) -> None:
    """20 releases (every fifth on beta, every seventh on alpha), 3 files each (signature and
    hash are stand-ins: the check only hands them on)."""
    from shipkey.releases.models import Artifact, Release

    now = datetime.now(UTC)
    releases, artifacts = [], []
    for n in range(RELEASES):
        channel = "alpha" if n % 7 == 6 else "beta" if n % 5 == 4 else "stable"
        release_id = f"rel_bench{n:04d}"
        version = f"1.{n}.0"
        releases.append(
            {
                "id": release_id,
                "product_id": seeder.product_id,
                "version": version,
                "normalized": version,
                "channel": channel if n != RELEASES - 1 else "stable",
                "notes": f"Release {version}: faster, smaller, kinder.",
                "published_at": now - timedelta(days=RELEASES - n),
            }
        )
        for platform, arch in PLATFORMS:
            name = f"bench-{version}-{platform}-{arch}.zip"
            artifacts.append(
                {
                    "id": f"art_bench{n:04d}{platform[:3]}",
                    "release_id": release_id,
                    "file_name": name,
                    "file_key": f"releases/bench/{name}",
                    "mime_type": "application/zip",
                    "size": 10_000_000 + n,
                    "sha256": f"{n:064x}",
                    "platform": platform,
                    "arch": arch,
                    "signature": "A" * 86 + "==",
                    "kid": "20261205-00000000",
                    "download_count": 0,
                    "uploaded_at": now,
                }
            )
    with seeder.db.engine.begin() as conn:
        conn.execute(insert(Release), releases)
        conn.execute(insert(Artifact), artifacts)


def latest(base: str, pid: int, keys_file: Path, seconds: float, query: str) -> dict[str, Any]:
    return measure(
        f"{base}/api/releases/bench-app/latest?{query}",
        pid,
        seconds,
        connections=CONNECTIONS,
        script=SCRIPT,
        script_args=[str(keys_file)],
    )


def check(base: str, key: str) -> None:
    headers = {"Authorization": f"License {key}"}
    answer = httpx.get(f"{base}/api/releases/bench-app/latest?{QUERY}", headers=headers)
    answer.raise_for_status()
    if answer.json()["version"] != newest_version():
        raise RuntimeError(f"latest answered {answer.json()}")
    newest = f"{QUERY}&currentVersion={newest_version()}"
    if (
        httpx.get(f"{base}/api/releases/bench-app/latest?{newest}", headers=headers).status_code
        != 204
    ):
        raise RuntimeError("latest did not answer 204 for the newest version")


def run_database(name: str, url: str, work: Path, seconds: float, workers: int) -> dict[str, Any]:
    console.print(f"[bold]{name}[/bold]: seeding {SMALL:,} licenses and {RELEASES} releases …")
    reset_database(url)
    seeder = Seeder(url)
    log = work / f"{name}.log"
    try:
        keys = seeder.add(SMALL, SMALL)
        seed_releases(seeder)
        seeder.analyze()
        keys_file = work / f"{name}-keys.txt"
        keys_file.write_text("\n".join(keys) + "\n")
        runs: dict[str, dict[str, Any]] = {}
        with server(url, work / f"{name}-var", workers, log) as (base, pid):
            check(base, keys[0])
            runs["validate"] = load(base, pid, keys_file, seconds)
            runs["latest"] = latest(base, pid, keys_file, seconds, QUERY)
            runs["latest204"] = latest(
                base, pid, keys_file, seconds, f"{QUERY}&currentVersion={newest_version()}"
            )
    finally:
        seeder.close()
    raise_on_errors(runs, name, log)
    bound = runs["validate"]["requests_per_s"]
    ratio = runs["latest"]["requests_per_s"] / bound
    ratio204 = runs["latest204"]["requests_per_s"] / bound
    return {
        "runs": runs,
        "ratioToValidate": ratio,
        "ratio204ToValidate": ratio204,
        "goals": {
            "ratioToValidate": ratio >= GOAL_RATIO,
            "ratio204ToValidate": ratio204 >= GOAL_RATIO,
        },
    }


def run(databases: list[str], seconds: float, workers: int) -> dict[str, Any]:
    def one(name: str, url: str, work: Path) -> dict[str, Any]:
        return run_database(name, url, work, seconds, workers)

    return {
        "connections": CONNECTIONS,
        "workers": workers,
        "seconds": seconds,
        "databases": each_database("shipkey-bench-releases-", databases, POSTGRES_URL, one),
    }


def show(results: dict[str, Any]) -> None:
    labels = {
        "validate": "validate, keys spread (the bound)",
        "latest": "latest: an update with 1 file and its link",
        "latest204": "latest: already the newest (204)",
    }
    for name, data in results["databases"].items():
        console.print(
            runs_table(
                f"Update checks on {name}: {results['connections']} connections, "
                f"{results['workers']} worker(s), {results['seconds']:g} s per row",
                labels,
                data["runs"],
            )
        )
        goals = data["goals"]
        console.print(
            goals_table(
                name,
                [
                    [
                        "latest req/s vs validate",
                        f"{data['ratioToValidate']:.2f}×",
                        f"≥ {GOAL_RATIO}×",
                        verdict(goals["ratioToValidate"]),
                    ],
                    [
                        "latest (204) req/s vs validate",
                        f"{data['ratio204ToValidate']:.2f}×",
                        f"≥ {GOAL_RATIO}×",
                        verdict(goals["ratio204ToValidate"]),
                    ],
                ],
            )
        )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    server_arguments(parser)
    args = parser.parse_args(argv)
    results = run(args.db or ["sqlite", "postgresql"], args.seconds, args.workers)
    show(results)
    name = "releases" if args.workers == 1 else f"releases-workers{args.workers}"
    console.print(f"results: {write_results(name, results)}")


if __name__ == "__main__":
    main()
