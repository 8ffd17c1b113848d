"""`quiz campaign ...`: check and load campaign files."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.cli.context import database


@click.group("campaign")
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
        # Every problem, with its line and the editor's Chinese wording of it.
        for problem in exc.errors:
            where = f"line {problem.line}: " if problem.line is not None else ""
            click.echo(f"{path}: {where}{problem.message} ({problem.chinese})", err=True)
        raise click.ClickException(f"{path}: {len(exc.errors)} problem(s)") from exc
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


@campaign_group.command("export")
@click.argument("slug")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@with_appcontext
def campaign_export(slug: str, path: Path) -> None:
    """Write a stored campaign (as edited in the browser) as a campaign file."""
    from sqlalchemy import select

    from quiz.campaign.document import campaign_toml
    from quiz.models import Campaign

    with database().transaction(write=False) as session:
        campaign = session.scalar(select(Campaign).where(Campaign.slug == slug))
        if campaign is None:
            raise click.ClickException(f"no campaign with the slug {slug!r}")
        text = campaign_toml(session, campaign)
    path.write_text(text, encoding="utf-8")
    click.echo(f"wrote campaign {slug!r} to {path}")


COMMANDS: tuple[click.Command, ...] = (campaign_group,)
