"""Every string in the e-mail templates has a German translation with the same placeholders."""

from __future__ import annotations

from pathlib import Path

from babel.messages.extract import extract_from_dir
from babel.messages.frontend import parse_mapping_cfg
from babel.messages.pofile import read_po

from shipkey.i18n import TRANSLATIONS_DIR, translations
from shipkey.mail.render import render

ROOT = Path(__file__).resolve().parents[2]


def _singular(msgid: str | tuple[str, ...] | list[str]) -> str:
    return msgid if isinstance(msgid, str) else msgid[0]


def _extracted() -> set[str]:
    with (ROOT / "babel.cfg").open() as handle:
        method_map, options_map = parse_mapping_cfg(handle)  # type: ignore[no-untyped-call]
    return {
        _singular(message)
        for _file, _line, message, _comments, _context in extract_from_dir(
            ROOT / "src", method_map, options_map
        )
    }


def test_the_german_catalog_is_complete_and_consistent() -> None:
    with (TRANSLATIONS_DIR / "de" / "LC_MESSAGES" / "messages.po").open("rb") as handle:
        catalog = read_po(handle, locale="de")
    entries = {_singular(m.id): m for m in catalog if m.id}
    extracted = _extracted()
    assert len(extracted) > 20
    for msgid in extracted:
        entry = entries.get(msgid)
        assert entry is not None, f"not in the German catalog: {msgid!r}"
        strings = entry.string if isinstance(entry.string, tuple) else (entry.string,)
        assert all(strings), f"not translated: {msgid!r}"
        assert not entry.fuzzy, f"fuzzy: {msgid!r}"
    assert [(m.id, errors) for m, errors in catalog.check() if errors] == []


def test_catalogs_load_from_po_files() -> None:
    assert translations("de").gettext("Hello,") == "Hallo,"
    assert translations("en").gettext("Hello,") == "Hello,"
    rendered = render("login", "de", {"url": "http://x/login/t", "minutes": 30, "support": "s"})
    assert rendered.subject == "Ihr Anmeldelink"
    assert "30 Minuten" in rendered.text
