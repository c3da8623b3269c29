"""``shipkey releases …``: publish a version of a product and its files over the admin API."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from shipkey.cli.common import AdminToken, AdminUrl, admin_upload, group
from shipkey.terminal import err, out

if TYPE_CHECKING:
    import httpx

releases_app = group(help="Releases: versions of a product and their files.", no_args_is_help=True)

CHUNK = 1024 * 1024


def _chunks(path: Path, advance: Callable[[int], None]) -> Iterator[bytes]:
    with path.open("rb") as file:
        while chunk := file.read(CHUNK):
            advance(len(chunk))
            yield chunk


def _release(http: httpx.Client, product: str, version: str, channel: str, notes: str) -> Any:
    """The release, published now, or the one already there (a second run adds missing files)."""
    made = http.post(
        f"/api/admin/products/{product}/releases",
        json={"version": version, "channel": channel, "notes": notes},
    )
    if made.status_code == 409 and made.json().get("code") == "RELEASE_EXISTS":
        listed = http.get(f"/api/admin/products/{product}/releases")
        listed.raise_for_status()
        from packaging.version import Version

        wanted = Version(version)
        for release in listed.json():
            if Version(release["normalized"]) == wanted:
                return release
    if made.status_code != 201:
        raise RuntimeError(made.json().get("error", made.text))
    return made.json()


@releases_app.command("publish")
def publish(
    product: Annotated[str, typer.Argument(help="Product id or slug.")],
    version: Annotated[str, typer.Argument(help="PEP 440 or semantic version, e.g. 1.2.0.")],
    files: Annotated[
        list[Path], typer.Argument(exists=True, dir_okay=False, readable=True, help="Files.")
    ],
    channel: Annotated[str, typer.Option(help="stable, beta or alpha.")] = "stable",
    platform: Annotated[str, typer.Option(help="Platform of the files (any: all).")] = "any",
    arch: Annotated[str, typer.Option(help="Architecture of the files (any: all).")] = "any",
    notes: Annotated[str, typer.Option(help="Release notes.")] = "",
    url: AdminUrl = None,
    token: AdminToken = None,
) -> None:
    """Publish VERSION of PRODUCT with its files (streamed, with a progress bar), each signed
    by the server with the license-file signing key."""
    import httpx

    with admin_upload(url, token) as (http, bar):
        try:
            release = _release(http, product, version, channel, notes)
        except (RuntimeError, httpx.HTTPError) as exc:
            err().print(f"[red]Cannot publish {version}: {exc}[/red]")
            raise typer.Exit(1) from exc
        present = {a["fileName"] for a in release["artifacts"]}
        for path in files:
            if path.name in present:
                out().print(f"{path.name} is already part of {version}")
                continue
            task = bar.add_task(path.name, total=path.stat().st_size)
            try:
                answer = http.put(
                    f"/api/admin/releases/{release['id']}/artifacts",
                    params={"filename": path.name, "platform": platform, "arch": arch},
                    content=_chunks(path, partial(bar.advance, task)),
                    headers={
                        "Content-Type": "application/octet-stream",
                        "Content-Length": str(path.stat().st_size),
                    },
                )
            except httpx.HTTPError as exc:
                err().print(f"[red]Upload of {path.name} failed: {exc}[/red]")
                raise typer.Exit(1) from exc
            if answer.status_code != 200:
                err().print(f"[red]{path.name}: {answer.json().get('error', answer.text)}[/red]")
                raise typer.Exit(1)
            artifact = answer.json()
            out().print(
                f"{artifact['fileName']} ({artifact['size']} bytes) SHA-256 {artifact['sha256']} "
                f"signed by {artifact['kid']}"
            )
    out().print(f"Published {product} {version} ({release['channel']})")
