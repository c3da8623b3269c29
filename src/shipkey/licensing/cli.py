"""``shipkey keys …`` (license signing keys) and ``shipkey license …`` (issue, show, verify)."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer
from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

from shipkey.clock import utcnow
from shipkey.config import Settings
from shipkey.db.engine import Database
from shipkey.licensing.issuing import issue_manual
from shipkey.licensing.license_file import (
    LicenseFileError,
    LicenseFilePayload,
    check_payload,
    format_time,
    verify_license_file,
)
from shipkey.licensing.lookups import list_activations, lookup
from shipkey.licensing.signing_keys import (
    SigningKeyStore,
    parse_trusted_key,
    public_key_b64,
    signing_key_store,
)
from shipkey.terminal import err, out

keys_app = typer.Typer(help="Signing keys of license files (Ed25519).", no_args_is_help=True)
license_app = typer.Typer(
    help="Licenses: issue one by hand, look one up, verify a license file offline.",
    no_args_is_help=True,
)


def _settings() -> Settings:
    return Settings()


def _store(settings: Settings) -> SigningKeyStore:
    return signing_key_store(settings.resolved_data_dir)


def _fail(message: str) -> typer.Exit:
    err().print(f"[red]{message}[/red]", highlight=False)
    return typer.Exit(1)


# --- keys ---------------------------------------------------------------------------------


@keys_app.command("list")
def keys_list() -> None:
    """List the published public keys (license files signed by any of them verify)."""
    store = _store(_settings())
    if not store.has_keys():
        out().print("No signing keys yet: the first license file makes one (or run rotate).")
        return
    current = store.current().kid
    for key in store.published():
        marker = "current" if key.kid == current else "published"
        typer.echo(f"{key.kid}  {marker:<9}  {public_key_b64(key.public_key)}")


@keys_app.command("rotate")
def keys_rotate() -> None:
    """Make a new signing key current. Older keys stay published, so their files still verify."""
    key = _store(_settings()).rotate()
    out().print(f"New current signing key {key.kid}", highlight=False)
    typer.echo(f"{key.kid}  {public_key_b64(key.public_key)}")
    out().print("Ship the new public key with your software; older keys remain published.")


@keys_app.command("retire")
def keys_retire(kid: str) -> None:
    """Stop publishing an old key: license files it signed no longer verify."""
    try:
        _store(_settings()).retire(kid)
    except KeyError as exc:
        raise _fail(f"No published signing key {kid}.") from exc
    except ValueError as exc:
        raise _fail(str(exc)) from exc
    out().print(f"Retired {kid}.", highlight=False)


# --- licenses -----------------------------------------------------------------------------


@license_app.command("issue")
def license_issue(
    product: Annotated[str, typer.Option(help="Product id or slug (one sold with a license).")],
    email: Annotated[str, typer.Option(help="The licensee's e-mail address.")],
    name: Annotated[str | None, typer.Option(help="The licensee's name.")] = None,
    max_activations: Annotated[
        int | None, typer.Option(min=1, help="Seats (default: the product's).")
    ] = None,
    days: Annotated[
        int | None, typer.Option(min=1, help="Validity of SUBSCRIPTION/TRIAL licenses.")
    ] = None,
) -> None:
    """Issue a license without a sale (review copies, replacements, gifts)."""
    from pydantic import TypeAdapter, ValidationError
    from pydantic.networks import EmailStr

    from shipkey.errors import ShipkeyError

    settings = _settings()
    try:
        address = TypeAdapter(EmailStr).validate_python(email)
    except ValidationError as exc:
        raise _fail(f"Not an e-mail address: {email}") from exc
    db = Database(settings.resolved_database_url)
    try:
        with db.session() as session:
            lic = issue_manual(
                session,
                product,
                str(address),
                settings.license_key_secret,
                name=name,
                max_activations=max_activations,
                days=days,
            )
    except ShipkeyError as exc:
        raise _fail(exc.message) from exc
    finally:
        db.dispose()
    typer.echo(lic.key)
    expires = format_time(lic.expires_at) if lic.expires_at else "never"
    out().print(
        f"{lic.license_type.value} license {lic.id} for {address}: "
        f"{lic.max_activations} machines, expires {expires}",
        highlight=False,
    )


@license_app.command("show")
def license_show(key: str) -> None:
    """A license and the machines it is activated on."""
    from shipkey.errors import ShipkeyError

    settings = _settings()
    db = Database(settings.resolved_database_url)
    try:
        with db.read_session() as session:
            lic = lookup(session, key)
            machines = list_activations(session, lic.id)
    except ShipkeyError as exc:
        raise _fail(exc.message) from exc
    finally:
        db.dispose()
    now = utcnow()
    expires = format_time(lic.expires_at) if lic.expires_at else "never"
    typer.echo(f"{lic.key}  {lic.effective_status(now).value}  {lic.product.slug}")
    typer.echo(f"  seats {lic.activation_count}/{lic.max_activations}, expires {expires}")
    for machine in machines:
        state = "deactivated" if machine.deactivated_at else "active"
        label = f" ({machine.machine_name})" if machine.machine_name else ""
        typer.echo(f"  {state:<11} {machine.machine_id}{label}")


@license_app.command("verify")
def license_verify(
    file: Annotated[Path, typer.Argument(help="The license file ('-' reads standard input).")],
    public_key: Annotated[
        list[str] | None,
        typer.Option(
            "--public-key",
            help="KID=BASE64 of a trusted key (repeatable). Default: the keys in the data dir.",
        ),
    ] = None,
    machine_id: Annotated[
        str | None, typer.Option(help="Also check that the file is for this machine.")
    ] = None,
) -> None:
    """Verify a license file offline and print what it grants. Exit code 1 unless it is valid."""
    text = _read_text(file)
    trusted = _trusted_keys(public_key or [])
    try:
        payload = verify_license_file(text, trusted)
    except LicenseFileError as exc:
        raise _fail(f"Does not verify ({exc.code}): {exc}") from exc
    typer.echo(json.dumps(payload.to_json_dict(), indent=2))
    _report_validity(payload, machine_id)


def _read_text(file: Path) -> str:
    try:
        if str(file) == "-":
            return sys.stdin.read()
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise _fail(f"Cannot read {file}: {exc}") from exc


def _trusted_keys(values: list[str]) -> dict[str, Ed25519PublicKey]:
    if values:
        try:
            return dict(parse_trusted_key(value) for value in values)
        except ValueError as exc:
            raise _fail(str(exc)) from exc
    store = _store(_settings())
    if not store.has_keys():
        raise _fail(f"No signing keys in {store.directory}; pass --public-key KID=BASE64.")
    return store.public_keys()


def _report_validity(payload: LicenseFilePayload, machine_id: str | None) -> None:
    try:
        check_payload(payload, machine_id or payload.machine_id, utcnow())
    except LicenseFileError as exc:
        raise _fail(f"Genuine, but not valid now ({exc.code}): {exc}") from exc
    out().print(
        f"[green]Verifies[/green]: genuine, valid until {format_time(payload.expires_at)}.",
        highlight=False,
    )
