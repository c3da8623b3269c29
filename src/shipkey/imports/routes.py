"""Admin API: ``POST /api/admin/imports``, a platform's export imported (see :mod:`.service`)."""

from __future__ import annotations

import io
from typing import Annotated, Any

from fastapi import APIRouter, Depends, File, Form, UploadFile
from pydantic import BeforeValidator

from shipkey.admin.auth import ADMIN_ERRORS, require_admin
from shipkey.http.deps import DatabaseDep, SettingsDep
from shipkey.imports.formats import ImportFormat
from shipkey.imports.service import run_import
from shipkey.schemas import ApiModel

router = APIRouter(
    prefix="/api/admin/imports",
    tags=["admin: imports"],
    dependencies=[Depends(require_admin)],
    responses=ADMIN_ERRORS,
)


def _true_or_false(value: Any) -> Any:
    """A form's boolean is ``true`` or ``false``, as the schema says (not ``0``, ``yes``, …)."""
    if isinstance(value, str) and value not in ("true", "false"):
        raise ValueError("true or false")
    return value


FormBool = Annotated[bool, BeforeValidator(_true_or_false)]


class RefusalRead(ApiModel):
    line: int
    reason: str


class ImportRead(ApiModel):
    created: int
    skipped: int
    refused: list[RefusalRead]


@router.post("")
def import_file(
    db: DatabaseDep,
    settings: SettingsDep,
    file: Annotated[UploadFile, File(description="The CSV export (UTF-8).")],
    format: Annotated[ImportFormat, Form(description="Whose export the file is.")],  # noqa: A002
    product: Annotated[
        str | None,
        Form(
            max_length=64,
            description="Every row's product (id or slug); empty or left out: each row names "
            "its own.",
        ),
    ] = None,
    dry_run: Annotated[
        FormBool, Form(alias="dryRun", description="Check and count only: nothing is written.")
    ] = False,
) -> ImportRead:
    """Buyers, COMPLETED purchases and license keys from another platform; no e-mail is sent
    (the command line's ``--notify`` sends the delivery e-mails). Importing a file again
    creates nothing twice; bad rows are refused with their line number (the header is 1)."""
    text = io.TextIOWrapper(file.file, encoding="utf-8-sig", errors="replace", newline="")
    result = run_import(db, settings, text, format, product=product, dry_run=dry_run)
    return ImportRead(
        created=result.created,
        skipped=result.skipped,
        refused=[RefusalRead(line=r.line, reason=r.reason) for r in result.refused],
    )
