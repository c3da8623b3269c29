"""A package index for Python software sold here: PEP 503 (HTML) and PEP 691 (JSON).

``pip install --index-url http://license:KEY@HOST/pypi/PRODUCT/simple/ NAME`` finds the wheels
and source archives of the releases that license may download, on every channel (pip itself
passes pre-releases over unless asked with ``--pre``). Every link carries ``#sha256=``; a
yanked release's files are listed with ``data-yanked`` (PEP 592), so pip says why it passed
them over, and are not served at all (410), not even to an exact pin.
"""

from __future__ import annotations

import base64
import binascii
import html
import re
from dataclasses import dataclass
from urllib.parse import quote

from sqlalchemy.orm import Session

from shipkey.errors import ShipkeyError, Unauthorized
from shipkey.releases import service
from shipkey.releases.models import Artifact, Channel, Release
from shipkey.releases.versions import Holder

JSON_TYPE = "application/vnd.pypi.simple.v1+json"
HTML_TYPE = "application/vnd.pypi.simple.v1+html"
USER = "license"


def project_name(file_name: str) -> str | None:
    """The normalised project a wheel or source archive is of (None: not a Python package)."""
    if file_name.endswith(".whl"):
        name = file_name.split("-", 1)[0]
    elif file_name.endswith((".tar.gz", ".zip")):
        stem = file_name.removesuffix(".tar.gz").removesuffix(".zip")
        name, sep, _version = stem.rpartition("-")
        if not sep:
            return None
    else:
        return None
    return normalize_name(name) if name else None


def normalize_name(name: str) -> str:
    """PEP 503's normal form of a project name."""
    return re.sub(r"[-_.]+", "-", name).lower()


def key_from_basic(authorization: str | None, realm: str) -> str:
    """The license key from ``Authorization: Basic`` (user ``license``), or 401 with a
    ``WWW-Authenticate`` challenge."""
    scheme, _, encoded = (authorization or "").partition(" ")
    if scheme.lower() == "basic":
        try:
            user, sep, password = (
                base64.b64decode(encoded.strip(), validate=True).decode("utf-8").partition(":")
            )
        except (binascii.Error, UnicodeDecodeError):
            user, sep, password = "", "", ""
        if sep and user == USER and password:
            return password
    raise challenge(realm, "Sign in with user 'license' and your license key as the password.")


def challenge(realm: str, message: str, code: str = "UNAUTHORIZED") -> Unauthorized:
    return Unauthorized(message, code, headers={"WWW-Authenticate": f'Basic realm="{realm}"'})


def as_challenge(error: ShipkeyError, realm: str) -> Unauthorized:
    """A refused key as 401 with the challenge, the validation code kept (pip shows 401)."""
    return challenge(realm, f"License refused: {error.message}", error.code)


@dataclass(frozen=True)
class IndexFile:
    artifact: Artifact
    release: Release

    @property
    def yanked(self) -> str | None:
        """None, or why it was yanked ("" when no reason was given)."""
        if not self.release.yanked:
            return None
        return self.release.yank_reason or ""


def index_files(session: Session, product: str, holder: Holder) -> dict[str, list[IndexFile]]:
    """Every file a license may see, by project."""
    projects: dict[str, list[IndexFile]] = {}
    for release in service.offered(session, product, holder, Channel.ALPHA, with_yanked=True):
        for artifact in release.artifacts:
            name = project_name(artifact.file_name)
            if name is not None:
                projects.setdefault(name, []).append(IndexFile(artifact, release))
    return projects


def wants_json(accept: str | None) -> bool:
    """Whether the client prefers PEP 691 JSON (pip asks for it first)."""
    best_json = best_html = -1.0
    for part in (accept or "").split(","):
        media, *params = (p.strip() for p in part.split(";"))
        quality = 1.0
        for param in params:
            key, _, value = param.partition("=")
            if key.strip() == "q":
                try:
                    quality = float(value)
                except ValueError:
                    quality = 0.0
        if media == JSON_TYPE:
            best_json = max(best_json, quality)
        elif media in (HTML_TYPE, "text/html", "*/*"):
            best_html = max(best_html, quality)
    return best_json > 0 and best_json >= best_html


def file_url(product: str, artifact: Artifact) -> str:
    return (
        f"/pypi/{product}/files/{artifact.id}/{quote(artifact.file_name)}#sha256={artifact.sha256}"
    )


def projects_html(names: list[str]) -> str:
    links = "".join(f'<a href="{quote(name)}/">{html.escape(name)}</a>\n' for name in names)
    return _page("Simple index", links)


def projects_json(names: list[str]) -> dict[str, object]:
    return {"meta": {"api-version": "1.0"}, "projects": [{"name": n} for n in names]}


def project_html(product: str, name: str, files: list[IndexFile]) -> str:
    links = []
    for file in files:
        yanked = (
            "" if file.yanked is None else f' data-yanked="{html.escape(file.yanked, quote=True)}"'
        )
        href = html.escape(file_url(product, file.artifact), quote=True)
        links.append(f'<a href="{href}"{yanked}>{html.escape(file.artifact.file_name)}</a><br>\n')
    return _page(f"Links for {name}", "".join(links))


def project_json(product: str, name: str, files: list[IndexFile]) -> dict[str, object]:
    entries: list[dict[str, object]] = []
    for file in files:
        url, _, _ = file_url(product, file.artifact).partition("#")
        entry: dict[str, object] = {
            "filename": file.artifact.file_name,
            "url": url,
            "hashes": {"sha256": file.artifact.sha256},
        }
        if file.yanked is not None:
            entry["yanked"] = file.yanked or True
        entries.append(entry)
    return {"meta": {"api-version": "1.0"}, "name": name, "files": entries}


def _page(title: str, body: str) -> str:
    title = html.escape(title)
    return (
        '<!DOCTYPE html>\n<html lang="en">\n<head>\n'
        '<meta name="pypi:repository-version" content="1.0">\n'
        f"<title>{title}</title>\n</head>\n<body>\n<h1>{title}</h1>\n{body}</body>\n</html>\n"
    )
