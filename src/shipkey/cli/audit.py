"""``shipkey audit …``: check the audit log's hash chain."""

from __future__ import annotations

from shipkey.cli.common import database, fail, group, settings
from shipkey.terminal import out

audit_app = group(help="The audit log of admin actions.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Check every link of the audit log's chain: OK, or the first broken one (exit 1)."""
    from shipkey.audit import service

    db = database(settings(), audited=False)
    try:
        with db.read_session() as session:
            verdict = service.verify(session)
    finally:
        db.dispose()
    if not verdict.ok:
        raise fail(
            f"Broken at entry {verdict.broken_seq}"
            + (f" ({verdict.broken_id})" if verdict.broken_id else "")
            + f": {verdict.reason}. {verdict.entries} entries read."
        )
    out().print(f"OK: {verdict.entries} entries, every link holds.")
