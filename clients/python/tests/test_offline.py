import base64
import json
import time
from datetime import datetime, timedelta
from pathlib import Path

import pytest

from shipkey_client import (
    BadSignatureError,
    ClockTamperedError,
    FileExpiredError,
    LicenseClient,
    LicenseExpiredError,
    LicenseFileError,
    LicenseFilePayload,
    LicenseVerifier,
    MalformedLicenseFileError,
    NoLicenseFileError,
    UnknownKeyError,
    WrongMachineError,
)
from tests.helpers import KEY, MACHINE, NOW, Clock, Signer, armour, b64, iso, payload_dict


@pytest.fixture
def signer() -> Signer:
    return Signer()


@pytest.fixture
def clock() -> Clock:
    return Clock(NOW + timedelta(hours=1))


def make_client(
    signer: Signer, clock: Clock, cache_dir: Path | None = None, **kwargs: object
) -> LicenseClient:
    return LicenseClient(
        "https://shop.example",
        public_keys=signer.public_keys(),
        cache_dir=cache_dir,
        clock=clock,
        machine_id=MACHINE,
        **kwargs,  # type: ignore[arg-type]
    )


def test_valid_file_gives_its_payload(signer: Signer, clock: Clock) -> None:
    client = make_client(signer, clock)
    payload = client.verify_offline(signer.sign(payload_dict()))
    assert payload == LicenseFilePayload(
        license_key=KEY,
        product="e-book-pro",
        machine_id=MACHINE,
        features=("export", "sync"),
        license_expires_at=NOW + timedelta(days=365),
        issued_at=NOW,
        expires_at=NOW + timedelta(days=30),
    )
    assert payload.has_feature("export")
    assert not payload.has_feature("admin")
    assert payload.expires_at.tzinfo is not None


def test_perpetual_license(signer: Signer, clock: Clock) -> None:
    client = make_client(signer, clock)
    payload = client.verify_offline(signer.sign(payload_dict(licenseExpiresAt=None)))
    assert payload.license_expires_at is None


def test_times_with_offsets_are_read_as_utc(signer: Signer, clock: Clock) -> None:
    text = signer.sign(payload_dict(issuedAt="2026-11-28T11:00:00+01:00"))
    assert make_client(signer, clock).verify_offline(text).issued_at == NOW


def test_explicit_machine_id(signer: Signer, clock: Clock) -> None:
    client = make_client(signer, clock)
    text = signer.sign(payload_dict(machineId="other"))
    assert client.verify_offline(text, machine_id="other").machine_id == "other"


def test_no_license_file(signer: Signer, clock: Clock, tmp_path: Path) -> None:
    for client in (make_client(signer, clock), make_client(signer, clock, tmp_path)):
        with pytest.raises(NoLicenseFileError) as info:
            client.verify_offline()
        assert info.value.code == "NO_LICENSE_FILE"


@pytest.mark.parametrize(
    "text",
    [
        "",
        "not a license",
        "-----BEGIN SHIPKEY LICENSE FILE-----\n-----END SHIPKEY LICENSE FILE-----",
        "-----BEGIN SHIPKEY LICENSE FILE-----\n%%%%\n-----END SHIPKEY LICENSE FILE-----",
        f"-----BEGIN SHIPKEY LICENSE FILE-----\n{b64(b'[]')}\n-----END SHIPKEY LICENSE FILE-----",
        armour({"enc": "", "sig": "", "alg": "base64+ed25519"}),
        armour({"enc": 1, "sig": "", "alg": "base64+ed25519", "kid": "k"}),
        "x" * 1_000_000,
    ],
)
def test_malformed(signer: Signer, clock: Clock, text: str) -> None:
    with pytest.raises(MalformedLicenseFileError) as info:
        make_client(signer, clock).verify_offline(text)
    assert info.value.code == "MALFORMED"


def test_unsupported_algorithm(signer: Signer, clock: Clock) -> None:
    envelope = signer.envelope(payload_dict()) | {"alg": "none"}
    with pytest.raises(MalformedLicenseFileError, match="algorithm"):
        make_client(signer, clock).verify_offline(armour(envelope))


@pytest.mark.parametrize(
    "payload",
    [b"[]", b"not json", b"\xff", json.dumps(payload_dict(features="all")).encode()],
)
def test_signed_but_malformed_payload(signer: Signer, clock: Clock, payload: bytes) -> None:
    with pytest.raises(MalformedLicenseFileError):
        make_client(signer, clock).verify_offline(signer.sign(payload))


def test_unknown_key(signer: Signer, clock: Clock) -> None:
    other = Signer(kid="20261128-ffffffff")
    with pytest.raises(UnknownKeyError) as info:
        make_client(signer, clock).verify_offline(other.sign(payload_dict()))
    assert info.value.code == "UNKNOWN_KEY"


def test_bad_signature_from_another_key_with_the_same_kid(signer: Signer, clock: Clock) -> None:
    impostor = Signer(kid=signer.kid)
    with pytest.raises(BadSignatureError) as info:
        make_client(signer, clock).verify_offline(impostor.sign(payload_dict()))
    assert info.value.code == "BAD_SIGNATURE"


def test_bad_signature_after_editing_the_payload(signer: Signer, clock: Clock) -> None:
    envelope = signer.envelope(payload_dict(expiresAt=iso(NOW)))
    envelope["enc"] = b64(json.dumps(payload_dict(expiresAt="2099-01-01T00:00:00Z")).encode())
    with pytest.raises(BadSignatureError):
        make_client(signer, clock).verify_offline(armour(envelope))


def test_wrong_machine(signer: Signer, clock: Clock) -> None:
    with pytest.raises(WrongMachineError) as info:
        make_client(signer, clock).verify_offline(signer.sign(payload_dict(machineId="m-2")))
    assert info.value.code == "WRONG_MACHINE"
    assert info.value.payload is not None
    assert info.value.payload.machine_id == "m-2"


def test_file_expired(signer: Signer, clock: Clock) -> None:
    text = signer.sign(payload_dict())
    client = make_client(signer, clock)
    clock.moment = NOW + timedelta(days=30) - timedelta(seconds=1)
    client.verify_offline(text)
    clock.moment = NOW + timedelta(days=30)
    with pytest.raises(FileExpiredError) as info:
        client.verify_offline(text)
    assert info.value.code == "FILE_EXPIRED"
    assert info.value.payload is not None
    assert info.value.payload.license_key == KEY


def test_license_expired(signer: Signer, clock: Clock) -> None:
    text = signer.sign(payload_dict(licenseExpiresAt=iso(NOW + timedelta(days=2))))
    clock.moment = NOW + timedelta(days=3)
    with pytest.raises(LicenseExpiredError) as info:
        make_client(signer, clock).verify_offline(text)
    assert info.value.code == "LICENSE_EXPIRED"


def test_clock_behind_issue_time(signer: Signer, clock: Clock) -> None:
    text = signer.sign(payload_dict())
    client = make_client(signer, clock)
    clock.moment = NOW - timedelta(minutes=4)  # within the allowed skew
    client.verify_offline(text)
    clock.moment = NOW - timedelta(minutes=6)
    with pytest.raises(ClockTamperedError) as info:
        client.verify_offline(text)
    assert info.value.code == "CLOCK_TAMPERED"


def test_clock_turned_back_since_last_check(signer: Signer, clock: Clock) -> None:
    text = signer.sign(payload_dict())
    client = make_client(signer, clock)
    clock.moment = NOW + timedelta(days=10)
    client.verify_offline(text)
    clock.moment = NOW + timedelta(days=10) - timedelta(minutes=4)
    client.verify_offline(text)
    clock.moment = NOW + timedelta(days=2)
    with pytest.raises(ClockTamperedError, match="turned back"):
        client.verify_offline(text)


def test_clock_turned_back_is_remembered_across_runs(
    signer: Signer, clock: Clock, tmp_path: Path
) -> None:
    text = signer.sign(payload_dict())
    clock.moment = NOW + timedelta(days=20)
    make_client(signer, clock, tmp_path).verify_offline(text)
    assert (tmp_path / "last-seen").exists()
    clock.moment = NOW + timedelta(days=1)
    with pytest.raises(ClockTamperedError):
        make_client(signer, clock, tmp_path).verify_offline(text)


def test_last_seen_is_written_sparingly_but_still_detects(
    signer: Signer, clock: Clock, tmp_path: Path
) -> None:
    text = signer.sign(payload_dict())
    client = make_client(signer, clock, tmp_path)
    client.verify_offline(text)
    first = (tmp_path / "last-seen").read_text()
    for _ in range(10):
        clock.advance(timedelta(seconds=1))
        client.verify_offline(text)
    assert (tmp_path / "last-seen").read_text() == first
    clock.advance(timedelta(hours=1))
    client.verify_offline(text)
    assert (tmp_path / "last-seen").read_text() != first
    clock.advance(-timedelta(minutes=10))
    with pytest.raises(ClockTamperedError):
        make_client(signer, clock, tmp_path).verify_offline(text)


def test_corrupt_last_seen_is_ignored(signer: Signer, clock: Clock, tmp_path: Path) -> None:
    (tmp_path / "last-seen").write_text("garbage")
    make_client(signer, clock, tmp_path).verify_offline(signer.sign(payload_dict()))
    assert datetime.fromisoformat((tmp_path / "last-seen").read_text().strip()) == clock()


def test_failed_checks_do_not_move_last_seen(signer: Signer, clock: Clock) -> None:
    client = make_client(signer, clock)
    good = signer.sign(payload_dict())
    client.verify_offline(good)
    clock.moment = NOW + timedelta(days=40)
    with pytest.raises(FileExpiredError):
        client.verify_offline(good)
    clock.moment = NOW + timedelta(days=1)
    client.verify_offline(good)


def test_naive_clock_is_refused(signer: Signer) -> None:
    client = make_client(signer, Clock(datetime(2026, 11, 28, 12)))  # noqa: DTZ001
    with pytest.raises(ValueError, match="timezone-aware"):
        client.verify_offline(signer.sign(payload_dict()))


def test_bad_pinned_key_is_refused() -> None:
    with pytest.raises(ValueError, match="32 bytes"):
        LicenseClient("https://shop.example", public_keys={"k": b64(b"short")})
    with pytest.raises(ValueError, match="base64"):
        LicenseClient("https://shop.example", public_keys={"k": "not base64!"})


def _replacements(original: str) -> set[str]:
    return {chr(ord(original) ^ 0x01), "A", "b", "/", "=", "-", "\n", " ", "\r", "é"} - {original}


def test_any_single_character_change_fails(signer: Signer, clock: Clock) -> None:
    client = make_client(signer, clock)
    text = signer.sign(payload_dict())
    client.verify_offline(text)  # the good text is now in the verifier's cache
    failures = 0
    for position, original in enumerate(text):
        for replacement in _replacements(original):
            tampered = text[:position] + replacement + text[position + 1 :]
            if tampered.strip() == text.strip():
                continue  # only whitespace around the armour changed
            with pytest.raises(LicenseFileError):
                client.verify_offline(tampered)
            failures += 1
    assert failures > 8 * len(text)


def test_any_bit_flip_in_the_decoded_body_fails(signer: Signer, clock: Clock) -> None:
    client = make_client(signer, clock)
    text = signer.sign(payload_dict())
    body = base64.b64decode("".join(text.split("\n")[1:-2]))
    assert json.loads(body)["kid"] == signer.kid
    for position in range(len(body)):
        for mask in (0x01, 0x04, 0x20, 0x80):
            changed = bytearray(body)
            changed[position] ^= mask
            outer = base64.b64encode(bytes(changed)).decode()
            lines = [outer[i : i + 64] for i in range(0, len(outer), 64)]
            tampered = "\n".join(
                [
                    "-----BEGIN SHIPKEY LICENSE FILE-----",
                    *lines,
                    "-----END SHIPKEY LICENSE FILE-----",
                ]
            )
            with pytest.raises(LicenseFileError):
                client.verify_offline(tampered)


def test_verifier_cache_is_bounded(signer: Signer) -> None:
    verifier = LicenseVerifier(signer.public_keys())
    texts = [signer.sign(payload_dict(product=f"p{i}")) for i in range(40)]
    for text in texts:
        verifier.verify(text)
    assert len(verifier._verified) == LicenseVerifier.CACHE_SIZE
    assert verifier.verify(texts[0]).product == "p0"


def test_verification_is_fast(signer: Signer, clock: Clock, tmp_path: Path) -> None:
    client = make_client(signer, clock, tmp_path)
    text = signer.sign(payload_dict())
    (tmp_path / "license.lic").write_text(text)
    client.verify_offline()
    count = 5_000
    started = time.perf_counter()
    for _ in range(count):
        client.verify_offline()
    rate = count / (time.perf_counter() - started)
    assert rate > 10_000, f"{rate:.0f} verifications/s"
