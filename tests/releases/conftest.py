"""The release tests serve files in every download mode, with the download tests' fixtures
(``download_mode``: stream from disk, stream from S3, redirect to S3, x-accel through nginx)."""

from tests.downloads.conftest import (
    admin,
    client,
    download_mode,
    live_server,
    settings_overrides,
    storage,
)

__all__ = ["admin", "client", "download_mode", "live_server", "settings_overrides", "storage"]
