"""The dev mailbox: the e-mails written to files instead of sent (no SMTP configured)."""

from __future__ import annotations

from fastapi import Request
from starlette.responses import Response

from shipkey.admin_ui.pages import Admin, admin_router
from shipkey.errors import NotFound
from shipkey.http.deps import SettingsDep
from shipkey.mail import senders
from shipkey.web.render import render, tr

router = admin_router()


@router.get("/mailbox", dependencies=Admin)
def mailbox(request: Request, settings: SettingsDep) -> Response:
    smtp = settings.smtp_url is not None and bool(settings.smtp_url.get_secret_value())
    entries = senders.list_mailbox(senders.mailbox_dir(settings))
    return render(request, "admin/mailbox.html", {"entries": entries, "smtp": smtp})


@router.get("/mailbox/{name}", dependencies=Admin)
def mailbox_message(request: Request, name: str, settings: SettingsDep) -> Response:
    message = senders.read_mailbox(senders.mailbox_dir(settings), name)
    if message is None:
        raise NotFound(tr(request, "No such message in the dev mailbox."))
    text = message.get_body(preferencelist=("plain",))
    html = message.get_body(preferencelist=("html",))
    return render(
        request,
        "admin/mailbox_message.html",
        {
            "name": name,
            "message": message,
            "text": text.get_content() if text is not None else "",
            "html": html.get_content() if html is not None else "",
        },
    )
