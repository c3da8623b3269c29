"""The ``shipkey`` command line: one module per command group, joined here.

A command imports what it needs when it runs, so that ``shipkey --help`` stays quick. Output goes
through :mod:`shipkey.terminal`, whose consoles soft-wrap: a narrow terminal never breaks a URL
in two.
"""

from __future__ import annotations

from shipkey.cli import demo, imports, jobs, serve
from shipkey.cli.admin_tokens import token_app
from shipkey.cli.audit import audit_app
from shipkey.cli.common import fail, group
from shipkey.cli.customers import customers_app
from shipkey.cli.files import files_app
from shipkey.cli.keys import keys_app
from shipkey.cli.licenses import license_app
from shipkey.cli.products import products_app
from shipkey.cli.purchases import purchases_app
from shipkey.cli.releases import releases_app
from shipkey.cli.webhooks import webhooks_app

app = group(
    help="shipkey: deliver digital products the moment they are paid for.",
    no_args_is_help=True,
    add_completion=False,
)
app.command()(serve.migrate)
app.command()(serve.serve)
app.command()(jobs.worker)
app.command()(demo.demo)
app.command("import")(imports.import_file)
app.add_typer(token_app, name="admin-token")
app.add_typer(products_app, name="products")
app.add_typer(purchases_app, name="purchases")
app.add_typer(files_app, name="files")
app.add_typer(releases_app, name="releases")
app.add_typer(keys_app, name="keys")
app.add_typer(license_app, name="license")
app.add_typer(webhooks_app, name="webhooks")
app.add_typer(audit_app, name="audit")
app.add_typer(customers_app, name="customers")


def main() -> None:
    try:
        app()
    except Exception as exc:
        problem = database_problem(exc)
        if problem is None:
            raise
        fail(problem)
        raise SystemExit(1) from None


def database_problem(exc: BaseException) -> str | None:
    """What to tell a user whose command met a database without shipkey's tables (or behind
    its migrations), or one that cannot be opened; None for any other error."""
    text = str(exc)
    if "no such table" in text or "no such column" in text or " does not exist" in text:
        return (
            "The database has no shipkey tables yet, or is behind the installed version: "
            "run `shipkey migrate` first."
        )
    if "unable to open database file" in text:
        return (
            "The database file cannot be opened (it does not exist yet, or its directory is "
            "missing): run `shipkey migrate`, or check SHIPKEY_DATABASE_URL and SHIPKEY_DATA_DIR."
        )
    return None
