"""The `quiz` command line: thin click wrappers over the services."""

from __future__ import annotations

import os
import shutil
import sys
from pathlib import Path
from typing import cast

import click
from flask import Flask, current_app
from flask.cli import FlaskGroup, with_appcontext
from sqlalchemy import func, select

from quiz import create_app
from quiz.db import Database

ROOT = Path(__file__).resolve().parents[2]


def _app_factory() -> Flask:
    return create_app()


@click.group(cls=FlaskGroup, create_app=_app_factory, add_default_commands=True)
def main() -> None:
    """Insurance-knowledge prize quiz: operate the site."""


def database() -> Database:
    return cast(Database, current_app.extensions["quiz.db"])


# --- database ---------------------------------------------------------------


@main.group("db")
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


# --- campaign ---------------------------------------------------------------


@main.group("campaign")
def campaign_group() -> None:
    """Campaign file: check and load."""


@campaign_group.command("check")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
def campaign_check(path: Path) -> None:
    """Validate a campaign file without loading it."""
    from quiz.campaign.spec import CampaignFileError, load_campaign_file

    try:
        spec = load_campaign_file(path)
    except CampaignFileError as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    click.echo(f"{path}: OK ({len(spec.questions)} questions, {spec.name})")


@campaign_group.command("load")
@click.argument(
    "path", required=False, type=click.Path(exists=True, dir_okay=False, path_type=Path)
)
@with_appcontext
def campaign_load(path: Path | None) -> None:
    """Validate and load a campaign file (default: the shipped demo campaign)."""
    from quiz.campaign.spec import (
        CampaignFileError,
        default_campaign_path,
        install_campaign,
        load_campaign_file,
    )

    path = path or Path(current_app.config.get("QUIZ_CAMPAIGN_FILE") or default_campaign_path())
    try:
        spec = load_campaign_file(path)
        with database().transaction() as session:
            campaign = install_campaign(session, spec)
    except (CampaignFileError, OSError) as exc:
        raise click.ClickException(f"{path}: {exc}") from exc
    click.echo(f"loaded campaign {campaign.slug!r}: {spec.name} ({len(spec.questions)} questions)")


# --- setup and serving ------------------------------------------------------


def setup_site() -> None:
    """Migrate, load the campaign if there is none, seed the default branches if empty."""
    from quiz.branches.service import seed_default_branches
    from quiz.campaign.spec import (
        CampaignFileError,
        default_campaign_path,
        install_campaign,
        load_campaign_file,
    )
    from quiz.migrate import upgrade
    from quiz.models import Campaign

    upgrade(database().url, protector=current_app.extensions["quiz.protector"])
    with database().transaction() as session:
        if not session.scalar(select(func.count()).select_from(Campaign)):
            path = current_app.config.get("QUIZ_CAMPAIGN_FILE") or default_campaign_path()
            try:
                install_campaign(session, load_campaign_file(Path(path)))
            except (CampaignFileError, OSError) as exc:
                raise click.ClickException(f"QUIZ_CAMPAIGN_FILE {path}: {exc}") from exc
            click.echo(f"loaded campaign from {path}")
        created = seed_default_branches(session)
        if created:
            click.echo(f"created {created} default provincial branches and their routes")


@main.command("setup")
@with_appcontext
def setup_command() -> None:
    """Create or migrate the database and load the demo campaign and branches."""
    setup_site()
    click.echo("setup complete")


def _worker_count(asked: int | None, storage: str) -> int | None:
    """The -w to pass to gunicorn (None: its config's default), or refuse per-worker limits."""
    if not storage.startswith("memory://"):
        return asked
    configured = asked or current_app.config.get("WEB_CONCURRENCY")
    if configured is None:
        click.echo(
            "RATELIMIT_STORAGE_URI=memory://: serving with one worker, so that the rate "
            "limits hold for the whole site (set RATELIMIT_STORAGE_URI=redis://... for more)"
        )
        return 1
    if int(configured) > 1:
        login = current_app.config["QUIZ_LOGIN_LIMIT"]
        raise click.ClickException(
            f"{configured} workers with RATELIMIT_STORAGE_URI=memory:// would each keep their "
            f"own rate-limit counts, so every limit (sign-in: {login}) "
            f"would be multiplied by {configured}. Set RATELIMIT_STORAGE_URI=redis://host:6379/0 "
            "(shared by all workers) or serve with --workers 1."
        )
    return int(configured)


@main.command("serve")
@click.option("--host", default="127.0.0.1", show_default=True)
@click.option("--port", default=8000, show_default=True, type=int)
@click.option("--workers", default=None, type=int, help="default: from the CPU count")
@with_appcontext
def serve(host: str, port: int, workers: int | None) -> None:
    """Set up the database, then serve the site with gunicorn.

    With memory:// rate-limit storage each worker would count on its own (ten sign-in
    attempts a minute per worker, not per site): several workers are refused, and
    without --workers or WEB_CONCURRENCY the site runs one worker and says so.
    """
    workers = _worker_count(workers, str(current_app.config["RATELIMIT_STORAGE_URI"]))
    setup_site()
    gunicorn = shutil.which("gunicorn", path=str(Path(sys.executable).parent)) or "gunicorn"
    args = [
        gunicorn,
        "-c",
        str(ROOT / "quiz" / "server" / "gunicorn.conf.py"),
        "-b",
        f"{host}:{port}",
    ]
    if workers:
        args += ["-w", str(workers)]
        os.environ["WEB_CONCURRENCY"] = str(workers)
    args.append("wsgi:app")
    click.echo(f"serving the quiz at http://{host}:{port}/  (staff pages: /admin/)")
    os.chdir(ROOT)
    os.execv(args[0], args)  # noqa: S606  (replace this process with gunicorn)


# --- staff accounts -----------------------------------------------------------

from quiz.cli.staff import staff as _staff_group  # noqa: E402

main.add_command(_staff_group)


# --- personal data: keys, purge, deletion requests, backups ----------------

from quiz.cli.privacy import register as _register_privacy  # noqa: E402

_register_privacy(main)


# --- branches and bulk address location ---------------------------------------

from quiz.cli.branches import branches_group, locate_command  # noqa: E402

main.add_command(branches_group)
main.add_command(locate_command)

from quiz.cli.draw import draw_group  # noqa: E402

main.add_command(draw_group)

# --- referral links, posters and the leaderboard ------------------------------

from quiz.cli.referrals import referrals_group  # noqa: E402

main.add_command(referrals_group)
