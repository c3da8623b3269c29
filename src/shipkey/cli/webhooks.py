"""``shipkey webhooks …``: the seller's webhook endpoints (create, list, delete, test, secret)."""

from __future__ import annotations

from typing import Annotated

import typer
from rich.table import Table

from shipkey.cli.common import database, fail, group, settings
from shipkey.terminal import out

webhooks_app = group(help="Outgoing webhooks to your own systems.", no_args_is_help=True)


@webhooks_app.command("create")
def webhooks_create(
    url: Annotated[str, typer.Argument(help="Where events are POSTed (http:// or https://).")],
    event: Annotated[
        list[str] | None,
        typer.Option("--event", "-e", help="An event type to send (repeat it); none: all."),
    ] = None,
    description: Annotated[str, typer.Option(help="A note for you.")] = "",
) -> None:
    """Add an endpoint; prints its id and signing secret (whsec_…)."""
    from pydantic import ValidationError
    from rich.markup import escape

    from shipkey.hooks import service
    from shipkey.hooks.schemas import EndpointCreate

    try:
        data = EndpointCreate.model_validate(
            {"url": url, "events": event or None, "description": description}
        )
    except ValidationError as exc:
        problems = "; ".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors())
        raise fail(escape(f"Refused: {problems}")) from None
    db = database(settings())
    try:
        with db.session() as session:
            endpoint = service.create_endpoint(session, data.url, data.events, data.description)
            session.commit()
            out().print(f"Endpoint {endpoint.id} → {endpoint.url}")
            out().print(f"Signing secret: {endpoint.secret}")
    finally:
        db.dispose()


@webhooks_app.command("list")
def webhooks_list() -> None:
    """Every endpoint, newest first (never its secret)."""
    from shipkey.hooks import service

    db = database(settings(), audited=False)
    try:
        with db.read_session() as session:
            table = Table("id", "url", "events", "enabled", "failing since", "created")
            cursor = None
            while True:
                found = service.list_endpoints(session, limit=100, cursor=cursor)
                for e in found.items:
                    table.add_row(
                        e.id,
                        e.url,
                        ", ".join(e.events) or "all",
                        "yes" if e.enabled else "no",
                        e.failing_since.isoformat(timespec="seconds") if e.failing_since else "-",
                        e.created_at.isoformat(timespec="seconds"),
                    )
                cursor = found.next_cursor
                if cursor is None:
                    break
            out().print(table)
    finally:
        db.dispose()


def _run(endpoint_id: str, action: str) -> str:
    from rich.markup import escape

    from shipkey.errors import ShipkeyError
    from shipkey.hooks import service

    db = database(settings())
    try:
        with db.session() as session:
            if action == "delete":
                service.delete_endpoint(session, endpoint_id)
                result = f"Deleted {endpoint_id}."
            elif action == "test":
                delivery = service.send_test(session, endpoint_id)
                result = f"A ping ({delivery.event_id}) is queued for {endpoint_id}."
            else:
                result = service.get_endpoint(session, endpoint_id).secret
            session.commit()
            return result
    except ShipkeyError as exc:
        raise fail(escape(exc.message)) from None
    finally:
        db.dispose()


@webhooks_app.command("delete")
def webhooks_delete(endpoint_id: str) -> None:
    """Delete an endpoint and its delivery log."""
    out().print(_run(endpoint_id, "delete"))


@webhooks_app.command("test")
def webhooks_test(endpoint_id: str) -> None:
    """Queue a ping event for an endpoint (the worker sends it)."""
    out().print(_run(endpoint_id, "test"))


@webhooks_app.command("secret")
def webhooks_secret(endpoint_id: str) -> None:
    """Print an endpoint's signing secret."""
    print(_run(endpoint_id, "secret"))
