"""Programs outside Python that some tests start, and the Debian packages that bring them.

``make test`` runs ``python3 -m tests.needs`` first: whatever is missing is installed with
apt-get (one line says what), or, where that cannot be done, the run stops at once with one
sentence naming the packages and the command that installs them. ``tests/conftest.py`` checks
the same table for the tests a run selects, so a bare ``pytest`` stops with that sentence too,
never with a test that errors, skips or passes without its program.

Standard library only: this runs before the virtual environment exists.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Iterable
from dataclasses import dataclass


@dataclass(frozen=True)
class Need:
    name: str  # what tests call it (the key of ``@pytest.mark.needs``)
    package: str  # the Debian package that installs it
    paths: tuple[str, ...]  # where the tests look for it
    used_by: str

    def present(self) -> bool:
        return any(os.access(path, os.X_OK) for path in self.paths) or bool(shutil.which(self.name))


NEEDS = {
    need.name: need
    for need in (
        Need("chromium", "chromium", ("/usr/bin/chromium",), "the page tests in a real browser"),
        Need("nginx", "nginx-light", ("/usr/sbin/nginx",), "the x-accel download tests"),
        Need("curl", "curl", ("/usr/bin/curl",), "the resume tests with a real client"),
        Need("wget", "wget", ("/usr/bin/wget",), "the resume test with wget -c"),
    )
}


def missing(names: Iterable[str] = NEEDS) -> list[Need]:
    return [NEEDS[name] for name in dict.fromkeys(names) if not NEEDS[name].present()]


def install_command(needs: list[Need]) -> str:
    return "apt-get install " + " ".join(need.package for need in needs)


def sentence(needs: list[Need]) -> str:
    """The one line a run that cannot go on prints."""
    what = ", ".join(f"{need.package} (for {need.used_by})" for need in needs)
    return f"The tests need Debian's {what}: install with `sudo {install_command(needs)}`."


def _apt(*args: str) -> bool:
    env = {**os.environ, "DEBIAN_FRONTEND": "noninteractive"}
    done = subprocess.run(
        ["apt-get", *args], env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, check=False
    )
    if done.returncode != 0:
        sys.stderr.write(done.stderr.decode(errors="replace")[-2000:])
    return done.returncode == 0


def main() -> int:
    needs = missing()
    if not needs:
        return 0
    packages = [need.package for need in needs]
    if os.geteuid() != 0 or shutil.which("apt-get") is None:
        print(sentence(needs), file=sys.stderr)
        return 1
    print(f"make test: installing Debian packages the tests need: {' '.join(packages)}")
    if not (_apt("update", "-qq") and _apt("install", "-y", "-qq", *packages)):
        print(f"Could not install them. {sentence(needs)}", file=sys.stderr)
        return 1
    still = missing()
    if still:
        print(f"Installed, yet not found. {sentence(still)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
