"""Public pages outside the portal (after checkout, behind an access link), rendered like every
page in the visitor's language (``portal.web``'s environment over ``templates/``)."""

from __future__ import annotations

from typing import Any

from fastapi import Request
from fastapi.responses import HTMLResponse

from shipkey.portal.web import environment, page_locale


def page(
    request: Request,
    template: str,
    context: dict[str, Any],
    *,
    purchase_locale: str | None = None,
    status_code: int = 200,
) -> HTMLResponse:
    """``templates/pages/<template>`` in the language chosen on the site, else the browser's,
    else the purchase's; never cached (they show one buyer's order)."""
    locale = page_locale(request, purchase_locale)
    html = (
        environment(locale).get_template(f"pages/{template}").render({"locale": locale, **context})
    )
    return HTMLResponse(html, status_code=status_code, headers={"Cache-Control": "no-store"})
