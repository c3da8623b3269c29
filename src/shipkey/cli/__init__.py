"""The ``shipkey`` command line: one module per command group, joined here.

A command imports what it needs when it runs, so that ``shipkey --help`` stays quick. Output goes
through :mod:`shipkey.terminal`, whose consoles soft-wrap: a narrow terminal never breaks a URL
in two.
"""

from __future__ import annotations

from shipkey.cli import demo, imports, jobs, serve
from shipkey.cli.admin_tokens import token_app
from shipkey.cli.audit import audit_app
from shipkey.cli.common import group
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
    app()
