"""Offline license-file verifications per second in the client package (shipkey-client).

Rows, each for ``--seconds`` in one thread:

* ``verify_offline()`` of the license file cached on disk by the last activation: what a
  seller's program does at every start (reads the file, checks signature, machine, clock and
  expiry);
* the same with the text already in memory;
* a full check of a file never seen before (64 distinct files in turn, so the verifier's
  small cache never helps): parsing, base64, Ed25519, JSON;
* the bound: one bare Ed25519 signature check with ``cryptography``.

    .venv/bin/python -m bench.client [--seconds 3]
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives.asymmetric.ed25519 import Ed25519PrivateKey

from bench.common import console, table, verdict, write_results

GOAL = 10_000
MACHINE = "bench-machine-0001"


def rate(call: Callable[[], object], seconds: float) -> float:
    """Calls per second of ``call``, timed in batches for ``seconds``."""
    call()  # warm up
    done = 0
    batch = 100
    started = time.perf_counter()
    elapsed = 0.0
    while elapsed < seconds:
        for _ in range(batch):
            call()
        done += batch
        elapsed = time.perf_counter() - started
    return done / elapsed


def make_files(count: int) -> tuple[dict[str, str], list[str], Ed25519PrivateKey]:
    """Public keys and ``count`` genuine license files signed the way the server signs them."""
    from shipkey.licensing.license_file import LicenseFilePayload, sign_license_file
    from shipkey.licensing.signing_keys import public_key_b64

    private = Ed25519PrivateKey.generate()
    now = datetime.now(UTC)
    files = [
        sign_license_file(
            LicenseFilePayload(
                license_key=f"BEN-AAAAA-BBBBB-CCCCC-{index:05d}-0000",
                product="bench-app",
                machine_id=MACHINE,
                features=("pro", "export"),
                license_expires_at=now + timedelta(days=365),
                issued_at=now,
                expires_at=now + timedelta(days=30),
            ),
            private,
            "k1",
        )
        for index in range(count)
    ]
    return {"k1": public_key_b64(private.public_key())}, files, private


def run(seconds: float) -> dict[str, Any]:
    from shipkey_client import LicenseClient
    from shipkey_client.license_file import LicenseVerifier, parse_license_file

    keys, files, private = make_files(64)
    with tempfile.TemporaryDirectory() as tmp:
        cache = Path(tmp)
        (cache / "license.lic").write_text(files[0], encoding="utf-8")
        client = LicenseClient(
            "http://127.0.0.1:9", public_keys=keys, cache_dir=cache, machine_id=MACHINE
        )
        try:
            cached_file = rate(client.verify_offline, seconds)
            in_memory = rate(lambda: client.verify_offline(files[0]), seconds)
        finally:
            client.close()

    verifier = LicenseVerifier(keys)
    position = 0

    def fresh() -> object:
        nonlocal position
        position = (position + 1) % len(files)
        return verifier.verify(files[position])

    full = rate(fresh, seconds)
    envelope = parse_license_file(files[0])
    import base64

    signature, message = base64.b64decode(envelope.sig), envelope.signed_message()
    public = private.public_key()
    bare = rate(lambda: public.verify(signature, message), seconds)
    return {
        "seconds": seconds,
        "perSecond": {
            "cachedFile": cached_file,
            "inMemory": in_memory,
            "fullCheck": full,
            "ed25519": bare,
        },
        "goal": GOAL,
        "met": {"cachedFile": cached_file >= GOAL, "fullCheck": full >= GOAL},
    }


def show(results: dict[str, Any]) -> None:
    per = results["perSecond"]
    met = results["met"]
    console.print(
        table(
            "Offline license-file verification, one thread",
            ["what", "per second", "goal"],
            [
                [
                    "verify_offline(), file cached on disk",
                    per["cachedFile"],
                    f"≥ {GOAL:,}  {verdict(met['cachedFile'])}",
                ],
                ["verify_offline(text), in memory", per["inMemory"], ""],
                [
                    "full check of a new file (no cache)",
                    per["fullCheck"],
                    f"{per['fullCheck'] / per['ed25519']:.2f}× of the bound",
                ],
                ["bare Ed25519 verify (bound)", per["ed25519"], ""],
            ],
        )
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--seconds", type=float, default=3)
    args = parser.parse_args(argv)
    results = run(args.seconds)
    show(results)
    console.print(f"results: {write_results('client', results)}")


if __name__ == "__main__":
    main()
