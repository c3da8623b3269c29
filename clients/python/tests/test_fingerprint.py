import re
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest

from shipkey_client import fingerprint
from shipkey_client.fingerprint import machine_fingerprint, parse_ioreg_output, raw_machine_id

HEX64 = re.compile(r"[0-9a-f]{64}")


@pytest.fixture(autouse=True)
def fresh_cache() -> Iterator[None]:
    raw_machine_id.cache_clear()
    yield
    raw_machine_id.cache_clear()


def test_fingerprint_is_stable_hex() -> None:
    first = machine_fingerprint()
    assert HEX64.fullmatch(first)
    raw_machine_id.cache_clear()
    assert machine_fingerprint() == first


def test_salt_gives_unrelated_ids() -> None:
    assert machine_fingerprint("app-a") != machine_fingerprint("app-b")
    assert machine_fingerprint("app-a") != machine_fingerprint()
    assert HEX64.fullmatch(machine_fingerprint("ä salt"))


def test_raw_id_does_not_leak() -> None:
    raw = raw_machine_id().split(":", 1)[1]
    assert raw not in machine_fingerprint()


def test_linux_machine_id_file(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    missing, empty, present = tmp_path / "missing", tmp_path / "empty", tmp_path / "present"
    empty.write_text("\n")
    present.write_text("0123456789abcdef0123456789abcdef\n")
    monkeypatch.setattr(fingerprint, "LINUX_MACHINE_ID_PATHS", (missing, empty, present))
    monkeypatch.setattr(fingerprint, "current_platform", lambda: "linux")
    assert raw_machine_id() == "linux:0123456789abcdef0123456789abcdef"
    first = machine_fingerprint()
    present.write_text("fedcba9876543210fedcba9876543210\n")
    raw_machine_id.cache_clear()
    assert machine_fingerprint() != first


def test_fallback_without_machine_id(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "LINUX_MACHINE_ID_PATHS", (tmp_path / "missing",))
    monkeypatch.setattr(fingerprint, "current_platform", lambda: "linux")
    monkeypatch.setattr(socket, "gethostname", lambda: "build-host")
    monkeypatch.setattr(uuid, "getnode", lambda: 0x0242AC110002)
    assert raw_machine_id() == "host:build-host/0242ac110002"
    assert HEX64.fullmatch(machine_fingerprint())


def test_fallback_ignores_a_random_node(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "LINUX_MACHINE_ID_PATHS", (tmp_path / "missing",))
    monkeypatch.setattr(fingerprint, "current_platform", lambda: "linux")
    monkeypatch.setattr(socket, "gethostname", lambda: "build-host")
    monkeypatch.setattr(uuid, "getnode", lambda: 0x010000000001 | 0x3456)
    assert raw_machine_id() == "host:build-host/"


def test_macos_ioreg_output() -> None:
    output = """
+-o J316sAP  <class IOPlatformExpertDevice, id 0x100000224, registered, matched>
    {
      "IOPlatformSerialNumber" = "C02XXXXXXX"
      "IOPlatformUUID" = "1a2b3c4d-0000-1111-2222-333344445555"
    }
"""
    assert parse_ioreg_output(output) == "1A2B3C4D-0000-1111-2222-333344445555"
    assert parse_ioreg_output("no such line") is None


def test_macos_without_ioreg_falls_back(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "current_platform", lambda: "darwin")
    monkeypatch.setattr(fingerprint, "IOREG", "/nonexistent/ioreg")
    assert raw_machine_id().startswith("host:")


def test_windows_source_is_skipped_elsewhere(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(fingerprint, "current_platform", lambda: "win32")
    # On a real Windows machine the registry answers; elsewhere there is no winreg.
    assert raw_machine_id().split(":", 1)[0] in {"windows", "host"}
