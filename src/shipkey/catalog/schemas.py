"""Product API shapes."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Self

from pydantic import ConfigDict, Field, field_validator, model_validator

from shipkey.catalog.models import LicenseType, ProductType
from shipkey.schemas import ApiModel, InputModel

SLUG_PATTERN = r"^[a-z0-9]+(?:-[a-z0-9]+)*$"
DEFAULT_LICENSE_DAYS = {LicenseType.SUBSCRIPTION: 365, LicenseType.TRIAL: 14}

Name = Annotated[str, Field(min_length=1, max_length=200)]
Slug = Annotated[str, Field(min_length=1, max_length=64, pattern=SLUG_PATTERN)]
CURRENCY_PATTERN = r"^[A-Za-z]{3}$"
Currency = Annotated[
    str,
    Field(
        pattern=CURRENCY_PATTERN,
        description="ISO 4217 code, three letters (stored upper case), such as EUR.",
    ),
]
MEDIA_TYPE_PATTERN = r"^[A-Za-z0-9!#$&^_.+-]+/[A-Za-z0-9!#$&^_.+-]+(\s*;[ -~]*)?$"
"""A media type as a file's ``Content-Type`` (``application/pdf; charset=…``)."""
KeyPrefix = Annotated[str, Field(pattern=r"^[A-Za-z]{2,4}$")]
_MAX_DEACTIVATIONS = (
    "How often a buyer may deactivate a machine of one license in 30 days (the seller's reset "
    "is not counted); more is refused with TOO_MANY_DEACTIVATIONS."
)
_LICENSE_FILE_DAYS = (
    "How many days an offline license file lives before it must be renewed online (never "
    "beyond the license's own end)."
)


def _upper(value: str | None) -> str | None:
    return value.upper() if value is not None else None


class _ProductFields(InputModel):
    @field_validator("currency", "key_prefix", mode="after", check_fields=False)
    @classmethod
    def _upper_case(cls, value: str | None) -> str | None:
        return _upper(value)


class ProductCreate(_ProductFields):
    name: Name
    slug: Slug
    type: ProductType = ProductType.DOWNLOAD
    price: int = Field(default=0, ge=0, le=100_000_000)
    currency: Currency = "EUR"
    description: str = Field(default="", max_length=20_000)
    max_downloads: int = Field(default=5, ge=1, le=10_000)
    link_ttl_hours: int = Field(default=24, ge=1, le=24 * 366)
    license_type: LicenseType | None = None
    max_activations: int = Field(default=3, ge=1, le=100_000)
    max_deactivations: int = Field(default=3, ge=0, le=10_000, description=_MAX_DEACTIVATIONS)
    license_file_days: int = Field(default=7, ge=1, le=366, description=_LICENSE_FILE_DAYS)
    license_days: int | None = Field(default=None, ge=1, le=36_500)
    key_prefix: KeyPrefix | None = None
    stamp: bool = False
    metadata: dict[str, Any] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _license_defaults(self) -> Self:
        if self.type is ProductType.LICENSE and self.license_type is None:
            self.license_type = LicenseType.PERPETUAL
        if self.license_days is None and self.license_type is not None:
            self.license_days = DEFAULT_LICENSE_DAYS.get(self.license_type)
        return self


class ProductUpdate(_ProductFields):
    name: Name | None = None
    slug: Slug | None = None
    type: ProductType | None = None
    price: int | None = Field(default=None, ge=0, le=100_000_000)
    currency: Currency | None = None
    description: str | None = Field(default=None, max_length=20_000)
    max_downloads: int | None = Field(default=None, ge=1, le=10_000)
    link_ttl_hours: int | None = Field(default=None, ge=1, le=24 * 366)
    license_type: LicenseType | None = None
    max_activations: int | None = Field(default=None, ge=1, le=100_000)
    max_deactivations: int | None = Field(
        default=None, ge=0, le=10_000, description=_MAX_DEACTIVATIONS
    )
    license_file_days: int | None = Field(
        default=None, ge=1, le=366, description=_LICENSE_FILE_DAYS
    )
    license_days: int | None = Field(default=None, ge=1, le=36_500)
    key_prefix: KeyPrefix | None = None
    stamp: bool | None = None
    metadata: dict[str, Any] | None = None
    active: bool | None = None


class ProductFile(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    file_name: str
    file_size: int
    file_mime_type: str
    sha256: str


class ProductRead(ApiModel):
    model_config = ConfigDict(from_attributes=True)

    id: str
    name: str
    slug: str
    type: ProductType
    price: int
    currency: str
    description: str
    max_downloads: int
    link_ttl_hours: int
    license_type: LicenseType | None
    max_activations: int
    max_deactivations: int
    license_file_days: int
    license_days: int | None
    key_prefix: str | None
    stamp: bool
    metadata: dict[str, Any] = Field(validation_alias="meta")  # Product.metadata is SQLAlchemy's
    active: bool
    file_name: str | None
    file_size: int | None
    file_mime_type: str | None
    file_sha256: str | None
    file_uploaded_at: datetime | None
    created_at: datetime
    updated_at: datetime
