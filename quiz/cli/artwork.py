"""`quiz contest ...` for the drawing contest: the works TSV, retention purge, erasure.

The `contest` group is the staff contest's (quiz/cli/contest.py); these commands join it.
"""

from __future__ import annotations

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select

from quiz.cli.contest import contest_group
from quiz.cli.context import database


def _store():  # type: ignore[no-untyped-def]
    from quiz.artwork.images import store_for

    return store_for(current_app.config.get("QUIZ_MEDIA_DIR"), current_app.instance_path)


@contest_group.command("works")
@click.option("--campaign", "slug", required=True, help="the drawing contest's slug")
@with_appcontext
def works_command(slug: str) -> None:
    """Print one TSV line per work: group, work number, branch code, round, mean, award."""
    from quiz.artwork.awards import works_tsv
    from quiz.campaign.artwork_settings import from_content
    from quiz.models import Campaign

    with database().transaction(write=False) as session:
        campaign = session.scalars(select(Campaign).where(Campaign.slug == slug)).first()
        settings = from_content(campaign.content) if campaign else None
        if campaign is None or settings is None:
            raise click.ClickException(f"no drawing contest with the slug {slug!r}")
        for line in works_tsv(session, campaign, settings):
            click.echo(line)


@contest_group.command("purge")
@click.option("--dry-run", is_flag=True, help="count what would be erased, erase nothing")
@with_appcontext
def purge_command(dry_run: bool) -> None:
    """Erase contest families (child, guardian, pictures) whose retention period is over."""
    from quiz.artwork.retention import purge
    from quiz.staff import audit

    with database().transaction() as session:
        report = purge(session, _store(), dry_run=dry_run)
        if not dry_run and report.families:
            audit.record(
                session,
                None,
                "artwork.purge",
                "",
                {"families": report.families},
                actor_name="cli",
            )
    verb = "would erase" if dry_run else "erased"
    click.echo(
        f"{verb} {report.families} families, {report.children} children, {report.files} files"
    )


@contest_group.command("erase")
@click.option("--mobile", required=True, help="the guardian's mobile (an erasure request)")
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def erase_command(mobile: str, yes: bool) -> None:
    """Erase every contest family a guardian's mobile signed up, with their pictures."""
    from quiz.artwork.retention import erase_family, families_by_mobile
    from quiz.identity import IdentityError, validate_mobile
    from quiz.staff import audit

    try:
        mobile = validate_mobile(mobile)
    except IdentityError as exc:
        raise click.ClickException(str(exc)) from None
    with database().transaction() as session:
        families = families_by_mobile(session, current_app.extensions["quiz.protector"], mobile)
        if not families:
            click.echo("no contest family with this mobile")
            return
        children = sum(len(f.children) for f in families)
        if not yes:
            click.confirm(f"erase {len(families)} families and {children} children?", abort=True)
        report = None
        for family in families:
            report = erase_family(session, _store(), family, report)
        assert report is not None
        audit.record(
            session, None, "artwork.erase", "", {"families": report.families}, actor_name="cli"
        )
    click.echo(
        f"erased {report.families} families, {report.children} children, {report.files} files"
    )


COMMANDS: tuple[click.Command, ...] = ()  # registered through the contest group
