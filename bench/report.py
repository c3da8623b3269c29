"""The latest results (bench/results/*.json) as Markdown tables, for the READMEs.

.venv/bin/python -m bench.report
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from pathlib import Path
from typing import Any

from bench.common import RESULTS_DIR, fmt, run_rows

MiB = 1024 * 1024


def markdown(columns: Sequence[str], rows: Sequence[Sequence[object]]) -> str:
    lines = ["| " + " | ".join(columns) + " |", "|" + "---|" * len(columns)]
    lines += ["| " + " | ".join(fmt(cell) for cell in row) + " |" for row in rows]
    return "\n".join(lines)


def _speed(data: dict[str, Any]) -> str:
    """Which machine (its kernel's name tells the virtual machines apart) and how fast it was
    when the run ended (``common.reference_ms``), where they were recorded."""
    machine = data.get("machine", {})
    parts = [f"on {machine['system']}"] if machine.get("system") else []
    if machine.get("referenceMs") is not None:
        parts.append(f"reference loop {machine['referenceMs']:g} ms")
    return "".join(f"; {part}" for part in parts)


def met(flag: bool) -> str:
    return "met" if flag else "**missed**"


def _load(name: str, directory: Path) -> dict[str, Any] | None:
    path = directory / f"{name}.json"
    if not path.exists():
        return None
    data: dict[str, Any] = json.loads(path.read_text())
    return data


def downloads(data: dict[str, Any]) -> str:
    labels = {
        "nginx": "nginx `sendfile` (bound)",
        "granian": "`shipkey serve` (Granian), stream",
        "granian-st": "Granian single-threaded runtime, stream",
        "uvicorn": "uvicorn, stream",
        "x-accel": "nginx + shipkey, x-accel",
    }
    single = data["single"]
    rows = [
        [
            label,
            single[key]["gbPerS"],
            f"{single[key]['ratio']:.2f}×",
            single[key]["cpuSecondsPerGiB"],
        ]
        for key, label in labels.items()
        if key in single
    ]
    par = data["parallel"]
    return (
        f"One {data['fileBytes'] / MiB / 1024:g} GiB download, median of {data['repeat']} "
        f"(measured {data['measuredAt']}{_speed(data)}):\n\n"
        + markdown(["server", "GB/s", "vs nginx", "server CPU s/GiB"], rows)
        + f"\n\n{par['downloads']} parallel downloads: nginx {par['nginxGbPerS']:.2f} GB/s, "
        f"shipkey stream {par['shipkeyGbPerS']:.2f} GB/s; shipkey RSS "
        f"{par['rssBeforeBytes'] / MiB:.0f} → {par['rssPeakBytes'] / MiB:.0f} MiB "
        f"(growth {par['rssGrowthBytes'] / MiB:.1f} MiB).\n\n"
        + markdown(
            ["goal", "result"],
            [
                ["stream ≥ 0.9× nginx", met(data["goals"]["streamRatio"]["met"])],
                ["RSS growth < 64 MiB at 50 downloads", met(data["goals"]["rssGrowth"]["met"])],
            ],
        )
    )


def licenses(data: dict[str, Any]) -> str:
    labels = {
        "empty": "empty JSON endpoint, GET (bound)",
        "emptyPost": "empty JSON endpoint, POST with the same body",
        "laneEmptyPost": "empty JSON endpoint in the fast lane, POST with the same body",
        "spread1k": "validate, keys spread, 1,000 licenses",
        "hot": "validate, one hot key",
        "empty1m": "empty JSON endpoint, GET, 1,000,000 licenses",
        "spread1m": "validate, keys spread, 1,000,000 licenses",
    }
    parts = [
        f"{data['connections']} connections, {data['workers']} worker(s), "
        f"{data.get('server', 'granian')}, {data['seconds']:g} s a row "
        f"(measured {data['measuredAt']}{_speed(data)}):"
    ]
    for name, db in data["databases"].items():
        runs = db["runs"]
        rows = run_rows(labels, runs)
        goals = db["goals"]
        parts.append(
            f"**{name}**\n\n"
            + markdown(["request", "req/s", "p50 ms", "p99 ms", "server CPU µs/req"], rows)
            + "\n\n"
            + markdown(
                ["goal", "measured", "result"],
                [
                    [
                        "req/s ≥ 0.5× empty",
                        f"{db['ratioToEmpty']:.2f}×",
                        met(goals["ratioToEmpty"]),
                    ],
                    [
                        "req/s vs the same POST to the empty endpoint",
                        f"{db.get('ratioToEmptyPost', 0):.2f}×",
                        "",
                    ],
                    *(
                        [
                            [
                                "req/s vs the same POST to the empty endpoint in the fast lane",
                                f"{db['ratioToLaneEmptyPost']:.2f}×",
                                "",
                            ]
                        ]
                        if "ratioToLaneEmptyPost" in db
                        else []
                    ),
                    ["p99 < 25 ms", f"{runs['spread1k']['p99_ms']:.1f} ms", met(goals["p99"])],
                    [
                        "hot key ≥ 0.9× spread",
                        f"{db['hotToSpread']:.2f}×",
                        met(goals["hotToSpread"]),
                    ],
                    [
                        "1,000,000 licenses ≤ 1.2× the p50 of 1,000",
                        f"{db['latency1mTo1k']:.2f}×",
                        met(goals["latency1mTo1k"]),
                    ],
                ],
            )
        )
    return "\n\n".join(parts)


def webhooks(data: dict[str, Any]) -> str:
    last = data["secondsUntilLastEmail"]
    return (
        f"{data['events']:,} events (+{data['duplicatesSent']:,} sent twice), "
        f"{data['concurrency']} clients, {data['database']}, "
        f"{data.get('workers', 1)} worker(s) (measured {data['measuredAt']}{_speed(data)}):\n\n"
        + markdown(
            ["measure", "value", "goal"],
            [
                [
                    "orders accepted per second",
                    data["acceptedPerSecond"],
                    "≥ 200: " + met(data["goals"]["acceptedPerSecond"]),
                ],
                ["server CPU ms per event", data.get("serverCpuMsPerEvent", "-"), ""],
                ["answers other than 2xx", sum(data["non2xx"].values()), ""],
                ["seconds until the last e-mail arrived", "never" if last is None else last, ""],
                [
                    "buyers with their e-mail",
                    f"{data['delivered']:,} of {data['events']:,}",
                    "exactly once: " + met(data["goals"]["exactlyOnce"]),
                ],
                ["buyers with two e-mails", data["deliveredTwice"], ""],
                ["load generator CPU seconds", data["clientCpuSeconds"], ""],
            ],
        )
    )


def client(data: dict[str, Any]) -> str:
    per = data["perSecond"]
    return f"One thread (measured {data['measuredAt']}{_speed(data)}):\n\n" + markdown(
        ["what", "per second", "goal"],
        [
            [
                "`verify_offline()`, file cached on disk",
                per["cachedFile"],
                "≥ 10,000: " + met(data["met"]["cachedFile"]),
            ],
            ["`verify_offline(text)`, in memory", per["inMemory"], ""],
            [
                "full check of a file never seen (no cache)",
                per["fullCheck"],
                f"{per['fullCheck'] / per['ed25519']:.2f}× of the bound",
            ],
            ["bare Ed25519 verify (bound)", per["ed25519"], ""],
        ],
    )


def scale(data: dict[str, Any]) -> str:
    """A page's p50 and p95 and, when recorded, the app's CPU per request (this process's, the
    database's not included)."""
    goals = {"admin": 200.0, "buyer": 50.0}
    with_cpu = any("cpu" in row for row in data["rows"].values())
    rows = []
    for name, row in data["rows"].items():
        goal = goals.get(row["kind"])
        if goal is not None:
            verdict = f"< {goal:g} ms: {met(row['p95'] < goal)}"
        else:
            verdict = f"{row['ratio']:.1f}× /healthz (p50)" if "ratio" in row else ""
        cpu = [f"{row['cpu']:.1f}" if "cpu" in row else ""] if with_cpu else []
        rows.append([name, f"{row['p50']:.1f}", f"{row['p95']:.1f}", *cpu, verdict])
    filled = ", ".join(f"{count:,} {table}" for table, count in data["rows_filled"].items())
    head = (
        f"Scale {data['scale']} ({filled}); {data['rounds']} requests a page, in process"
        f"{_speed(data)}; load average {data.get('loadAverage', '?')}"
        f"{' (at the start: ' + str(data['loadAtStart']) + ')' if 'loadAtStart' in data else ''}"
        ".\n\n"
    )
    cpu_column = ["app CPU ms"] if with_cpu else []
    return head + markdown(["page", "p50 ms", "p95 ms", *cpu_column, "goal (p95)"], rows)


def report(directory: Path = RESULTS_DIR) -> str:
    sections = []
    for title, name, render in (
        ("Downloads", "downloads", downloads),
        ("License validation", "licenses", licenses),
        ("License validation, two workers", "licenses-workers2", licenses),
        ("License validation, uvicorn for comparison", "licenses-workers2-uvicorn", licenses),
        ("Webhook to inbox", "webhooks-sqlite", webhooks),
        ("Webhook to inbox", "webhooks-postgresql", webhooks),
        ("Webhook to inbox, two workers", "webhooks-sqlite-workers2", webhooks),
        ("Webhook to inbox, two workers", "webhooks-postgresql-workers2", webhooks),
        ("Offline verification in the client", "client", client),
        ("Data at scale, before (a tenth)", "scale-before-0.1", scale),
        ("Data at scale, after (a tenth)", "scale-0.1", scale),
        ("Data at scale, before (full size, 2026-12-06)", "scale-before", scale),
        ("Data at scale, after (full size)", "scale", scale),
    ):
        data = _load(name, directory)
        if data is not None:
            sections.append(f"#### {title}\n\n{render(data)}")
    return "\n\n".join(sections) + "\n"


def main() -> None:
    print(report())  # noqa: T201


if __name__ == "__main__":
    main()
