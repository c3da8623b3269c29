"""``shipkey purchases …``: record a manual sale."""

from __future__ import annotations

from typing import Annotated

import typer

from shipkey.cli.common import database, group, settings
from shipkey.terminal import err, out

purchases_app = group(help="Purchases (manual sales).", no_args_is_help=True)


@purchases_app.command("create")
def purchases_create(
    product: Annotated[str, typer.Option(help="Product id or slug.")],
    email: Annotated[str, typer.Option(help="The buyer's e-mail address.")],
    name: Annotated[str | None, typer.Option(help="The buyer's name.")] = None,
    pending: Annotated[bool, typer.Option(help="Record as PENDING instead of COMPLETED.")] = False,
) -> None:
    """Record a manual sale; a completed one is delivered at once."""
    from pydantic import ValidationError

    from shipkey.errors import ShipkeyError
    from shipkey.orders.models import PurchaseStatus
    from shipkey.orders.schemas import PurchaseCreate
    from shipkey.sales import flows

    config = settings()
    db = database(config)
    try:
        data = PurchaseCreate(
            product=product,
            email=email,
            name=name,
            status=PurchaseStatus.PENDING if pending else PurchaseStatus.COMPLETED,
        )
        with db.session() as session:
            purchase, delivery = flows.create_purchase(session, config, data)
            out().print(f"Purchase {purchase.id}: {purchase.status.value}")
            for link in delivery.links if delivery else []:
                out().print(f"  download link: {link.url}")
    except (ShipkeyError, ValidationError) as exc:
        err().print(f"[red]{exc}[/red]")
        raise typer.Exit(1) from exc
    finally:
        db.dispose()
