"""`quiz db ...`: schema migrations (Alembic)."""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.cli.context import database


@click.group("db")
def db_group() -> None:
    """Database schema migrations (Alembic)."""


@db_group.command("upgrade")
@click.argument("revision", default="head")
@with_appcontext
def db_upgrade(revision: str) -> None:
    """Upgrade the schema (default: to the newest revision)."""
    from alembic.util import CommandError

    from quiz.migrate import upgrade

    try:
        upgrade(database().url, revision, current_app.extensions["quiz.protector"])
    except CommandError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database upgraded to {revision}")


@db_group.command("downgrade")
@click.argument("revision")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def db_downgrade(revision: str, yes: bool) -> None:
    """Downgrade the schema to REVISION (e.g. base), dropping what later revisions added.

    Downgrading to base drops every table with its data: entries, winners, the audit
    log. It asks first; take a backup (`quiz backup`, or pg_dump) before answering yes.
    """
    from alembic.util import CommandError

    from quiz.migrate import downgrade

    if not yes:
        click.confirm(
            f"Downgrading to {revision} drops the tables and columns added after it, "
            "with their data (to base: everything). Back up first. Continue?",
            abort=True,
        )
    try:
        downgrade(database().url, revision, current_app.extensions["quiz.protector"])
    except CommandError as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(f"database downgraded to {revision}")


COMMANDS: tuple[click.Command, ...] = (db_group,)
