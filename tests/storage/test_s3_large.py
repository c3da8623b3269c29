"""A 2 GiB upload through ``shipkey serve`` into S3 (the moto server) in constant memory.

The file is sent as one streamed request body; shipkey passes it on as a multipart upload, part
by part. The test reads the server worker's peak resident memory (VmHWM) before and after;
memory is asserted, never time.
"""

from __future__ import annotations

import hashlib
from collections.abc import Iterator
from pathlib import Path

import boto3
import httpx
import pytest

from tests.s3_server import S3Bucket
from tests.served import CHUNK, MAX_GROWTH, TOKEN, numbered_chunks, peak_rss, serve

SIZE = 2 * 1024**3


@pytest.fixture
def served_on_s3(tmp_path: Path, s3_bucket: S3Bucket) -> Iterator[tuple[str, int]]:
    storage = {
        "SHIPKEY_STORAGE_URL": s3_bucket.storage_url,
        "SHIPKEY_S3_ENDPOINT_URL": s3_bucket.endpoint_url,
    }
    with serve(tmp_path, storage) as running:
        yield running


def test_two_gib_upload_to_s3_in_constant_memory(
    served_on_s3: tuple[str, int], s3_bucket: S3Bucket
) -> None:
    base, worker = served_on_s3
    auth = {"Authorization": f"Bearer {TOKEN}"}
    with httpx.Client(base_url=base, headers=auth, timeout=600) as http:
        assert http.post("/api/admin/products", json={"name": "Big", "slug": "big"}).is_success
        # warm up every code path (a multipart upload of two parts) before the baseline
        warm = http.put("/api/admin/products/big/file?filename=w.bin", content=b"w" * 9 * CHUNK)
        assert warm.status_code == 200, warm.text
        baseline = peak_rss(worker)

        sent = hashlib.sha256()
        upload = http.put(
            "/api/admin/products/big/file?filename=big.bin",
            content=numbered_chunks(sent, SIZE),
            headers={"Content-Type": "application/octet-stream"},
        )
        assert upload.status_code == 200, upload.text
        assert upload.json()["fileSize"] == SIZE
        assert upload.json()["sha256"] == sent.hexdigest()
        after_upload = peak_rss(worker)

    s3 = boto3.session.Session().client("s3", endpoint_url=s3_bucket.endpoint_url)
    objects = s3.list_objects_v2(Bucket=s3_bucket.bucket)["Contents"]
    assert [item["Size"] for item in objects] == [SIZE]  # the warm-up file was replaced
    print(
        f"\nshipkey worker peak RSS: {baseline / 2**20:.0f} MiB before, "
        f"{after_upload / 2**20:.0f} MiB after a 2 GiB upload to S3"
    )
    assert after_upload - baseline < MAX_GROWTH, (baseline, after_upload)
