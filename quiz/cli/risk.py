"""`quiz risk ...`: the fraud review queue's clusters as TSV, and recomputing the signals."""

from __future__ import annotations

from typing import cast

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.campaign.lifecycle import campaign_by_slug
from quiz.cli.context import database
from quiz.fraud import review, signals
from quiz.leads.exports import neutralise
from quiz.privacy.protection import Protector

REPORT_HEADER = ("signal", "cluster", "entries", "excluded")


@click.group("risk")
def risk_group() -> None:
    """Risk signals (防刷) and the review queue."""


def _cell(value: object) -> str:
    # One line per cluster whatever was typed: no tab or newline inside a cell, and no
    # cell a spreadsheet would run as a formula.
    return neutralise(" ".join(str(value).split()))


@risk_group.command("report")
@click.option("--campaign", "slug", required=True, help="campaign slug")
@click.option("--no-header", is_flag=True, help="leave out the header line")
@with_appcontext
def report(slug: str, no_header: bool) -> None:
    """Print TSV: signal, cluster key (masked), entries, excluded; largest clusters first."""
    with database().transaction(write=False) as session:
        campaign = campaign_by_slug(session, slug)
        if campaign is None:
            raise click.ClickException(f"no campaign {slug!r}")
        rows = review.report_rows(session, campaign)
    if not no_header:
        click.echo("\t".join(REPORT_HEADER))
    for signal, cluster, entries, excluded in rows:
        click.echo("\t".join((signal, _cell(cluster), str(entries), str(excluded))))


@risk_group.command("recompute")
@click.option("--campaign", "slug", required=True, help="campaign slug")
@with_appcontext
def recompute(slug: str) -> None:
    """Rebuild every risk signal of the campaign from its entries."""
    protector = cast(Protector, current_app.extensions["quiz.protector"])
    with database().transaction() as session:
        campaign = campaign_by_slug(session, slug)
        if campaign is None:
            raise click.ClickException(f"no campaign {slug!r}")
        flagged = signals.recompute(session, protector, campaign)
    click.echo(f"{flagged} entries with a risk signal")


COMMANDS: tuple[click.Command, ...] = (risk_group,)
