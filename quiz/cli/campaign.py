"""`quiz campaign ...`: check and load campaign files."""

from __future__ import annotations

from pathlib import Path

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.cli.context import database


@click.group("campaign")
def campaign_group() -> None:
    """Campaigns: check and load campaign files, list what is loaded."""


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


LIST_HEADER = ("slug", "kind", "status", "opens_at", "closes_at", "entries")


@campaign_group.command("list")
@click.option("--no-header", is_flag=True, help="Leave out the header line.")
@with_appcontext
def campaign_list(no_header: bool) -> None:
    """One TSV line per campaign: slug, kind, status, opens_at, closes_at, entries.

    The first line is the header (--no-header leaves it out). status is the lifecycle
    stage (draft, scheduled, open, closed, drawn, archived); times are ISO 8601 UTC;
    entries counts registrations, finished or not.
    """
    from quiz.campaign.workspace import campaign_rows

    if not no_header:
        click.echo("\t".join(LIST_HEADER))
    with database().transaction(write=False) as session:
        for row in campaign_rows(session):
            click.echo(
                "\t".join(
                    (
                        row.slug,
                        row.kind,
                        row.stage,
                        row.opens_at.isoformat(),
                        row.closes_at.isoformat(),
                        str(row.entries),
                    )
                )
            )


COMMANDS: tuple[click.Command, ...] = (campaign_group,)
