"""Programs outside Python that some tests start, and the Debian packages that bring them; and
the npm packages some browser tests load into the page (axe-core, the accessibility checker).

``make test`` runs ``python3 -m tests.needs`` first: whatever is missing is installed with
apt-get, or with npm into ``tests/.node`` (which git ignores; one line says what), or, where
that cannot be done, the run stops at once with one sentence naming the packages and the
command that installs them. ``tests/conftest.py`` checks the same table for the tests a run
selects, so a bare ``pytest`` stops with that sentence too, never with a test that errors,
skips or passes without its program.

Standard library only: this runs before the virtual environment exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

NODE_DIR = Path(__file__).resolve().parent / ".node"
"""Where ``npm install --prefix`` puts the npm packages of the tests (ignored by git)."""


@dataclass(frozen=True)
class Need:
    name: str  # what tests call it (the key of ``@pytest.mark.needs``)
    package: str  # the Debian package that installs it
    paths: tuple[str, ...]  # where the tests look for it
    used_by: str

    def present(self) -> bool:
        return any(os.access(path, os.X_OK) for path in self.paths) or bool(shutil.which(self.name))


@dataclass(frozen=True)
class NpmNeed:
    name: str  # the key of ``@pytest.mark.needs`` (and the npm package's name)
    package: str  # what ``npm install`` is given: name@version range
    file: str  # the file the tests load, inside NODE_DIR/node_modules/<name>/
    used_by: str

    @property
    def path(self) -> Path:
        return NODE_DIR / "node_modules" / self.name / self.file

    def present(self) -> bool:
        return self.path.is_file()


AXE = NpmNeed("axe-core", "axe-core@4", "axe.min.js", "the accessibility checks in a browser")

NEEDS: dict[str, Need | NpmNeed] = {
    need.name: need
    for need in (
        Need("chromium", "chromium", ("/usr/bin/chromium",), "the page tests in a real browser"),
        Need("nginx", "nginx-light", ("/usr/sbin/nginx",), "the x-accel download tests"),
        Need("curl", "curl", ("/usr/bin/curl",), "the resume tests with a real client"),
        Need("wget", "wget", ("/usr/bin/wget",), "the resume test with wget -c"),
        Need("npm", "npm", ("/usr/bin/npm",), "installing axe-core"),
        AXE,
    )
}


def missing(names: Iterable[str] = NEEDS) -> list[Need | NpmNeed]:
    return [NEEDS[name] for name in dict.fromkeys(names) if not NEEDS[name].present()]


def install_command(needs: list[Need | NpmNeed]) -> str:
    debian = [need.package for need in needs if isinstance(need, Need)]
    npm = [need.package for need in needs if isinstance(need, NpmNeed)]
    commands = [f"sudo apt-get install {' '.join(debian)}"] if debian else []
    if npm:
        commands.append(npm_command(npm))
    return " && ".join(commands)


def npm_command(packages: list[str]) -> str:
    return f"npm install --prefix {NODE_DIR} --no-audit --no-fund {' '.join(packages)}"


def sentence(needs: list[Need | NpmNeed]) -> str:
    """The one line a run that cannot go on prints."""
    what = ", ".join(
        f"{'Debian' if isinstance(need, Need) else 'npm'}'s {need.package} (for {need.used_by})"
        for need in needs
    )
    return f"The tests need {what}: install with `{install_command(needs)}`."


def _apt(*args: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
    return done.returncode == 0


def _npm(packages: list[str]) -> bool:
    NODE_DIR.mkdir(exist_ok=True)
    command = ["npm", "install", "--prefix", str(NODE_DIR), "--no-audit", "--no-fund", *packages]
    done = subprocess.run(command, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False)
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
    return done.returncode == 0


def main() -> int:
    needs = missing()
    if not needs:
        return 0
    debian = [need.package for need in needs if isinstance(need, Need)]
    if debian:
        if os.geteuid() != 0 or shutil.which("apt-get") is None:
            print(sentence(needs), file=sys.stderr)
            return 1
        print(f"make test: installing Debian packages the tests need: {' '.join(debian)}")
        if not (_apt("update", "-qq") and _apt("install", "-y", "-qq", *debian)):
            print(f"Could not install them. {sentence(needs)}", file=sys.stderr)
            return 1
    npm = [need.package for need in needs if isinstance(need, NpmNeed)]
    if npm:
        print(f"make test: installing npm packages the tests need: {' '.join(npm)}")
        if not _npm(npm):
            print(f"Could not install them. {sentence(missing())}", file=sys.stderr)
            return 1
    still = missing()
    if still:
        print(f"Installed, yet not found. {sentence(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
