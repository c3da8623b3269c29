"""Prometheus metrics, one registry per app (so tests can build many apps)."""

from __future__ import annotations

from prometheus_client import CollectorRegistry, Counter, generate_latest
from prometheus_client.exposition import CONTENT_TYPE_LATEST


class Metrics:
    content_type = CONTENT_TYPE_LATEST

    def __init__(self) -> None:
        self.registry = CollectorRegistry()
        self.downloads = Counter(
            "shipkey_downloads",
            "Download requests served, by outcome (counted first request, resume, not_modified).",
            ["outcome"],
            registry=self.registry,
        )
        self.uploaded_bytes = Counter(
            "shipkey_uploaded_bytes", "Bytes of product files uploaded.", registry=self.registry
        )

    def render(self) -> bytes:
        return generate_latest(self.registry)
