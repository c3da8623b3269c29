"""Release API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated

from pydantic import ConfigDict, Field

from shipkey.releases.models import Channel
from shipkey.schemas import ApiModel, InputModel

PLATFORM_PATTERN = r"^[a-z0-9_]{1,32}$"
"""A platform or architecture: ``any`` (all), or a name such as ``linux``, ``x86_64``."""

Platform = Annotated[str, Field(pattern=PLATFORM_PATTERN, max_length=32)]


class ReleaseCreate(InputModel):
    version: str = Field(min_length=1, max_length=64, examples=["1.2.0", "1.3.0-beta.1"])
    channel: Channel = Channel.STABLE
    notes: str = Field(default="", max_length=20_000)


class YankRequest(InputModel):
    reason: str | None = Field(default=None, max_length=500)


class ArtifactRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    file_name: str
    size: int
    sha256: str
    platform: str
    arch: str
    signature: str
    """Base64 Ed25519 signature over the file's bytes."""
    kid: str
    """The signing key's id (``GET /api/licenses/public-keys``)."""


class ArtifactAdminRead(ArtifactRead):
    downloads: int = Field(validation_alias="download_count")


class ReleaseRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    version: str
    normalized: str
    channel: Channel
    notes: str
    published_at: datetime
    yanked: bool
    yanked_at: datetime | None
    yank_reason: str | None
    artifacts: list[ArtifactAdminRead]


class UpdateArtifact(ApiModel):
    file_name: str
    size: int
    sha256: str
    platform: str
    arch: str
    url: str
    """A short-lived link to the file."""
    signature: str
    kid: str


class UpdateRead(ApiModel):
    version: str
    channel: Channel
    notes: str
    published_at: datetime
    artifacts: list[UpdateArtifact]


class LatestPath(ApiModel):
    product: str = Field(max_length=64)


class LatestQuery(ApiModel):
    """The query of ``GET /api/releases/{product}/latest`` (read by the route itself)."""

    channel: Channel = Channel.STABLE
    platform: Platform = "any"
    arch: Platform = "any"
    current_version: str | None = Field(default=None, max_length=64)
