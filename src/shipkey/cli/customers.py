"""``shipkey customers …``: a buyer's data, exported or erased."""

from __future__ import annotations

from typing import Annotated

import typer

from shipkey.cli.common import database, fail, group, settings
from shipkey.terminal import out

customers_app = group(help="Buyers' personal data.", no_args_is_help=True)


@customers_app.command("export")
def customers_export(
    customer_id: Annotated[str, typer.Argument(help="The buyer's id (cus_…).")],
) -> None:
    """Print everything kept about a buyer, as JSON."""
    from shipkey.errors import ShipkeyError
    from shipkey.privacy import service

    db = database(settings(), audited=False)
    try:
        with db.read_session() as session:
            document = service.export(session, service.get_customer(session, customer_id))
    except ShipkeyError as exc:
        raise fail(exc.message) from exc
    finally:
        db.dispose()
    print(document.model_dump_json(by_alias=True, indent=2))


@customers_app.command("erase")
def customers_erase(
    customer_id: Annotated[str, typer.Argument(help="The buyer's id (cus_…).")],
) -> None:
    """Erase a buyer's personal data; amounts, dates and order ids stay. Repeatable."""
    from shipkey.errors import ShipkeyError
    from shipkey.privacy import service

    db = database(settings())
    try:
        with db.session() as session:
            done = service.erase(session, service.get_customer(session, customer_id))
    except ShipkeyError as exc:
        raise fail(exc.message) from exc
    finally:
        db.dispose()
    out().print(
        f"Erased {customer_id}: now {done.customer.email}; {done.purchases} purchase(s) kept, "
        f"{done.emails_stopped} queued e-mail(s) stopped, {done.sessions_ended} session(s) "
        f"ended, {done.stamped_copies} stamped cop(ies) to delete."
    )
