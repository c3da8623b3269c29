"""A stable identifier for this machine that reveals no hardware id.

The operating system's own machine id is read (``/etc/machine-id`` on Linux, the
``IOPlatformUUID`` on macOS, the ``MachineGuid`` on Windows); where there is none, the host
name and the network card's MAC address stand in. The id is then hashed with SHA-256, together
with an application salt, so only a digest ever leaves the machine and two applications with
different salts see unrelated ids.
"""

from __future__ import annotations

import functools
import hashlib
import re
import socket
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path

LINUX_MACHINE_ID_PATHS = (Path("/etc/machine-id"), Path("/var/lib/dbus/machine-id"))
IOREG = "/usr/sbin/ioreg"
_DOMAIN = "shipkey-machine-fingerprint-v1"
_IOREG_UUID_RE = re.compile(r'"IOPlatformUUID"\s*=\s*"([0-9A-Fa-f-]+)"')
_MULTICAST_BIT = 1 << 40
"""Set in ``uuid.getnode()`` when it made up a random number instead of reading a MAC."""


def machine_fingerprint(app_salt: str = "") -> str:
    """This machine's id: 64 lowercase hex digits, the same on every call and run."""
    digest = hashlib.sha256()
    for part in (_DOMAIN, app_salt, raw_machine_id()):
        data = part.encode("utf-8")
        digest.update(len(data).to_bytes(4, "big"))
        digest.update(data)
    return digest.hexdigest()


@functools.cache
def raw_machine_id() -> str:
    """The unhashed source of the fingerprint, tagged with where it came from. Stays local."""
    for name, source in _platform_sources():
        value = source()
        if value:
            return f"{name}:{value}"
    return f"host:{_fallback_id()}"


def current_platform() -> str:
    """``sys.platform``, behind a function so tests can pretend to be another system."""
    return sys.platform


def _platform_sources() -> list[tuple[str, Callable[[], str | None]]]:
    platform = current_platform()
    if platform == "win32":
        return [("windows", _windows_machine_guid)]
    if platform == "darwin":
        return [("macos", _macos_platform_uuid)]
    return [("linux", _linux_machine_id)]


def _linux_machine_id() -> str | None:
    for path in LINUX_MACHINE_ID_PATHS:
        try:
            value = path.read_text(encoding="ascii", errors="replace").strip()
        except OSError:
            continue
        if value:
            return value
    return None


def parse_ioreg_output(output: str) -> str | None:
    """The ``IOPlatformUUID`` in the output of ``ioreg -rd1 -c IOPlatformExpertDevice``."""
    match = _IOREG_UUID_RE.search(output)
    return match.group(1).upper() if match else None


def _macos_platform_uuid() -> str | None:
    try:
        result = subprocess.run(  # noqa: S603 - fixed absolute command, no user input
            [IOREG, "-rd1", "-c", "IOPlatformExpertDevice"],
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return parse_ioreg_output(result.stdout)


def _windows_machine_guid() -> str | None:
    if sys.platform != "win32":
        return None
    try:
        import winreg
    except ImportError:  # a Windows-like platform without the registry module
        return None
    try:
        with winreg.OpenKey(
            winreg.HKEY_LOCAL_MACHINE,
            r"SOFTWARE\Microsoft\Cryptography",
            0,
            winreg.KEY_READ | winreg.KEY_WOW64_64KEY,
        ) as key:
            value, _ = winreg.QueryValueEx(key, "MachineGuid")
    except OSError:
        return None
    return str(value) if value else None


def _fallback_id() -> str:
    node = uuid.getnode()
    mac = "" if node & _MULTICAST_BIT else f"{node:012x}"
    return f"{socket.gethostname()}/{mac}"
