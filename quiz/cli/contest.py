"""`quiz contest ...`: the staff knowledge contest's roster, invitation codes and results.

The group lives in its own module: other contest kinds add their commands to it here.
"""

from __future__ import annotations

import sys
from pathlib import Path
from typing import cast

import click
from flask import current_app
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.campaign.contest_spec import group_names
from quiz.cli.context import database
from quiz.contest import exports, ranking, roster
from quiz.models import Campaign
from quiz.privacy.protection import Protector


@click.group("contest")
def contest_group() -> None:
    """Contests: the staff knowledge contest (员工知识竞赛: roster, invitation codes,
    results) and the children's drawing contest (works, purge, erase)."""


def _contest(session: Session, slug: str) -> Campaign:
    campaign = session.scalars(select(Campaign).where(Campaign.slug == slug)).first()
    if campaign is None:
        raise click.ClickException(f"no campaign with slug {slug!r} (see `quiz campaign list`)")
    if campaign.kind != "staff_contest":
        raise click.ClickException(f"{slug} is a {campaign.kind} campaign, not a staff_contest")
    return campaign


def _protector() -> Protector:
    return cast(Protector, current_app.extensions["quiz.protector"])


@contest_group.command("import-roster")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "slug", required=True, help="the contest's slug (/c/<slug>/)")
@click.option("--check", is_flag=True, help="report only, save nothing")
@with_appcontext
def import_roster(path: Path, slug: str, check: bool) -> None:
    """Check and save the roster in PATH (CSV or XLSX: 工号, 姓名, 机构代码, 组别[, 手机号码]).

    Every row is checked first and the report printed; any problem saves nothing
    (exit status 1). The roster can be imported again until the contest starts.
    """
    with database().transaction() as session:
        campaign = _contest(session, slug)
        try:
            rows = roster.read_roster(path.read_bytes(), path.name)
        except roster.RosterError as exc:
            raise click.ClickException(f"{path}: {exc}") from exc
        report = roster.check_roster(session, campaign, rows)
        names = group_names(campaign.content.get("contest") or {})
        counts = ", ".join(f"{names.get(k, k)} {v}" for k, v in report.by_group.items())
        click.echo(
            f"{len(report.rows)} contestant(s) ok ({counts or 'none'}) in {report.branches} "
            f"branch(es): {report.new} new, {report.updated} updated, {report.removed} removed"
        )
        for problem in report.problems:
            click.echo(f"{path}: {problem}", err=True)
        if report.problems or not report.rows:
            raise click.ClickException("nothing saved: fix the rows above and import again")
        if check:
            click.echo("checked only (--check): nothing saved")
            return
        try:
            roster.save_roster(session, campaign, report, _protector())
        except roster.RosterError as exc:
            raise click.ClickException(str(exc)) from exc
        click.echo("roster saved")


@contest_group.command("invitations")
@click.option("--campaign", "slug", required=True)
@click.option(
    "--base-url", required=True, help="the site's public address, e.g. https://quiz.example.cn"
)
@click.option("--branch", "branch_code", default=None, help="only this branch's contestants")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@with_appcontext
def invitations(slug: str, base_url: str, branch_code: str | None, output: Path | None) -> None:
    """Issue new invitation codes (earlier ones stop working) and write them as CSV with
    sign-in links: 工号, 姓名, 机构代码, 机构, 组别, 邀请码, 登录链接."""
    from quiz.models import Branch

    with database().transaction() as session:
        campaign = _contest(session, slug)
        branch_id = None
        if branch_code:
            branch = session.scalars(select(Branch).where(Branch.code == branch_code)).first()
            if branch is None:
                raise click.ClickException(f"no branch {branch_code}")
            branch_id = branch.id
        issued = roster.issue_invitations(session, campaign, _protector(), branch_id=branch_id)
        url = f"{base_url.rstrip('/')}/c/{campaign.slug}/"
        data = exports.csv_file(exports.INVITE_HEADERS, exports.invitation_rows(issued, url))
    if output is None:
        sys.stdout.buffer.write(data)
    else:
        output.write_bytes(data)
        click.echo(f"{len(issued)} invitation code(s) written to {output}", err=True)


@contest_group.command("results")
@click.option("--campaign", "slug", required=True)
@click.option("--no-header", is_flag=True)
@with_appcontext
def results(slug: str, no_header: bool) -> None:
    """Ranking per group as TSV: group, rank, 工号, 姓名, 机构代码, score, seconds.

    Before the end it is the live ranking of the papers already closed (the CLI is head
    office's tool: the staff scoreboard's freeze does not apply)."""
    with database().transaction(write=False) as session:
        campaign = _contest(session, slug)
        now = ranking.utcnow()
        live = ranking.board_at(campaign, now)
        board = ranking.Board(
            live.state, max(live.cutoff, min(now, campaign.closes_at)), live.freeze_at
        )
        rows = ranking.results_tsv_rows(
            campaign, ranking.ranking(session, campaign, now=now, board=board)
        )
    if not no_header:
        click.echo("group\trank\tstaff_no\tname\tbranch_code\tscore\tseconds")
    for row in rows:
        click.echo("\t".join(cell.replace("\t", " ") for cell in row))


COMMANDS: tuple[click.Command, ...] = (contest_group,)
