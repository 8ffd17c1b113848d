"""`quiz referrals ...`: channels, agent import, link export and re-flagging from the shell."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.campaign.lifecycle import campaign_by_slug, current_campaign
from quiz.cli.context import database
from quiz.privacy.protection import Protector
from quiz.referrals import leaderboard
from quiz.referrals import links as referrals


@click.group("referrals")
def referrals_group() -> None:
    """Referral links for channels, branches and agents."""


@referrals_group.command("create-channel")
@click.argument("code")
@click.argument("name")
@with_appcontext
def create_channel(code: str, name: str) -> None:
    """Create promotion channel CODE called NAME, with its link."""
    with database().transaction() as session:
        try:
            link = referrals.create_channel(session, code, name)
        except referrals.ReferralError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo(f"channel {code}: link code {link.code}")


@referrals_group.command("import-agents")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option(
    "--branch-links/--no-branch-links",
    default=True,
    show_default=True,
    help="also give every branch its own link",
)
@with_appcontext
def import_agents(path: Path, branch_links: bool) -> None:
    """Create or update agents from a CSV (branch code, agent code, name[, mobile])."""
    protector = cast(Protector, current_app.extensions["quiz.protector"])
    try:
        rows = referrals.parse_agents_csv(path.read_bytes())
        # Checked whole first (a bad file saves nothing), then written in short
        # transactions: the site keeps taking registrations while a large file loads.
        result = referrals.import_agents_in_chunks(
            database(), rows, hash_mobile=lambda m: protector.lookup_hash("mobile", m)
        )
    except referrals.ReferralError as exc:
        raise click.ClickException(f"{path}:\n{exc}") from exc
    with database().transaction() as session:
        branches = referrals.ensure_branch_links(session) if branch_links else 0
    click.echo(
        f"agents: {result.created} created, {result.updated} updated; "
        f"links: {result.links_created} agent links, {branches} branch links created"
    )


@referrals_group.command("export-links")
@click.option(
    "--base-url",
    default="http://localhost:8000/",
    show_default=True,
    help="public address of the site, as printed on posters",
)
@click.option(
    "--output",
    "-o",
    type=click.Path(dir_okay=False, path_type=Path),
    default=None,
    help="CSV file to write (default: standard output)",
)
@click.option("--branch", "branch_code", default=None, help="only this branch code")
@with_appcontext
def export_links(base_url: str, output: Path | None, branch_code: str | None) -> None:
    """Every link with its full URL as CSV (UTF-8 with BOM)."""
    from sqlalchemy import select

    from quiz.models import Branch

    with database().transaction(write=False) as session:
        branch_id = None
        if branch_code:
            branch_id = session.scalar(select(Branch.id).where(Branch.code == branch_code))
            if branch_id is None:
                raise click.ClickException(f"no branch with code {branch_code!r}")
        _, rows = referrals.link_rows(session, branch_id=branch_id)
        body = leaderboard.csv_bytes(referrals.export_link_lines(rows, base_url))
    if output is None:
        sys.stdout.buffer.write(body)
    else:
        try:
            output.write_bytes(body)
        except OSError as exc:
            raise click.ClickException(f"cannot write {output}: {exc.strerror}") from exc
        click.echo(f"wrote {len(rows)} links to {output}", err=True)


@referrals_group.command("reflag")
@click.option("--campaign", "slug", default=None, help="campaign slug (default: the served one)")
@with_appcontext
def reflag(slug: str | None) -> None:
    """Recompute self-referral and burst flags of referred entries (after a threshold change)."""
    with database().transaction() as session:
        campaign = current_campaign(session) if slug is None else campaign_by_slug(session, slug)
        if campaign is None:
            raise click.ClickException(f"no campaign {slug!r}" if slug else "no campaign loaded")
        flagged = referrals.reflag(session, campaign)
    click.echo(f"{flagged} referred entries flagged")


COMMANDS: tuple[click.Command, ...] = (referrals_group,)
