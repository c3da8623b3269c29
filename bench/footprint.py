"""Footprint: the memory of an idle ``shipkey serve`` and the start-up of the command line.

``shipkey serve`` (one worker, the embedded job worker on) on a fresh SQLite data dir: the
resident memory of its whole process tree (the Granian supervisor and its worker), sampled once
it has answered its first request and settled. Then ``shipkey --help`` and ``shipkey products
list`` run ``--repeat`` times each: wall time (median and best) and the peak RSS of one run
(``ru_maxrss`` of the child).

    .venv/bin/python -m bench.footprint [--repeat 10]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    VENV_BIN,
    MiB,
    children,
    console,
    free_port,
    parse_vmrss,
    running,
    table,
    tree_rss,
    verdict,
    write_results,
)

GOAL_SERVE_MIB = 128.0
GOAL_COMMAND_SECONDS = 0.3
COMMANDS = {"--help": ["--help"], "products list": ["products", "list"]}


def process_rss(pid: int) -> dict[str, float]:
    """RSS in MiB of a process and each descendant, by pid."""
    found = {}
    for each in [pid, *children(pid)]:
        try:
            found[str(each)] = parse_vmrss(Path(f"/proc/{each}/status").read_text()) / MiB
        except OSError:
            continue
    return found


def serve_footprint(env: dict[str, str], settle: float) -> dict[str, Any]:
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    serve = [str(VENV_BIN / "shipkey"), "serve", "--port", str(port), "--workers", "1"]
    with running(serve, env={**env, "SHIPKEY_BASE_URL": base}, ready_url=f"{base}/healthz") as p:
        httpx.get(f"{base}/healthz", timeout=10).raise_for_status()
        time.sleep(settle)
        return {"treeMiB": tree_rss(p.pid) / MiB, "processesMiB": process_rss(p.pid)}


def command_timing(args: list[str], env: dict[str, str], repeat: int) -> dict[str, Any]:
    """Wall seconds of ``repeat`` runs and the largest RSS a run reached."""
    times = []
    peak = 0
    for _ in range(repeat):
        started = time.perf_counter()
        child = subprocess.Popen(  # noqa: S603
            [str(VENV_BIN / "shipkey"), *args],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
        )
        _pid, status, usage = os.wait4(child.pid, 0)
        times.append(time.perf_counter() - started)
        child.returncode = os.waitstatus_to_exitcode(status)
        if child.returncode:
            raise SystemExit(f"shipkey {' '.join(args)} failed ({child.returncode})")
        peak = max(peak, usage.ru_maxrss)  # KiB on Linux
    return {
        "medianSeconds": statistics.median(times),
        "bestSeconds": min(times),
        "peakRssMiB": peak / 1024,
    }


def run(repeat: int, settle: float) -> dict[str, Any]:
    work = Path(tempfile.mkdtemp(prefix="shipkey-bench-footprint-"))
    try:
        env = {
            "SHIPKEY_DATA_DIR": str(work / "var"),
            "SHIPKEY_DATABASE_URL": f"sqlite:///{work / 'shipkey.db'}",
        }
        subprocess.run(  # noqa: S603
            [str(VENV_BIN / "shipkey"), "migrate"],
            env={**os.environ, **env},
            stdout=subprocess.DEVNULL,
            check=True,
        )
        served = serve_footprint(env, settle)
        commands = {name: command_timing(args, env, repeat) for name, args in COMMANDS.items()}
    finally:
        shutil.rmtree(work, ignore_errors=True)
    return {
        "repeat": repeat,
        "serve": served,
        "commands": commands,
        "goals": {
            "serve": served["treeMiB"] <= GOAL_SERVE_MIB,
            "commands": all(c["medianSeconds"] <= GOAL_COMMAND_SECONDS for c in commands.values()),
        },
    }


def show(results: dict[str, Any]) -> None:
    served = results["serve"]
    rows: list[list[object]] = [
        [
            "idle shipkey serve, whole process tree (MiB)",
            served["treeMiB"],
            f"≤ {GOAL_SERVE_MIB:g}  {verdict(results['goals']['serve'])}",
        ],
        [
            "  per process (MiB)",
            ", ".join(f"{mib:.0f}" for mib in served["processesMiB"].values()),
            "",
        ],
    ]
    for name, timing in results["commands"].items():
        ok = timing["medianSeconds"] <= GOAL_COMMAND_SECONDS
        rows.append(
            [
                f"shipkey {name}: median s (best)",
                f"{timing['medianSeconds']:.3f} ({timing['bestSeconds']:.3f})",
                f"≤ {GOAL_COMMAND_SECONDS:g}  {verdict(ok)}",
            ]
        )
        rows.append([f"shipkey {name}: peak RSS (MiB)", timing["peakRssMiB"], ""])
    console.print(table("Footprint", ["measure", "value", "goal"], rows))


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--repeat", type=int, default=10)
    parser.add_argument("--settle", type=float, default=3.0, help="seconds idle before sampling")
    parser.add_argument("--name", default="footprint", help="results file name")
    args = parser.parse_args(argv)
    results = run(args.repeat, args.settle)
    show(results)
    console.print(f"results: {write_results(args.name, results)}")


if __name__ == "__main__":
    main()
