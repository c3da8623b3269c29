import base64
import json
import textwrap
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from shipkey.catalog.models import Product
from shipkey.licensing.license_file import (
    LicenseFileError,
    LicenseFilePayload,
    check_payload,
    file_expiry,
    read_license_file,
    sign_license_file,
    verify_license_file,
)
from shipkey.licensing.models import License

KID = "20261128-0a1b2c3d"
ISSUED = datetime(2026, 11, 28, 10, 0, tzinfo=UTC)
BEGIN = "-----BEGIN SHIPKEY LICENSE FILE-----"
END = "-----END SHIPKEY LICENSE FILE-----"


def make_payload(**changes: Any) -> LicenseFilePayload:
    fields: dict[str, Any] = {
        "license_key": "EBO-ABCDE-FGHJK-LMNPQ-RSTUV-1A2B",
        "product": "e-book-pro",
        "machine_id": "machine-1",
        "features": ("export", "sync"),
        "license_expires_at": ISSUED + timedelta(days=365),
        "issued_at": ISSUED,
        "expires_at": ISSUED + timedelta(days=30),
    }
    fields.update(changes)
    return LicenseFilePayload(**fields)


def b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def armour(outer: dict[str, Any], width: int = 64) -> str:
    """Build the armoured text by hand, independently of the module under test."""
    body = b64(json.dumps(outer).encode())
    return "\n".join([BEGIN, *textwrap.wrap(body, width), END]) + "\n"


def signed_envelope(
    key: Ed25519PrivateKey, payload_json: bytes, kid: str = KID, alg: str = "base64+ed25519"
) -> dict[str, Any]:
    enc = b64(payload_json)
    sig = b64(key.sign(b"license/" + enc.encode("ascii")))
    return {"enc": enc, "sig": sig, "alg": alg, "kid": kid}


@pytest.fixture
def private_key() -> Ed25519PrivateKey:
    return Ed25519PrivateKey.generate()


# -- payload ---------------------------------------------------------------------------------


def test_payload_json_uses_contract_names_and_utc_times() -> None:
    payload = make_payload(
        issued_at=datetime(2026, 11, 28, 11, 0, 5, 123456, tzinfo=timezone(timedelta(hours=1)))
    )
    assert payload.to_json_dict() == {
        "licenseKey": "EBO-ABCDE-FGHJK-LMNPQ-RSTUV-1A2B",
        "product": "e-book-pro",
        "machineId": "machine-1",
        "features": ["export", "sync"],
        "licenseExpiresAt": "2027-11-28T10:00:00Z",
        "issuedAt": "2026-11-28T10:00:05Z",
        "expiresAt": "2026-12-28T10:00:00Z",
    }


def test_payload_json_round_trip() -> None:
    for payload in (make_payload(), make_payload(license_expires_at=None, features=())):
        assert LicenseFilePayload.from_json_dict(payload.to_json_dict()) == payload


def test_payload_requires_aware_times() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        make_payload(issued_at=datetime(2026, 1, 1))  # noqa: DTZ001


@pytest.mark.parametrize(
    "changes",
    [
        {"licenseKey": None},
        {"product": 5},
        {"machineId": ["m"]},
        {"features": "export"},
        {"features": [1, 2]},
        {"features": None},
        {"licenseExpiresAt": 0},
        {"issuedAt": "yesterday"},
        {"issuedAt": "2026-11-28T10:00:00"},
        {"expiresAt": None},
        {"expiresAt": "0001-01-01T00:00:00+01:00"},
    ],
)
def test_payload_from_bad_json_raises_license_file_error(changes: dict[str, Any]) -> None:
    data = make_payload().to_json_dict() | changes
    with pytest.raises(LicenseFileError):
        LicenseFilePayload.from_json_dict(data)


# -- signing and verifying --------------------------------------------------------------------


def test_round_trip(private_key: Ed25519PrivateKey) -> None:
    payload = make_payload()
    text = sign_license_file(payload, private_key, KID)
    assert verify_license_file(text, {KID: private_key.public_key()}) == payload


def test_round_trip_without_license_expiry_and_with_unicode(
    private_key: Ed25519PrivateKey,
) -> None:
    payload = make_payload(license_expires_at=None, product="Bücher-Paket ✓", features=())
    text = sign_license_file(payload, private_key, KID)
    assert verify_license_file(text, {KID: private_key.public_key()}) == payload


def test_file_format_matches_contract(private_key: Ed25519PrivateKey) -> None:
    payload = make_payload()
    text = sign_license_file(payload, private_key, KID)
    lines = text.rstrip("\n").split("\n")
    assert lines[0] == BEGIN
    assert lines[-1] == END
    body_lines = lines[1:-1]
    assert all(len(line) == 64 for line in body_lines[:-1])
    assert 0 < len(body_lines[-1]) <= 64

    outer = json.loads(base64.b64decode("".join(body_lines), validate=True))
    assert set(outer) == {"enc", "sig", "alg", "kid"}
    assert outer["alg"] == "base64+ed25519"
    assert outer["kid"] == KID
    # The signature covers the ASCII bytes "license/" + enc; verify with cryptography directly.
    private_key.public_key().verify(
        base64.b64decode(outer["sig"]), b"license/" + outer["enc"].encode("ascii")
    )
    decoded = json.loads(base64.b64decode(outer["enc"]).decode("utf-8"))
    assert decoded == payload.to_json_dict()
    assert list(decoded) == [
        "licenseKey",
        "product",
        "machineId",
        "features",
        "licenseExpiresAt",
        "issuedAt",
        "expiresAt",
    ]


def test_reads_a_file_built_by_another_implementation(private_key: Ed25519PrivateKey) -> None:
    payload = make_payload()
    payload_json = json.dumps(payload.to_json_dict(), indent=2).encode()
    text = armour(signed_envelope(private_key, payload_json), width=76)
    assert verify_license_file(text, {KID: private_key.public_key()}) == payload
    crlf = text.replace("\n", "\r\n")
    assert verify_license_file(f"  \r\n{crlf}\n\n", {KID: private_key.public_key()}) == payload


def test_read_license_file_returns_envelope(private_key: Ed25519PrivateKey) -> None:
    text = sign_license_file(make_payload(), private_key, KID)
    envelope = read_license_file(text)
    assert envelope.alg == "base64+ed25519"
    assert envelope.kid == KID
    assert envelope.signed_message() == b"license/" + envelope.enc.encode()
    private_key.public_key().verify(base64.b64decode(envelope.sig), envelope.signed_message())


def test_wrong_kid_is_refused(private_key: Ed25519PrivateKey) -> None:
    text = sign_license_file(make_payload(), private_key, KID)
    with pytest.raises(LicenseFileError, match="unknown signing key") as info:
        verify_license_file(text, {"20261128-ffffffff": private_key.public_key()})
    assert info.value.code == "UNKNOWN_KEY"
    with pytest.raises(LicenseFileError):
        verify_license_file(text, {})


def test_other_key_under_same_kid_is_refused(private_key: Ed25519PrivateKey) -> None:
    text = sign_license_file(make_payload(), private_key, KID)
    other = Ed25519PrivateKey.generate().public_key()
    with pytest.raises(LicenseFileError, match="signature") as info:
        verify_license_file(text, {KID: other})
    assert info.value.code == "BAD_SIGNATURE"


def test_kid_swapped_to_another_known_key_is_refused(private_key: Ed25519PrivateKey) -> None:
    other = Ed25519PrivateKey.generate()
    envelope = signed_envelope(private_key, json.dumps(make_payload().to_json_dict()).encode())
    envelope["kid"] = "20261128-ffffffff"
    keys = {KID: private_key.public_key(), "20261128-ffffffff": other.public_key()}
    with pytest.raises(LicenseFileError) as info:
        verify_license_file(armour(envelope), keys)
    assert info.value.code == "BAD_SIGNATURE"


def test_unsupported_algorithm_is_refused(private_key: Ed25519PrivateKey) -> None:
    payload_json = json.dumps(make_payload().to_json_dict()).encode()
    text = armour(signed_envelope(private_key, payload_json, alg="none"))
    with pytest.raises(LicenseFileError) as info:
        verify_license_file(text, {KID: private_key.public_key()})
    assert info.value.code == "UNSUPPORTED_ALGORITHM"


@pytest.mark.parametrize(
    "field_changes",
    [
        {"machineId": "machine-2"},
        {"expiresAt": "2099-01-01T00:00:00Z"},
        {"licenseExpiresAt": None},
        {"features": ["export", "sync", "everything"]},
    ],
)
def test_edited_payload_is_refused(
    private_key: Ed25519PrivateKey, field_changes: dict[str, Any]
) -> None:
    text = sign_license_file(make_payload(), private_key, KID)
    envelope = read_license_file(text).to_json_dict()
    payload = json.loads(base64.b64decode(envelope["enc"])) | field_changes
    envelope["enc"] = b64(json.dumps(payload).encode())
    with pytest.raises(LicenseFileError) as info:
        verify_license_file(armour(envelope), {KID: private_key.public_key()})
    assert info.value.code == "BAD_SIGNATURE"


def test_signed_but_malformed_payload_is_refused(private_key: Ed25519PrivateKey) -> None:
    keys = {KID: private_key.public_key()}
    for payload_json in (b"[1]", b"{}", b"\xff\xfe", b'{"licenseKey": 1}', b"not json"):
        text = armour(signed_envelope(private_key, payload_json))
        with pytest.raises(LicenseFileError) as info:
            verify_license_file(text, keys)
        assert info.value.code == "MALFORMED"


def _malformed_texts(good: str) -> list[str]:
    body = "".join(good.strip().split("\n")[1:-1])
    outer = json.loads(base64.b64decode(body))
    return [
        "",
        "   ",
        "garbage",
        BEGIN,
        f"{BEGIN}\n{END}",
        f"{BEGIN}\n\n{END}",
        good.replace(END, ""),
        good.replace(BEGIN, ""),
        good.replace(BEGIN, BEGIN.lower()),
        good.replace(END, "-----END PGP SIGNATURE-----"),
        f"Here is your license:\n{good}",
        f"{good}\nThanks!",
        good.replace("\n", " "),
        good.replace("\n", "\n\n"),
        good.replace("\n", "\r"),
        good[: len(good) // 2] + END,
        f"{BEGIN}\n!!!!\n{END}",
        f"{BEGIN}\nQQ\n{END}",  # missing padding
        f"{BEGIN}\nQR==\n{END}",  # non-canonical base64
        f"{BEGIN}\n{b64(b'not json')}\n{END}",
        f"{BEGIN}\n{b64(bytes([0xFF, 0xFE, 0xFD]))}\n{END}",
        f"{BEGIN}\n{b64(b'[1, 2, 3]')}\n{END}",
        f"{BEGIN}\n{b64(b'null')}\n{END}",
        f"{BEGIN}\n{b64(b'[' * 100_000)}\n{END}",
        armour({k: v for k, v in outer.items() if k != "sig"}),
        armour({k: v for k, v in outer.items() if k != "enc"}),
        armour({k: v for k, v in outer.items() if k != "kid"}),
        armour(outer | {"sig": None}),
        armour(outer | {"enc": 12}),
        armour(outer | {"kid": ["x"]}),
        armour(outer | {"alg": True}),
        armour(outer | {"enc": "ä" + outer["enc"]}),
        armour(outer | {"enc": outer["enc"] + "!"}),
        armour(outer | {"sig": outer["sig"] + "AAAA"}),
        armour(outer | {"sig": outer["sig"][:-3] + "B=="}),  # non-canonical signature
        armour(outer | {"sig": ""}),
        good + "A" * 70_000,
        "\x00" * 1000,
        "🔏" * 1000,
    ]


def test_malformed_files_raise_license_file_error_only(private_key: Ed25519PrivateKey) -> None:
    good = sign_license_file(make_payload(), private_key, KID)
    keys = {KID: private_key.public_key()}
    for text in _malformed_texts(good):
        with pytest.raises(LicenseFileError):
            verify_license_file(text, keys)


@pytest.mark.parametrize("value", [None, 1, b"bytes"])
def test_non_text_raises_license_file_error(value: object) -> None:
    with pytest.raises(LicenseFileError):
        read_license_file(value)  # type: ignore[arg-type]


def _replacements(original: str) -> set[str]:
    flipped = chr(ord(original) ^ 0x01)
    candidates = {flipped, "A", "B", "z", "+", "/", "=", "-", "\n", " ", "\r", "\x00", "é"}
    candidates.discard(original)
    return candidates


def test_any_single_character_change_is_refused(private_key: Ed25519PrivateKey) -> None:
    payload = make_payload()
    text = sign_license_file(payload, private_key, KID)
    keys = {KID: private_key.public_key()}
    assert verify_license_file(text, keys) == payload
    checked = 0
    for position, original in enumerate(text):
        for replacement in _replacements(original):
            tampered = text[:position] + replacement + text[position + 1 :]
            if tampered.strip() == text.strip():
                continue  # only the whitespace around the armour changed: the same file
            try:
                result = verify_license_file(tampered, keys)
            except LicenseFileError:
                checked += 1
                continue
            pytest.fail(f"changed file verified at {position}: {result == payload=}")
    assert checked > 10 * len(text)


def test_any_single_byte_change_of_decoded_body_is_refused(
    private_key: Ed25519PrivateKey,
) -> None:
    """Change each byte of the outer JSON itself (not only its base64) and re-armour."""
    payload = make_payload()
    text = sign_license_file(payload, private_key, KID)
    keys = {KID: private_key.public_key()}
    body = base64.b64decode("".join(text.strip().split("\n")[1:-1]))
    for position in range(len(body)):
        for mask in (0x01, 0x20, 0x80):
            changed = bytearray(body)
            changed[position] ^= mask
            tampered = "\n".join([BEGIN, *textwrap.wrap(b64(bytes(changed)), 64), END])
            with pytest.raises(LicenseFileError):
                verify_license_file(tampered, keys)


# -- check_payload ---------------------------------------------------------------------------


def test_check_payload_accepts_valid() -> None:
    payload = make_payload()
    check_payload(payload, "machine-1", ISSUED + timedelta(days=1))
    check_payload(make_payload(license_expires_at=None), "machine-1", ISSUED)


def test_check_payload_refuses_other_machine() -> None:
    with pytest.raises(LicenseFileError, match="another machine") as info:
        check_payload(make_payload(), "machine-2", ISSUED)
    assert info.value.code == "WRONG_MACHINE"


def test_check_payload_refuses_expired_file() -> None:
    payload = make_payload()
    check_payload(payload, "machine-1", payload.expires_at - timedelta(seconds=1))
    with pytest.raises(LicenseFileError, match="expired") as info:
        check_payload(payload, "machine-1", payload.expires_at)
    assert info.value.code == "FILE_EXPIRED"


def test_check_payload_refuses_expired_license() -> None:
    payload = make_payload(license_expires_at=ISSUED + timedelta(days=1))
    with pytest.raises(LicenseFileError) as info:
        check_payload(payload, "machine-1", ISSUED + timedelta(days=2))
    assert info.value.code == "LICENSE_EXPIRED"


def test_check_payload_requires_aware_now() -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        check_payload(make_payload(), "machine-1", datetime(2026, 11, 28))  # noqa: DTZ001


def test_file_expiry_is_the_products_days_or_the_license_end() -> None:
    lic = License(expires_at=None, product=Product(license_file_days=7))
    assert file_expiry(lic, ISSUED) == ISSUED + timedelta(days=7)
    lic.product.license_file_days = 30
    lic.expires_at = ISSUED + timedelta(days=400)
    assert file_expiry(lic, ISSUED) == ISSUED + timedelta(days=30)
    lic.expires_at = ISSUED + timedelta(days=3)
    assert file_expiry(lic, ISSUED) == ISSUED + timedelta(days=3)
