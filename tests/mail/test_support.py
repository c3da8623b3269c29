"""The e-mails ask buyers to write only to a support address that is set (never the no-reply
sender), and their small grey text is readable (contrast at least 4.5:1)."""

from __future__ import annotations

import re

import pytest

from shipkey.i18n import PACKAGE_DIR
from shipkey.mail.render import render

LOGIN = {"base_url": "http://testserver", "url": "http://testserver/login/x", "minutes": 15}


@pytest.mark.parametrize("locale", ["en", "de"])
def test_no_support_sentence_without_an_address(locale: str) -> None:
    rendered = render("login", locale, {**LOGIN, "support": None})
    for body in (rendered.text, rendered.html):
        assert "Questions?" not in body
        assert "Fragen?" not in body
        assert "mailto:" not in body
        assert "None" not in body


def test_the_support_sentence_names_the_address() -> None:
    rendered = render("login", "de", {**LOGIN, "support": "help@shop.example"})
    assert "Fragen? Schreiben Sie an help@shop.example." in rendered.text
    assert 'href="mailto:help@shop.example"' in rendered.html


def _luminance(colour: str) -> float:
    channels = [int(colour[i : i + 2], 16) / 255 for i in (1, 3, 5)]
    linear = [c / 12.92 if c <= 0.04045 else ((c + 0.055) / 1.055) ** 2.4 for c in channels]
    return 0.2126 * linear[0] + 0.7152 * linear[1] + 0.0722 * linear[2]


def contrast(foreground: str, background: str) -> float:
    light, dark = sorted((_luminance(foreground), _luminance(background)), reverse=True)
    return (light + 0.05) / (dark + 0.05)


def test_contrast_of_the_formula() -> None:
    assert round(contrast("#71717a", "#f4f4f5"), 2) == 4.4  # the old footer: 4.39…:1
    assert round(contrast("#000000", "#ffffff"), 1) == 21.0


def test_every_text_colour_of_the_e_mails_reads_on_the_page_s_grey() -> None:
    """Every text colour but the button's white is at least 4.5:1 against the page's #f4f4f5
    (the darker of the two backgrounds, the footer's)."""
    for path in (PACKAGE_DIR / "templates" / "mail").glob("*.html"):
        for colour in re.findall(r"(?<![-a-z])color:(#[0-9a-fA-F]{6})", path.read_text()):
            if colour.lower() == "#ffffff":
                continue
            assert contrast(colour, "#f4f4f5") >= 4.5, (path.name, colour)
