"""The style sheet's focus rings stay visible: each has at least 3:1 contrast (WCAG 1.4.11)
against every background it is drawn on, and the focus rules use only those colours."""

from __future__ import annotations

import re

import pytest

from shipkey.web.render import STATIC_DIR

CSS = (STATIC_DIR / "shipkey.css").read_text(encoding="utf-8")
_COMMENT = re.compile(r"/\*.*?\*/", re.S)
_RULE = re.compile(r"([^{}]+)\{([^{}]*)\}")
_HEX = re.compile(r"^#(?:[0-9a-fA-F]{3}|[0-9a-fA-F]{6})$")

FOCUS_BACKGROUNDS = {
    "--focus": ("--card", "--bg", "--ok-bg", "--bad-bg", "--warn-bg", "--ink"),
    "--focus-on-dark": ("--ink",),
}
"""Each focus colour and the backgrounds it is drawn on: cards, tables and inputs (--card), the
page (--bg), notices (--ok-bg, --bad-bg, --warn-bg) and the header (--ink), where the skip link
rings too."""


def _rules() -> list[tuple[str, dict[str, str]]]:
    rules = []
    for selector, body in _RULE.findall(_COMMENT.sub("", CSS)):
        declarations = {}
        for item in body.split(";"):
            name, colon, value = item.partition(":")
            if colon:
                declarations[name.strip()] = value.strip()
        rules.append((" ".join(selector.split()), declarations))
    return rules


def _custom_properties() -> dict[str, str]:
    return {
        name: value
        for selector, declarations in _rules()
        if selector == ":root"
        for name, value in declarations.items()
        if name.startswith("--")
    }


def luminance(colour: str) -> float:
    """The relative luminance of a ``#rgb`` or ``#rrggbb`` colour (WCAG 2.x)."""
    assert _HEX.match(colour), f"{colour!r} is not a hex colour"
    digits = colour[1:]
    if len(digits) == 3:
        digits = "".join(c * 2 for c in digits)
    channels = [int(digits[i : i + 2], 16) / 255 for i in (0, 2, 4)]
    r, g, b = (c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels)
    return 0.2126 * r + 0.7152 * g + 0.0722 * b


def contrast(first: str, second: str) -> float:
    light, dark = sorted((luminance(first), luminance(second)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_is_computed_as_wcag_says() -> None:
    assert contrast("#000", "#fff") == pytest.approx(21)
    assert contrast("#f59e0b", "#ffffff") == pytest.approx(2.15, abs=0.01)  # the old amber ring


@pytest.mark.parametrize(
    ("focus", "background"),
    [(focus, bg) for focus, backgrounds in FOCUS_BACKGROUNDS.items() for bg in backgrounds],
)
def test_focus_ring_has_3_to_1_against_its_background(focus: str, background: str) -> None:
    colours = _custom_properties()
    ratio = contrast(colours[focus], colours[background])
    assert ratio >= 3, f"{focus} on {background}: {ratio:.2f}:1"


def test_focus_rules_use_only_the_checked_colours() -> None:
    outlines = [
        (selector, value)
        for selector, declarations in _rules()
        for name, value in declarations.items()
        if name in ("outline", "outline-color") and value != "none"
    ]
    assert outlines, "no focus rule found"
    for selector, value in outlines:
        assert re.search(r"var\((--focus(?:-on-dark)?)\)", value), f"{selector}: {value}"
        if selector.startswith("header.top"):
            assert "--focus-on-dark" in value, selector


def test_the_header_is_the_dark_background_its_focus_ring_is_checked_on() -> None:
    header = dict(next(d for s, d in _rules() if s == "header.top"))
    assert header["background"] == "var(--ink)"
