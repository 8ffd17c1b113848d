"""The `quiz` command line: one module per topic, each listing its COMMANDS, registered here.

Commands are thin click wrappers over the services; they own the transaction.
"""

from __future__ import annotations

from typing import Any

import click
from flask import Flask
from flask.cli import FlaskGroup
from sqlalchemy.exc import OperationalError, ProgrammingError

from quiz import create_app
from quiz.cli import (
    artwork,
    branches,
    campaign,
    contest,
    database,
    draw,
    privacy,
    referrals,
    risk,
    site,
    staff,
    worker,
)

NOT_SET_UP = "the database is not set up yet: run `quiz setup` first (it creates and migrates it)"


def _app_factory() -> Flask:
    return create_app()


def _missing_table(exc: BaseException) -> bool:
    """SQLite's "no such table" or PostgreSQL's undefined_table (42P01)."""
    if isinstance(exc, OperationalError):
        return "no such table" in str(exc.orig)
    return isinstance(exc, ProgrammingError) and getattr(exc.orig, "sqlstate", None) == "42P01"


class QuizGroup(FlaskGroup):
    """The Flask group, with one line instead of a traceback on a database never set up."""

    def invoke(self, ctx: click.Context) -> Any:
        try:
            return super().invoke(ctx)
        except (OperationalError, ProgrammingError) as exc:
            if _missing_table(exc):
                raise click.ClickException(NOT_SET_UP) from None
            raise


@click.group(cls=QuizGroup, create_app=_app_factory, add_default_commands=True)
def main() -> None:
    """Insurance-knowledge prize quiz: operate the site."""


for _topic in (
    database,
    campaign,
    site,
    staff,
    privacy,
    branches,
    draw,
    referrals,
    risk,
    contest,
    artwork,
    worker,
):
    for _command in _topic.COMMANDS:
        main.add_command(_command)
