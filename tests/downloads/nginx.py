"""A real nginx in front of shipkey, configured from deploy/nginx/shipkey.conf.

The shipped example is used as it is, except for the three lines it tells users to adapt: the
port nginx listens on, where shipkey listens, and the storage folder. Debian's nginx package
must be installed (`.ci/run` installs it); without it the tests that need it fail.
"""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import httpx

EXAMPLE = Path(__file__).resolve().parents[2] / "deploy" / "nginx" / "shipkey.conf"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


def _replace_once(text: str, old: str, new: str) -> str:
    assert text.count(old) == 1, f"{old!r} should appear once in {EXAMPLE}"
    return text.replace(old, new)


def site_config(port: int, upstream: str, files_root: Path) -> str:
    """The example config with its three marked lines adapted."""
    text = EXAMPLE.read_text()
    text = _replace_once(text, "listen 80;", f"listen 127.0.0.1:{port};")
    text = _replace_once(text, "server 127.0.0.1:8000;", f"server {upstream};")
    return _replace_once(text, "alias /var/lib/shipkey/files/;", f"alias {files_root}/;")


def main_config(workdir: Path, site: Path) -> str:
    temp = {name: workdir / name for name in ("body", "proxy", "fastcgi", "uwsgi", "scgi")}
    for path in temp.values():
        path.mkdir(exist_ok=True)
    user = "user root;" if os.geteuid() == 0 else ""  # read the test's private temp folders
    return f"""
{user}
daemon off;
worker_processes 1;
pid {workdir}/nginx.pid;
error_log {workdir}/error.log warn;
events {{ worker_connections 1024; }}
http {{
    include /etc/nginx/mime.types;
    default_type application/octet-stream;
    access_log off;
    client_body_temp_path {temp["body"]};
    proxy_temp_path {temp["proxy"]};
    fastcgi_temp_path {temp["fastcgi"]};
    uwsgi_temp_path {temp["uwsgi"]};
    scgi_temp_path {temp["scgi"]};
    include {site};
}}
"""


@contextmanager
def run_nginx(upstream_url: str, files_root: Path, workdir: Path) -> Iterator[str]:
    """Start nginx in front of ``upstream_url``; yields nginx's own URL."""
    binary = shutil.which("nginx") or shutil.which("nginx", path="/usr/sbin:/sbin")
    assert binary is not None, "tests/needs.py names nginx; `make test` installs it"
    workdir.mkdir(parents=True, exist_ok=True)
    port = _free_port()
    site = workdir / "shipkey.conf"
    site.write_text(site_config(port, httpx.URL(upstream_url).netloc.decode(), files_root))
    conf = workdir / "nginx.conf"
    conf.write_text(main_config(workdir, site))
    check = subprocess.run(
        [binary, "-t", "-p", str(workdir), "-c", str(conf), "-e", "stderr"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr
    process = subprocess.Popen(
        [binary, "-p", str(workdir), "-c", str(conf), "-e", "stderr"],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 15
        while True:
            try:
                with socket.create_connection(("127.0.0.1", port), timeout=1):
                    break
            except OSError:
                if time.monotonic() > deadline or process.poll() is not None:
                    log = workdir / "error.log"
                    text = log.read_text() if log.exists() else ""
                    raise RuntimeError(f"nginx did not start: {text}") from None
                time.sleep(0.02)
        yield url
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
