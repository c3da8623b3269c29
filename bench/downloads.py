"""Downloads: a large file through ``/api/download/{token}`` against nginx serving it static.

Every row is measured in the same run on the same machine with the same client (curl writing
to /dev/null), so the ratios hold on a noisy machine:

* nginx ``sendfile`` from the storage directory: the bound;
* ``shipkey serve`` (Granian) in ``stream`` mode;
* uvicorn in ``stream`` mode, for comparison with the other common ASGI server;
* ``x-accel`` mode: nginx in front, shipkey checks and counts the link, nginx sends the bytes.

Then ``--parallel`` downloads at once from nginx and from ``shipkey serve``, with the server's
peak resident memory (all its processes) against its memory before the run.

    .venv/bin/python -m bench.downloads [--size-mib 1024] [--parallel 50] [--repeat 3]
"""

from __future__ import annotations

import argparse
import os
import shutil
import statistics
import subprocess
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx

from bench.common import (
    PYTHON,
    ROOT,
    VENV_BIN,
    GiB,
    MiB,
    RssSampler,
    console,
    free_port,
    require_tool,
    running,
    table,
    tree_cpu,
    tree_rss,
    verdict,
    write_results,
)

ADMIN_TOKEN = "sk_admin_bench-downloads"  # noqa: S105 - a throwaway token for a local bench
GOAL_RATIO = 0.9
GOAL_RSS_GROWTH = 64 * MiB

NGINX_CONF = """\
worker_processes 1;
daemon off;
pid {work}/nginx.pid;
error_log {work}/nginx-error.log warn;
events {{ worker_connections 1024; }}
http {{
    access_log off;
    sendfile on;
    tcp_nopush on;
    client_body_temp_path {work}/nginx-body;
    proxy_temp_path {work}/nginx-proxy;
    fastcgi_temp_path {work}/nginx-fastcgi;
    uwsgi_temp_path {work}/nginx-uwsgi;
    scgi_temp_path {work}/nginx-scgi;
    default_type application/octet-stream;
    server {{
        listen 127.0.0.1:{static_port};
        location /files/ {{ alias {root}/; }}
    }}
    server {{
        listen 127.0.0.1:{accel_port};
        location /_protected/ {{ internal; alias {root}/; }}
        location / {{
            proxy_pass http://127.0.0.1:{app_port};
            proxy_buffering off;
            proxy_http_version 1.1;
            proxy_set_header Host $host;
        }}
    }}
}}
"""


@dataclass(frozen=True)
class Transfer:
    size: int
    seconds: float

    @property
    def gb_per_s(self) -> float:
        return self.size / self.seconds / 1e9


def parse_curl(output: str) -> Transfer:
    """Read ``curl -w '%{http_code} %{size_download} %{time_total}'``; refuse anything not 200."""
    code, size, seconds = output.split()
    if code != "200":
        raise RuntimeError(f"download answered HTTP {code}")
    return Transfer(int(size), float(seconds))


def curl(url: str) -> Transfer:
    done = subprocess.run(  # noqa: S603
        [
            require_tool("curl"),
            "-sS",
            "-o",
            "/dev/null",
            "-w",
            "%{http_code} %{size_download} %{time_total}",
            url,
        ],
        capture_output=True,
        text=True,
        check=True,
    )
    return parse_curl(done.stdout)


def parallel(urls: list[str]) -> tuple[float, int]:
    """Download every URL at once; (wall seconds, bytes)."""
    started = time.perf_counter()
    procs = [
        subprocess.Popen(  # noqa: S603
            [
                require_tool("curl"),
                "-sS",
                "-o",
                "/dev/null",
                "-w",
                "%{http_code} %{size_download} %{time_total}",
                url,
            ],
            stdout=subprocess.PIPE,
            text=True,
        )
        for url in urls
    ]
    total = 0
    for proc in procs:
        out, _ = proc.communicate()
        total += parse_curl(out).size
    return time.perf_counter() - started, total


def make_file(path: Path, size: int) -> None:
    block = os.urandom(MiB)
    with path.open("wb") as handle:
        left = size
        while left > 0:
            handle.write(block[: min(left, MiB)])
            left -= MiB


class Store:
    """The admin API of a running shipkey, enough to sell one file many times."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = httpx.Client(
            base_url=base, headers={"Authorization": f"Bearer {ADMIN_TOKEN}"}, timeout=600
        )

    def product_with_file(self, source: Path) -> str:
        product = self.http.post(
            "/api/admin/products",
            json={"name": "Big file", "slug": "big-file", "type": "DOWNLOAD", "price": 100},
        )
        if product.status_code == 409:  # a second server on the same database
            return "big-file"
        product.raise_for_status()
        with source.open("rb") as handle:
            self.http.put(
                "/api/admin/products/big-file/file",
                params={"filename": "big.bin"},
                content=iter(lambda: handle.read(4 * MiB), b""),
                headers={"content-type": "application/octet-stream"},
            ).raise_for_status()
        return "big-file"

    def links(self, slug: str, count: int) -> list[str]:
        purchase = self.http.post(
            "/api/admin/purchases",
            json={"product": slug, "email": "bench@example.com", "maxDownloads": count + 1},
        )
        purchase.raise_for_status()
        pid = purchase.json()["id"]
        urls = []
        for _ in range(count):
            link = self.http.post(f"/api/admin/purchases/{pid}/download-links")
            link.raise_for_status()
            token = link.json()["token"]
            urls.append(f"/api/download/{token}")
        return urls


def stored_path(files_root: Path) -> Path:
    found = [p for p in files_root.rglob("*") if p.is_file() and ".tmp" not in p.parts]
    if len(found) != 1:
        raise RuntimeError(f"expected one stored file under {files_root}, found {len(found)}")
    return found[0]


@contextmanager
def shipkey_server(
    data_dir: Path, port: int, *, mode: str = "stream", server: str = "granian", log: Path
) -> Iterator[subprocess.Popen[bytes]]:
    env = {
        "SHIPKEY_DATA_DIR": str(data_dir),
        "SHIPKEY_ADMIN_TOKEN": ADMIN_TOKEN,
        "SHIPKEY_RATE_LIMITS": "off",
        "SHIPKEY_DOWNLOAD_MODE": mode,
        "SHIPKEY_BASE_URL": f"http://127.0.0.1:{port}",
    }
    if server == "granian":
        args = [str(VENV_BIN / "shipkey"), "serve", "--port", str(port)]
    elif server == "granian-st":
        # The same app and options on Granian's single-threaded runtime, for comparison.
        args = [
            PYTHON,
            "-m",
            "bench.serve",
            "--app",
            "shipkey.app:create_app_from_env",
            "--port",
            str(port),
            "--runtime-mode",
            "st",
        ]
    else:
        args = [
            str(VENV_BIN / "uvicorn"),
            "--factory",
            "shipkey.app:create_app_from_env",
            "--port",
            str(port),
            "--no-access-log",
            "--log-level",
            "warning",
        ]
    ready = f"http://127.0.0.1:{port}/healthz"
    with running(args, env=env, ready_url=ready, log=log, cwd=ROOT) as proc:
        yield proc


def run(size: int, count: int, repeat: int) -> dict[str, Any]:
    nginx = require_tool("nginx")
    require_tool("curl")
    work = Path(tempfile.mkdtemp(prefix="shipkey-bench-downloads-"))
    work.chmod(0o755)  # nginx workers run as an unprivileged user
    try:
        return _run(work, nginx, size, count, repeat)
    finally:
        shutil.rmtree(work, ignore_errors=True)


def _run(work: Path, nginx: str, size: int, count: int, repeat: int) -> dict[str, Any]:
    data_dir = work / "var"
    source = work / "big.bin"
    log = work / "servers.log"
    console.print(f"Making a {size / MiB:,.0f} MiB file and uploading it …")
    make_file(source, size)
    app_port, uvi_port, accel_app_port, st_port = free_port(), free_port(), free_port(), free_port()
    static_port, accel_port = free_port(), free_port()
    links_needed = 4 * repeat + count + 2

    with shipkey_server(data_dir, app_port, log=log) as app:
        store = Store(f"http://127.0.0.1:{app_port}")
        slug = store.product_with_file(source)
        source.unlink()
        paths = store.links(slug, links_needed)
        path = stored_path(data_dir / "files")
        (work / "nginx.conf").write_text(
            NGINX_CONF.format(
                work=work,
                root=data_dir / "files",
                static_port=static_port,
                accel_port=accel_port,
                app_port=accel_app_port,
            )
        )
        key = path.relative_to(data_dir / "files").as_posix()
        static_url = f"http://127.0.0.1:{static_port}/files/{key}"
        with (
            running([nginx, "-c", str(work / "nginx.conf"), "-p", str(work)], log=log) as web,
            shipkey_server(data_dir, uvi_port, server="uvicorn", log=log) as uvi,
            shipkey_server(data_dir, st_port, server="granian-st", log=log) as st,
            shipkey_server(data_dir, accel_app_port, mode="x-accel", log=log) as accel,
        ):
            time.sleep(0.5)
            curl(static_url)  # warm the page cache
            targets: dict[str, tuple[str, list[int]]] = {
                "nginx": ("", [web.pid]),
                "granian": (f"http://127.0.0.1:{app_port}", [app.pid]),
                "granian-st": (f"http://127.0.0.1:{st_port}", [st.pid]),
                "uvicorn": (f"http://127.0.0.1:{uvi_port}", [uvi.pid]),
                "x-accel": (f"http://127.0.0.1:{accel_port}", [web.pid, accel.pid]),
            }
            speeds: dict[str, list[float]] = {name: [] for name in targets}
            cpus: dict[str, list[float]] = {name: [] for name in targets}
            for _ in range(repeat):  # interleaved, so a noisy moment hits every server alike
                for name, (base, pids) in targets.items():
                    url = static_url if not base else base + paths.pop()
                    before = sum(tree_cpu(pid) for pid in pids)
                    transfer = curl(url)
                    used = sum(tree_cpu(pid) for pid in pids) - before
                    speeds[name].append(transfer.gb_per_s)
                    cpus[name].append(used / (transfer.size / GiB))

            console.print(f"{count} parallel downloads from nginx, then from shipkey …")
            nginx_wall, nginx_bytes = parallel([static_url] * count)
            base_rss = tree_rss(app.pid)
            urls = [f"http://127.0.0.1:{app_port}{paths.pop()}" for _ in range(count)]
            with RssSampler(app.pid) as sampler:
                app_wall, app_bytes = parallel(urls)
            peak_rss = sampler.peak

    medians = {name: statistics.median(values) for name, values in speeds.items()}
    bound = medians["nginx"]
    results: dict[str, Any] = {
        "fileBytes": size,
        "repeat": repeat,
        "single": {
            name: {
                "gbPerS": medians[name],
                "ratio": medians[name] / bound,
                "cpuSecondsPerGiB": statistics.median(cpus[name]),
                "samples": speeds[name],
            }
            for name in speeds
        },
        "parallel": {
            "downloads": count,
            "nginxGbPerS": nginx_bytes / nginx_wall / 1e9,
            "shipkeyGbPerS": app_bytes / app_wall / 1e9,
            "rssBeforeBytes": base_rss,
            "rssPeakBytes": peak_rss,
            "rssGrowthBytes": peak_rss - base_rss,
        },
    }
    results["goals"] = {
        "streamRatio": {"goal": GOAL_RATIO, "met": medians["granian"] / bound >= GOAL_RATIO},
        "rssGrowth": {"goal": GOAL_RSS_GROWTH, "met": peak_rss - base_rss < GOAL_RSS_GROWTH},
    }
    return results


def show(results: dict[str, Any]) -> None:
    single = results["single"]
    size = results["fileBytes"]
    names = {
        "nginx": "nginx sendfile (bound)",
        "granian": "shipkey serve (Granian), stream",
        "granian-st": "Granian, single-threaded runtime, stream",
        "uvicorn": "uvicorn, stream",
        "x-accel": "nginx + shipkey, x-accel",
    }
    rows: list[list[object]] = []
    for name, label in names.items():
        row = single[name]
        goal = ""
        if name == "granian":
            goal = f"≥ {GOAL_RATIO}×  " + verdict(results["goals"]["streamRatio"]["met"])
        rows.append([label, row["gbPerS"], f"{row['ratio']:.2f}×", row["cpuSecondsPerGiB"], goal])
    console.print(
        table(
            f"One {size / GiB:g} GiB download (median of {results['repeat']}), GB/s",
            ["server", "GB/s", "vs nginx", "server CPU s/GiB", "goal"],
            rows,
        )
    )
    par = results["parallel"]
    growth = par["rssGrowthBytes"] / MiB
    console.print(
        table(
            f"{par['downloads']} parallel downloads",
            ["server", "GB/s total", "RSS before MiB", "RSS peak MiB", "growth MiB", "goal"],
            [
                ["nginx sendfile", par["nginxGbPerS"], "", "", "", ""],
                [
                    "shipkey serve, stream",
                    par["shipkeyGbPerS"],
                    par["rssBeforeBytes"] / MiB,
                    par["rssPeakBytes"] / MiB,
                    growth,
                    "< 64 MiB  " + verdict(results["goals"]["rssGrowth"]["met"]),
                ],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--size-mib", type=int, default=1024)
    parser.add_argument("--parallel", type=int, default=50)
    parser.add_argument("--repeat", type=int, default=5)
    args = parser.parse_args(argv)
    results = run(args.size_mib * MiB, args.parallel, args.repeat)
    show(results)
    console.print(f"results: {write_results('downloads', results)}")


if __name__ == "__main__":
    main()
