"""``shipkey keys …``: the Ed25519 keys that sign license files."""

from __future__ import annotations

from typing import TYPE_CHECKING

import typer

from shipkey.cli.common import fail, group, settings
from shipkey.terminal import out

if TYPE_CHECKING:
    from shipkey.config import Settings
    from shipkey.licensing.signing_keys import SigningKeyStore

keys_app = group(help="Signing keys of license files (Ed25519).", no_args_is_help=True)


def key_store(config: Settings) -> SigningKeyStore:
    from shipkey.licensing.signing_keys import signing_key_store

    return signing_key_store(config.resolved_data_dir)


@keys_app.command("list")
def keys_list() -> None:
    """List the published public keys (license files signed by any of them verify)."""
    from shipkey.licensing.signing_keys import public_key_b64

    store = key_store(settings())
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
    from shipkey.licensing.signing_keys import public_key_b64

    key = key_store(settings()).rotate()
    out().print(f"New current signing key {key.kid}", highlight=False)
    typer.echo(f"{key.kid}  {public_key_b64(key.public_key)}")
    out().print("Ship the new public key with your software; older keys remain published.")


@keys_app.command("retire")
def keys_retire(kid: str) -> None:
    """Stop publishing an old key: license files it signed no longer verify."""
    try:
        key_store(settings()).retire(kid)
    except KeyError as exc:
        raise fail(f"No published signing key {kid}.") from exc
    except ValueError as exc:
        raise fail(str(exc)) from exc
    out().print(f"Retired {kid}.", highlight=False)
