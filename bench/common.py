"""What every benchmark shares: servers in child processes, wrk, RSS sampling, tables, results.

Nothing here imports shipkey, so the parsers can be tested cheaply.
"""

from __future__ import annotations

import argparse
import contextlib
import hashlib
import json
import os
import platform
import re
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
from rich.console import Console
from rich.table import Table

BENCH_DIR = Path(__file__).resolve().parent
ROOT = BENCH_DIR.parent
RESULTS_DIR = BENCH_DIR / "results"
PYTHON = sys.executable
VENV_BIN = Path(PYTHON).parent

console = Console(width=max(120, shutil.get_terminal_size((120, 20)).columns))

# --- tools ----------------------------------------------------------------------------------


def require_tool(name: str, package: str | None = None) -> str:
    """The path of a command, installing its Debian package first when it is missing."""
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if found:
        return found
    console.print(f"[yellow]{name} is missing: apt-get install {package or name}[/yellow]")
    subprocess.run(["apt-get", "install", "-y", "-q", package or name], check=True)  # noqa: S603, S607
    found = shutil.which(name) or (
        f"/usr/sbin/{name}" if Path(f"/usr/sbin/{name}").exists() else None
    )
    if not found:
        raise SystemExit(f"{name} is still missing after installing {package or name}")
    return found


def free_port() -> int:
    with contextlib.closing(socket.socket()) as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def wait_http(url: str, timeout: float = 30.0, proc: subprocess.Popen[bytes] | None = None) -> None:
    """Wait until ``url`` answers with any status below 500."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if proc is not None and proc.poll() is not None:
            raise RuntimeError(f"server exited with {proc.returncode} before {url} answered")
        with contextlib.suppress(httpx.HTTPError):
            if httpx.get(url, timeout=1.0).status_code < 500:
                return
        time.sleep(0.1)
    raise TimeoutError(f"{url} did not answer within {timeout} s")


# --- processes and memory -------------------------------------------------------------------


def children(pid: int) -> list[int]:
    """Every descendant of ``pid`` (Linux /proc)."""
    found: list[int] = []
    stack = [pid]
    while stack:
        current = stack.pop()
        for task in Path(f"/proc/{current}/task").glob("*/children"):
            with contextlib.suppress(OSError):
                for part in task.read_text().split():
                    found.append(int(part))
                    stack.append(int(part))
    return found


def parse_vmrss(status_text: str) -> int:
    """The resident set size in bytes from the text of /proc/<pid>/status."""
    match = re.search(r"^VmRSS:\s+(\d+)\s+kB", status_text, re.MULTILINE)
    return int(match.group(1)) * 1024 if match else 0


def tree_rss(pid: int) -> int:
    """Resident memory of a process and all its descendants, in bytes."""
    total = 0
    for each in [pid, *children(pid)]:
        with contextlib.suppress(OSError):
            total += parse_vmrss(Path(f"/proc/{each}/status").read_text())
    return total


def parse_cpu_ticks(stat_text: str) -> int:
    """User plus system clock ticks from the text of /proc/<pid>/stat."""
    fields = stat_text.rsplit(")", 1)[1].split()
    return int(fields[11]) + int(fields[12])


def tree_cpu(pid: int) -> float:
    """CPU seconds used so far by a process and all its descendants (live ones)."""
    ticks = 0
    for each in [pid, *children(pid)]:
        with contextlib.suppress(OSError, IndexError, ValueError):
            ticks += parse_cpu_ticks(Path(f"/proc/{each}/stat").read_text())
    return ticks / os.sysconf("SC_CLK_TCK")


class RssSampler:
    """Samples the RSS of a process tree in a thread; ``peak`` is the highest sample."""

    def __init__(self, pid: int, interval: float = 0.05) -> None:
        self.pid = pid
        self.interval = interval
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        while not self._stop.is_set():
            self.peak = max(self.peak, tree_rss(self.pid))
            self._stop.wait(self.interval)

    def __enter__(self) -> RssSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


class DatabaseCpuSampler:
    """Samples the CPU time of the PostgreSQL server processes serving one database (found by
    their process title, ``postgres: USER DATABASE …``) in a thread; ``seconds`` is their sum.

    A process's last sample is what it counts, so up to ``interval`` of a backend's work just
    before it exits is missed."""

    def __init__(self, database: str, interval: float = 0.1) -> None:
        self.marker = f" {database} ".encode()
        self.interval = interval
        self._cpu: dict[int, float] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)
        self._tick = os.sysconf("SC_CLK_TCK")

    @property
    def seconds(self) -> float:
        return sum(self._cpu.values())

    def _sample(self) -> None:
        for entry in Path("/proc").iterdir():
            if not entry.name.isdigit():
                continue
            try:
                title = (entry / "cmdline").read_bytes()
                if not title.startswith(b"postgres: ") or self.marker not in title:
                    continue
                fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            except OSError:
                continue
            self._cpu[int(entry.name)] = (int(fields[11]) + int(fields[12])) / self._tick

    def _run(self) -> None:
        while not self._stop.is_set():
            self._sample()
            self._stop.wait(self.interval)

    def __enter__(self) -> DatabaseCpuSampler:
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        self._thread.join()


@contextlib.contextmanager
def running(
    args: Sequence[str],
    *,
    env: Mapping[str, str] | None = None,
    ready_url: str | None = None,
    log: Path | None = None,
    cwd: Path | None = None,
) -> Iterator[subprocess.Popen[bytes]]:
    """Run a server in its own process group until the block ends, then stop it (SIGTERM)."""
    out = log.open("ab") if log is not None else subprocess.DEVNULL
    proc = subprocess.Popen(  # noqa: S603
        list(args),
        env={**os.environ, **(env or {})},
        stdout=out,
        stderr=subprocess.STDOUT,
        cwd=cwd,
        start_new_session=True,
    )
    try:
        if ready_url is not None:
            wait_http(ready_url, proc=proc)
        yield proc
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(proc.pid, signal.SIGTERM)
        try:
            proc.wait(timeout=15)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(proc.pid, signal.SIGKILL)
            proc.wait()
        if log is not None and hasattr(out, "close"):
            out.close()


# --- wrk ------------------------------------------------------------------------------------

_UNITS = {"us": 1e-3, "ms": 1.0, "s": 1000.0, "m": 60_000.0}


def _ms(value: str) -> float:
    match = re.fullmatch(r"([\d.]+)(us|ms|s|m)", value.strip())
    if match is None:
        raise ValueError(f"not a wrk duration: {value!r}")
    return float(match.group(1)) * _UNITS[match.group(2)]


@dataclass(frozen=True)
class WrkResult:
    requests: int
    seconds: float
    requests_per_s: float
    p50_ms: float
    p99_ms: float
    errors: int
    """Socket errors plus answers that were not 2xx or 3xx."""


def parse_wrk(output: str) -> WrkResult:
    """Read the summary that ``wrk --latency`` prints."""
    total = re.search(r"(\d+) requests in ([\d.]+)(us|ms|s|m)", output)
    rate = re.search(r"Requests/sec:\s+([\d.]+)", output)
    p50 = re.search(r"^\s+50%\s+(\S+)", output, re.MULTILINE)
    p99 = re.search(r"^\s+99%\s+(\S+)", output, re.MULTILINE)
    if not (total and rate and p50 and p99):
        raise ValueError(f"unexpected wrk output:\n{output}")
    errors = 0
    non2xx = re.search(r"Non-2xx or 3xx responses:\s+(\d+)", output)
    if non2xx:
        errors += int(non2xx.group(1))
    sock = re.search(
        r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", output
    )
    if sock:
        errors += sum(int(sock.group(i)) for i in range(1, 5))
    return WrkResult(
        requests=int(total.group(1)),
        seconds=_ms(total.group(2) + total.group(3)) / 1000,
        requests_per_s=float(rate.group(1)),
        p50_ms=_ms(p50.group(1)),
        p99_ms=_ms(p99.group(1)),
        errors=errors,
    )


def wrk(
    url: str,
    *,
    connections: int = 64,
    seconds: float = 10,
    threads: int = 1,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> WrkResult:
    """Run wrk against ``url`` and parse its summary."""
    args = [
        require_tool("wrk"),
        f"-t{threads}",
        f"-c{connections}",
        f"-d{seconds:g}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script is not None:
        args += ["-s", str(script)]
    args.append(url)
    if script_args:
        args += ["--", *script_args]
    done = subprocess.run(args, capture_output=True, text=True, check=True)  # noqa: S603
    return parse_wrk(done.stdout)


# --- output ---------------------------------------------------------------------------------


def reference_ms(rounds: int = 5) -> float:
    """Milliseconds of CPU for a fixed piece of pure Python (JSON, hashing, sorting, string
    work), best of ``rounds``: how fast this machine ran when a benchmark ended.

    On a shared virtual machine the same code runs up to 1.6× slower from one hour to the next
    (seen here); the ratios of one run hold, but absolute rates and latencies of two runs can
    only be compared next to this figure. Lower is faster.
    """
    document = {"items": [{"id": i, "name": f"item-{i}", "tags": ["a", "b"]} for i in range(200)]}
    best = float("inf")
    for _ in range(rounds):
        started = time.process_time()
        for i in range(20):
            text = json.dumps(document)
            json.loads(text)
            hashlib.sha256(text.encode()).hexdigest()
            sorted(range(2_000, 0, -1 - i % 3))
            "-".join(f"{n:05d}" for n in range(500)).split("-")
        best = min(best, time.process_time() - started)
    return round(best * 1000, 2)


def machine() -> dict[str, Any]:
    return {
        "cpus": os.cpu_count(),
        "python": platform.python_version(),
        "system": f"{platform.system()} {platform.release()}",
        "referenceMs": reference_ms(),
    }


def measure(
    url: str,
    pid: int,
    seconds: float,
    *,
    connections: int = 64,
    script: Path | None = None,
    script_args: Sequence[str] = (),
) -> dict[str, Any]:
    """wrk for ``seconds`` after a warm-up of up to two seconds, with the CPU time the server's
    process tree (``pid``) spent per request meanwhile (``cpu_us_per_request``)."""
    options: dict[str, Any] = {
        "connections": connections,
        "script": script,
        "script_args": script_args,
    }
    wrk(url, seconds=min(2, seconds), **options)
    before = tree_cpu(pid)
    result = wrk(url, seconds=seconds, **options)
    cpu = tree_cpu(pid) - before
    return {**asdict(result), "cpu_us_per_request": cpu / max(result.requests, 1) * 1e6}


def raise_on_errors(runs: Mapping[str, Mapping[str, Any]], name: str, log: Path) -> None:
    """Stop when any wrk run had failed requests (the server's log says why)."""
    errors = sum(run["errors"] for run in runs.values())
    if errors:
        raise RuntimeError(f"{errors} failed requests on {name}; see {log}")


def each_database(
    prefix: str,
    databases: Sequence[str],
    postgres_url: str,
    run_one: Callable[[str, str, Path], dict[str, Any]],
) -> dict[str, Any]:
    """``run_one(name, url, work)`` for each database named (``sqlite``: a file in a
    temporary folder ``work``, removed afterwards; ``postgresql``: ``postgres_url``)."""
    work = Path(tempfile.mkdtemp(prefix=prefix))
    urls = {"sqlite": f"sqlite:///{work / 'bench.db'}", "postgresql": postgres_url}
    try:
        return {name: run_one(name, urls[name], work) for name in databases}
    finally:
        shutil.rmtree(work, ignore_errors=True)


def run_rows(labels: Mapping[str, str], runs: Mapping[str, Any]) -> list[list[Any]]:
    """A row per wrk run (those of ``labels`` that ran, in its order): req/s, latency, CPU."""
    return [
        [
            label,
            runs[key]["requests_per_s"],
            runs[key]["p50_ms"],
            runs[key]["p99_ms"],
            runs[key]["cpu_us_per_request"],
        ]
        for key, label in labels.items()
        if key in runs
    ]


def runs_table(title: str, labels: Mapping[str, str], runs: Mapping[str, Any]) -> Table:
    """:func:`run_rows` as a table for the terminal."""
    return table(
        title, ["request", "req/s", "p50 ms", "p99 ms", "server CPU µs/req"], run_rows(labels, runs)
    )


def goals_table(name: str, rows: Sequence[Sequence[object]]) -> Table:
    """The goals of the runs on database ``name``: (goal, measured, target, verdict) rows."""
    return table(f"Goals on {name}", ["goal", "measured", "target", ""], rows)


def server_arguments(parser: argparse.ArgumentParser) -> None:
    """``--seconds`` per run, ``--workers`` of the server, ``--db`` (repeatable)."""
    parser.add_argument("--seconds", type=float, default=10)
    parser.add_argument("--workers", type=int, default=1)
    parser.add_argument("--db", action="append", choices=["sqlite", "postgresql"])


def write_results(name: str, data: Mapping[str, Any]) -> Path:
    """Store a benchmark's results as bench/results/<name>.json."""
    RESULTS_DIR.mkdir(exist_ok=True)
    path = RESULTS_DIR / f"{name}.json"
    document = {
        "benchmark": name,
        "measuredAt": datetime.now(UTC).replace(microsecond=0).isoformat(),
        "machine": machine(),
        **data,
    }
    path.write_text(json.dumps(document, indent=2, default=_jsonable) + "\n")
    return path


def _jsonable(value: object) -> object:
    if hasattr(value, "__dataclass_fields__"):
        return asdict(value)  # type: ignore[call-overload]
    return str(value)


def table(title: str, columns: Sequence[str], rows: Sequence[Sequence[object]]) -> Table:
    result = Table(title=title, title_justify="left")
    for index, column in enumerate(columns):
        result.add_column(column, justify="left" if index == 0 else "right")
    for row in rows:
        result.add_row(*(fmt(cell) for cell in row))
    return result


def fmt(value: object) -> str:
    if isinstance(value, float):
        if value >= 100:
            return f"{value:,.0f}"
        if value >= 10:
            return f"{value:.1f}"
        return f"{value:.2f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def verdict(ok: bool) -> str:
    return "[green]met[/green]" if ok else "[red]missed[/red]"


MiB = 1024 * 1024
GiB = 1024 * MiB
