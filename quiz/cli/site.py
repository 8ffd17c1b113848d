"""`quiz setup` and `quiz serve`: a migrated database with the demo loaded, then gunicorn."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path
from typing import Any

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.cli.context import database

ROOT = Path(__file__).resolve().parents[2]


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
    first_setup = False
    with database().transaction() as session:
        if not session.scalar(select(func.count()).select_from(Campaign)):
            first_setup = True
            path = current_app.config.get("QUIZ_CAMPAIGN_FILE") or default_campaign_path()
            try:
                install_campaign(session, load_campaign_file(Path(path)))
            except (CampaignFileError, OSError) as exc:
                raise click.ClickException(f"QUIZ_CAMPAIGN_FILE {path}: {exc}") from exc
            click.echo(f"loaded campaign from {path}")
        created = seed_default_branches(session)
        if created:
            click.echo(f"created {created} default provincial branches and their routes")
        if not current_app.config.get("QUIZ_CAMPAIGN_FILE"):
            _install_contest_demo(session)
            _load_demo_contest(session)
    # The shipped demos of the other kinds, on a site set up with the shipped files only.
    if first_setup and not current_app.config.get("QUIZ_CAMPAIGN_FILE"):
        load_list_draw_demo()
        if current_app.config["QUIZ_ENV"] != "production":
            create_demo_staff()


# Demo accounts: head office (every staff page) and one branch (its own leads only).
DEMO_STAFF = (
    ("demo-admin", "admin", None, "总公司演示账号"),
    ("demo-b44", "branch", "B44", "广东分公司演示账号"),
)


def create_demo_staff() -> list[tuple[str, str]]:
    """On a demo site with no staff yet: the demo accounts with random passwords, printed
    once so a newcomer can sign in (never in production: nobody is meant to keep them)."""
    import secrets

    from quiz.models import StaffUser
    from quiz.staff import auth

    created: list[tuple[str, str]] = []
    with database().transaction() as session:
        if session.scalar(select(func.count()).select_from(StaffUser)):
            return created
        for username, role, branch_code, name in DEMO_STAFF:
            password = secrets.token_urlsafe(12)
            branch_id = auth.branch_by_code(session, branch_code).id if branch_code else None
            auth.create_user(
                session,
                username,
                password,
                role,
                branch_id=branch_id,
                can_call=role == "branch",
                display_name=name,
                actor_name="quiz setup (demo)",
            )
            created.append((username, password))
    click.echo("demo staff accounts (shown once; sign in at /admin/login):")
    for (username, password), (_, role, branch_code, _) in zip(created, DEMO_STAFF, strict=True):
        where = "head office, enrols a second factor (TOTP app) at first sign-in"
        if role == "branch":
            where = f"branch {branch_code}, its own leads only"
        click.echo(f"  {username}  password {password}  ({where})")
    return created


def _install_contest_demo(session: Any) -> None:
    """The demo staff knowledge contest beside the demo prize quiz, its codes printed once."""
    from quiz.contest.demo import install_demo

    issued = install_demo(session, current_app.extensions["quiz.protector"])
    if issued:
        click.echo(
            "loaded the demo staff knowledge contest at /c/claims-contest-2026/; sign in with"
        )
        for invitation in issued:
            click.echo(
                f"  工号 {invitation.staff_no}  邀请码 {invitation.code}  ({invitation.group_name})"
            )


def _load_demo_contest(session: Session) -> None:
    """The demo drawing contest beside the prize quiz (only with the shipped campaign)."""
    from quiz.artwork.demo import load_demo
    from quiz.artwork.images import store_for
    from quiz.campaign.spec import install_campaign, load_campaign_file
    from quiz.models import Campaign

    path = ROOT / "quiz" / "data" / "campaign" / "drawing-contest.toml"
    spec = load_campaign_file(path)
    campaign = session.scalars(select(Campaign).where(Campaign.slug == spec.slug)).first()
    if campaign is None:
        campaign = install_campaign(session, spec)
        click.echo(f"loaded the demo drawing contest from {path} (/c/{spec.slug}/)")
    store = store_for(current_app.config.get("QUIZ_MEDIA_DIR"), current_app.instance_path)
    added = load_demo(session, current_app.extensions["quiz.protector"], store, campaign)
    if added:
        click.echo(f"added {added} demo families and drawings to the drawing contest")


def load_list_draw_demo(rows: int = 300) -> None:
    """Load the example list draw (reinstatement-draw.toml) and import a generated list of
    `rows` fictitious customers, so its page and back office show something."""
    import tempfile

    from quiz.campaign.spec import install_campaign, load_campaign_file
    from quiz.clock import CHINA
    from quiz.draw import demo, lists
    from quiz.models import Branch

    path = ROOT / "quiz" / "data" / "campaign" / "reinstatement-draw.toml"
    with database().transaction() as session:
        campaign = install_campaign(session, load_campaign_file(path))
        campaign_id = campaign.id
        first = campaign.opens_at.astimezone(CHINA).date()
        last = campaign.closes_at.astimezone(CHINA).date()
        codes = list(
            session.scalars(select(Branch.code).where(Branch.code != "HO").order_by(Branch.code))
        )
    with tempfile.TemporaryDirectory() as tmp:
        listed = demo.write_list(Path(tmp) / "demo-list.csv", rows, codes or ["HO"], first, last)
        lists.import_list(
            database(),
            current_app.extensions["quiz.protector"],
            campaign_id,
            listed,
            operator="quiz setup (demo)",
        )
    click.echo(f"loaded the list-draw demo from {path.name} with {rows} generated entrants")


@click.command("setup")
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


def _start_worker() -> None:
    """The task queue's consumer beside gunicorn (one machine, the default): it exits when
    this process (gunicorn after the exec below) does. With several hosts or a systemd
    unit for `quiz worker`, QUIZ_SERVE_WORKER=0 leaves it out."""
    if os.environ.get("QUIZ_SERVE_WORKER", "1") == "0":
        return
    if current_app.config.get("QUIZ_QUEUE_URL") == "immediate":  # tasks run in place
        return
    quiz = shutil.which("quiz", path=str(Path(sys.executable).parent)) or "quiz"
    subprocess.Popen([quiz, "worker", "--parent", str(os.getpid())])  # noqa: S603
    click.echo("started the task queue worker (quiz worker)")


@click.command("serve")
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
    _start_worker()
    click.echo(f"serving the quiz at http://{host}:{port}/  (staff pages: /admin/)")
    os.chdir(ROOT)
    os.execv(args[0], args)  # noqa: S606  (replace this process with gunicorn)


COMMANDS: tuple[click.Command, ...] = (setup_command, serve)
