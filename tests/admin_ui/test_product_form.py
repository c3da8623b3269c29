"""A refused product form: every field's error in words, in the page's language, next to its
field (aria-invalid, aria-describedby), all at once, the first invalid field focused, the form
kept as typed, 422."""

from __future__ import annotations

import re

import pytest
from fastapi.testclient import TestClient

from tests.portal.helpers import csrf_of

WRONG = {
    "name": "",
    "slug": "Pixel Forge!",
    "type": "DOWNLOAD",
    "price": "zwölf",
    "currency": "E1",
    "max_downloads": "0",
    "link_ttl_hours": "many",
    "license_file_days": "400",
    "key_prefix": "X",
    "description": "kept as typed",
}
MESSAGES = {
    "en": {
        "p-name": "Enter a name.",
        "p-slug": "Use lower-case letters, digits and hyphens, such as pixel-forge.",
        "p-price": "Enter a price from 0 to 1,000,000, such as 19.99.",
        "p-currency": "Enter a three-letter currency code, such as EUR.",
        "p-max-downloads": "Enter a whole number from 1 to 10000.",
        "p-ttl": "Enter a whole number from 1 to 8784.",
        "p-file-days": "Enter a whole number from 1 to 366.",
        "p-prefix": "Use two to four letters, such as PF.",
    },
    "de": {
        "p-name": "Geben Sie einen Namen ein.",
        "p-slug": "Verwenden Sie Kleinbuchstaben, Ziffern und Bindestriche, etwa pixel-forge.",
        "p-price": "Geben Sie einen Preis von 0 bis 1.000.000 ein, etwa 19,99.",
        "p-currency": "Geben Sie einen Währungscode aus drei Buchstaben ein, etwa EUR.",
        "p-max-downloads": "Geben Sie eine ganze Zahl von 1 bis 10000 ein.",
        "p-ttl": "Geben Sie eine ganze Zahl von 1 bis 8784 ein.",
        "p-file-days": "Geben Sie eine ganze Zahl von 1 bis 366 ein.",
        "p-prefix": "Verwenden Sie zwei bis vier Buchstaben, etwa PF.",
    },
}


def _tag(page: str, element_id: str) -> str:
    match = re.search(rf'<(?:input|select|textarea) id="{element_id}"[^>]*>', page)
    assert match, element_id
    return match.group(0)


def _assert_field_errors(page: str, expected: dict[str, str]) -> None:
    for element_id, sentence in expected.items():
        tag = _tag(page, element_id)
        assert 'aria-invalid="true"' in tag, element_id
        assert f'aria-describedby="{element_id}-error"' in tag, element_id
        assert f'<p class="field-error" id="{element_id}-error">{sentence}</p>' in page
        assert f'<a href="#{element_id}">' in page  # the summary links to the field
    invalid = re.findall(r'<(?:input|select|textarea) id="([a-z-]+)"[^>]*aria-invalid', page)
    assert sorted(invalid) == sorted(expected)
    assert page.count(" autofocus") == 1
    assert " autofocus" in _tag(page, next(iter(expected)))
    assert "Field required" not in page
    assert "String should" not in page


def _post(client: TestClient, path: str, locale: str, data: dict[str, str]) -> str:
    token = csrf_of(client, path)
    response = client.post(
        path, data={"csrf_token": token, **data}, headers={"Accept-Language": locale}
    )
    assert response.status_code == 422, response.text
    return response.text


@pytest.mark.parametrize("locale", ["en", "de"])
def test_an_empty_new_product_form(seller: TestClient, locale: str) -> None:
    page = _post(seller, "/admin/products", locale, {})
    expected = {k: v for k, v in MESSAGES[locale].items() if k in ("p-name", "p-slug")}
    expected["p-slug"] = {"en": "Enter a slug.", "de": "Geben Sie einen Slug ein."}[locale]
    _assert_field_errors(page, expected)
    problems = {"en": "The form has 2 problems:", "de": "Das Formular hat 2 Fehler:"}
    assert problems[locale] in page


@pytest.mark.parametrize("locale", ["en", "de"])
def test_a_wrong_new_product_form(seller: TestClient, locale: str) -> None:
    page = _post(seller, "/admin/products", locale, WRONG)
    _assert_field_errors(page, MESSAGES[locale])
    assert 'value="Pixel Forge!"' in _tag(page, "p-slug")
    assert 'value="zwölf"' in _tag(page, "p-price")
    assert 'value="many"' in _tag(page, "p-ttl")
    assert 'value="400"' in _tag(page, "p-file-days")
    assert ">kept as typed</textarea>" in page


@pytest.mark.parametrize("locale", ["en", "de"])
def test_a_wrong_edit_form_and_a_slug_taken(
    seller: TestClient, admin: TestClient, locale: str
) -> None:
    for slug in ("taken", "mine"):
        made = admin.post("/api/admin/products", json={"name": slug, "slug": slug})
        assert made.status_code == 201, made.text
    product = admin.get("/api/admin/products/mine").json()
    path = f"/admin/products/{product['id']}"
    page = _post(seller, path, locale, {**WRONG, "active": ""})
    _assert_field_errors(page, MESSAGES[locale])
    assert "checked" not in re.search(r'<input type="checkbox" name="active"[^>]*>', page).group(0)  # type: ignore[union-attr]

    page = _post(seller, path, locale, {"name": "Mine", "slug": "taken", "type": "DOWNLOAD"})
    sentence = {
        "en": "This slug is already taken. Choose another one.",
        "de": "Dieser Slug ist schon vergeben. Wählen Sie einen anderen.",
    }[locale]
    _assert_field_errors(page, {"p-slug": sentence})
    assert 'value="Mine"' in _tag(page, "p-name")
