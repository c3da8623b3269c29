"""The page language from Accept-Language."""

from __future__ import annotations

import pytest

from shipkey.web.render import _accept_language


@pytest.mark.parametrize(
    ("header", "language"),
    [
        ("de-DE,de;q=0.9", "de"),
        ("fr, en;q=0.5", "en"),
        ("en;q=0.5, de;q=0.8", "de"),
        # q-values are 0 to 1 with at most three decimals, in ASCII; anything else is q=0
        ("en;q=0.5, de;q=inf", "en"),
        ("en;q=0.5, de;q=nan", "en"),
        ("en;q=0.5, de;q=1_0", "en"),
        ("en;q=0.5, de;q=١", "en"),
        ("en;q=0.5, de;q=²", "en"),
        ("en;q=0.5, de;q=2", "en"),
        ("de;q=0", None),
    ],
)
def test_quality_values(header: str, language: str | None) -> None:
    assert _accept_language(header) == language
