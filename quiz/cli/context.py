"""What every command shares: the app's database, and who runs the command."""

from __future__ import annotations

from typing import cast

from flask import current_app

from quiz.db import Database


def database() -> Database:
    """The database of the app the command runs in."""
    return cast(Database, current_app.extensions["quiz.db"])
