"""``shipkey license …``: issue a license by hand, look one up, verify a license file offline."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from shipkey.cli.common import database, fail, group, settings
from shipkey.cli.keys import key_store
from shipkey.terminal import out

if TYPE_CHECKING:
    from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PublicKey

    from shipkey.licensing.license_file import LicenseFilePayload

license_app = group(
    help="Licenses: issue one by hand, look one up, verify a license file offline.",
    no_args_is_help=True,
)


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
    from shipkey.licensing.issuing import issue_manual
    from shipkey.licensing.license_file import format_time

    config = settings()
    try:
        address = TypeAdapter(EmailStr).validate_python(email)
    except ValidationError as exc:
        raise fail(f"Not an e-mail address: {email}") from exc
    db = database(config)
    try:
        with db.session() as session:
            lic = issue_manual(
                session,
                product,
                str(address),
                config.license_key_secret,
                name=name,
                max_activations=max_activations,
                days=days,
            )
    except ShipkeyError as exc:
        raise fail(exc.message) from exc
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
    from shipkey.clock import utcnow
    from shipkey.errors import ShipkeyError
    from shipkey.licensing.license_file import format_time
    from shipkey.licensing.lookups import list_activations, lookup

    config = settings()
    db = database(config, audited=False)
    try:
        with db.read_session() as session:
            lic = lookup(session, key)
            machines = list_activations(session, lic.id)
    except ShipkeyError as exc:
        raise fail(exc.message) from exc
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
    from shipkey.licensing.license_file import LicenseFileError, verify_license_file

    text = _read_text(file)
    trusted = _trusted_keys(public_key or [])
    try:
        payload = verify_license_file(text, trusted)
    except LicenseFileError as exc:
        raise fail(f"Does not verify ({exc.code}): {exc}") from exc
    typer.echo(json.dumps(payload.to_json_dict(), indent=2))
    _report_validity(payload, machine_id)


def _read_text(file: Path) -> str:
    try:
        if str(file) == "-":
            return sys.stdin.read()
        return file.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise fail(f"Cannot read {file}: {exc}") from exc


def _trusted_keys(values: list[str]) -> dict[str, Ed25519PublicKey]:
    from shipkey.licensing.signing_keys import parse_trusted_key

    if values:
        try:
            return dict(parse_trusted_key(value) for value in values)
        except ValueError as exc:
            raise fail(str(exc)) from exc
    store = key_store(settings())
    if not store.has_keys():
        raise fail(f"No signing keys in {store.directory}; pass --public-key KID=BASE64.")
    return store.public_keys()


def _report_validity(payload: LicenseFilePayload, machine_id: str | None) -> None:
    from shipkey.clock import utcnow
    from shipkey.licensing.license_file import LicenseFileError, check_payload, format_time

    try:
        check_payload(payload, machine_id or payload.machine_id, utcnow())
    except LicenseFileError as exc:
        raise fail(f"Genuine, but not valid now ({exc.code}): {exc}") from exc
    out().print(
        f"[green]Verifies[/green]: genuine, valid until {format_time(payload.expires_at)}.",
        highlight=False,
    )
