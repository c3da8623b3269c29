"""The hash chain: canonical JSON of an entry and the link to the one before."""

from __future__ import annotations

import hashlib
import json
from datetime import UTC, datetime
from typing import Any


def canonical(
    *,
    seq: int,
    entry_id: str,
    at: datetime,
    actor: str,
    action: str,
    target: str | None,
    ip_address: str | None,
    details: dict[str, Any],
) -> str:
    """The entry as JSON with sorted keys, no spaces, UTF-8 (the bytes that are hashed)."""
    document = {
        "seq": seq,
        "id": entry_id,
        "at": at.astimezone(UTC).isoformat(timespec="microseconds"),
        "actor": actor,
        "action": action,
        "target": target,
        "ipAddress": ip_address,
        "details": details,
    }
    return json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def entry_hash(prev_hash: str, document: str) -> str:
    """SHA-256 (hex) over the previous entry's hash followed by this entry's canonical JSON."""
    return hashlib.sha256((prev_hash + document).encode()).hexdigest()
