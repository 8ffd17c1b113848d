"""`quiz draw ...`: head office runs the draw from the command line (thin wrappers)."""

from __future__ import annotations

import getpass
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.cli.context import database
from quiz.draw import lists, service
from quiz.draw.eligibility import DrawRefused, active_draw
from quiz.draw.replay import replay_command
from quiz.models import MAX_ID, Campaign, Draw


def _operator() -> str:
    try:
        user = getpass.getuser()
    except (KeyError, OSError):  # no passwd entry in some containers
        user = "unknown"
    return f"cli:{user}"[:64]


# The web needs two accounts for these; the console acts alone, so it says so in public.
_CONSOLE_MARK = (
    "marked on /draw and on the printed record as 由服务器控制台执行, with this OS user and time"
)


def _campaign(session: Session, slug: str | None) -> Campaign:
    from quiz.campaign.lifecycle import current_campaign

    if slug:
        found = session.scalars(select(Campaign).where(Campaign.slug == slug)).first()
    else:
        found = current_campaign(session)
    if found is None:
        raise click.ClickException(f"no campaign {slug!r}" if slug else "no campaign loaded")
    return found


def _draw(session: Session, campaign: Campaign, number: int | None) -> Draw:
    draw = active_draw(session, campaign, number)
    if draw is None or draw.campaign_id != campaign.id:
        which = f"draw {number} of this campaign" if number else "this campaign"
        raise click.ClickException(f"no frozen or drawn draw for {which} (run `freeze`)")
    return draw


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except DrawRefused as exc:
        raise click.ClickException(str(exc)) from exc


campaign_option = click.option("--campaign", "slug", help="campaign slug (default: current)")
draw_option = click.option(
    "--draw",
    "number",
    type=click.IntRange(1, MAX_ID),
    help="draw number within the campaign (default: the newest frozen or drawn one)",
)


@click.group("draw")
def draw_group() -> None:
    """The prize draw: freeze the entrants, run once, verify, export, void, replay."""


@draw_group.command("freeze")
@campaign_option
@click.option(
    "--draw",
    "number",
    type=click.IntRange(1, MAX_ID),
    default=1,
    show_default=True,
    help="which of the campaign's declared draws",
)
@with_appcontext
def freeze_command(slug: str | None, number: int) -> None:
    """Number the eligible entries and publish the entrant digest (after the close)."""
    with database().transaction() as session, _refusals():
        campaign = _campaign(session, slug)
        total = service.count_eligible(session, campaign, number)
        with click.progressbar(length=total, label="freezing entrants", file=sys.stderr) as bar:
            draw = service.freeze(
                session, campaign, operator=_operator(), progress=bar.update, number=number
            )
        click.echo(f"draw {draw.id} (number {draw.number}) frozen: {draw.entrant_count} entrants")
        click.echo(f"entrant digest (SHA-256): {draw.entrant_digest}")
        click.echo(f"randomness source: {draw.randomness_source}")


@draw_group.command("run")
@click.argument("randomness")
@campaign_option
@draw_option
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option(
    "--before-draw-at",
    "early_reason",
    metavar="REASON",
    help="run before the campaign's draw_at (a lottery moved to an earlier day); "
    "REASON is written to the audit log",
)
@with_appcontext
def run_command(
    randomness: str, slug: str | None, number: int | None, yes: bool, early_reason: str | None
) -> None:
    """Draw the winners once, with RANDOMNESS exactly as the source published it.

    Refused before the campaign's draw_at unless --before-draw-at gives the reason. Unlike
    the web (two admins), the console acts alone and the run is publicly marked as such.
    """
    with database().transaction() as session, _refusals():
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, number)
        service.check_randomness(randomness, draw)
        click.echo(f"draw {draw.id}: {draw.entrant_count} entrants, digest {draw.entrant_digest}")
        click.echo(f"randomness string (used exactly, {len(randomness)} characters):")
        click.echo(f"  [{randomness}]")
        if early_reason:
            click.echo(f"before the campaign's draw_at ({campaign.draw_at:%Y-%m-%d %H:%M} UTC);")
            click.echo(f"  reason, written to the audit log: {early_reason}")
        if not yes:
            click.confirm("Run the draw now? It can run only once", abort=True)
        count = service.run_draw(
            session, draw, randomness, operator=_operator(), early_reason=early_reason
        )
        click.echo(f"draw {draw.id} done: {count} winners stored")
        click.echo(_CONSOLE_MARK)


@draw_group.command("verify")
@campaign_option
@draw_option
@with_appcontext
def verify_command(slug: str | None, number: int | None) -> None:
    """Recompute the digest and the winners from the stored inputs; exit 1 on mismatch."""
    with database().transaction(write=False) as session, _refusals():
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, number)
        with click.progressbar(
            length=draw.entrant_count, label="reading entrants", file=sys.stderr
        ) as bar:
            result = service.verify_draw(session, draw, progress=bar.update)
        click.echo(f"draw {draw.id} ({draw.status}): {result.entrant_count} entrants")
        click.echo(f"recomputed digest: {result.digest}")
        if result.ok:
            click.echo("OK: entrant file and winners match the stored record")
            return
        for problem in result.problems:
            click.echo(f"MISMATCH: {problem}", err=True)
        sys.exit(1)


@draw_group.command("export-entrants")
@click.argument("path", type=click.Path(dir_okay=False, writable=True, path_type=Path))
@campaign_option
@draw_option
@with_appcontext
def export_entrants_command(path: Path, slug: str | None, number: int | None) -> None:
    """Write the frozen entrant file to PATH (UTF-8, LF, no header)."""
    with database().transaction(write=False) as session:
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, number)
        try:
            with path.open("wb") as sink:
                n = service.export_entrants(session, draw, sink)
        except OSError as exc:
            raise click.ClickException(f"cannot write {path}: {exc.strerror}") from exc
    click.echo(f"wrote {n} entrants to {path}; SHA-256 should be {draw.entrant_digest}")


@draw_group.command("void")
@click.option("--reason", required=True, help="why the draw is voided (kept on record)")
@campaign_option
@draw_option
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@with_appcontext
def void_command(reason: str, slug: str | None, number: int | None, yes: bool) -> None:
    """Void the active draw (its record is kept); a new freeze is then allowed.

    Unlike the web (a request and a second admin's approval), the console acts alone and
    the void is publicly marked as such.
    """
    with database().transaction() as session, _refusals():
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, number)
        if not yes:
            click.confirm(f"Void draw {draw.id} ({draw.status})?", abort=True)
        service.void_draw(session, draw, reason, operator=_operator())
        click.echo(f"draw {draw.id} voided")
        click.echo(_CONSOLE_MARK)


@draw_group.command("winners")
@campaign_option
@draw_option
@with_appcontext
def winners_command(slug: str | None, number: int | None) -> None:
    """Print the winners of a drawn draw as TSV: rank, entry number, tier (with a header)."""
    with database().transaction(write=False) as session:
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, number)
        if draw.status != "drawn":
            raise click.ClickException(f"draw {draw.number} is {draw.status}, not drawn yet")
        click.echo("rank\tentry_no\ttier")
        for row in service.winner_rows(session, draw):
            click.echo(f"{row.rank}\t{row.entry_no}\t{row.tier}")


@draw_group.command("import-entrants")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@click.option("--campaign", "slug", required=True, help="slug of the list_draw campaign")
@click.option(
    "--draw",
    "number",
    type=click.IntRange(1, MAX_ID),
    default=1,
    show_default=True,
    help="which of the campaign's declared draws the list is for",
)
@click.option("--yes", is_flag=True, help="import after the report without asking")
@click.option("--dry-run", is_flag=True, help="print the report only, save nothing")
@with_appcontext
def import_entrants_command(path: Path, slug: str, number: int, yes: bool, dry_run: bool) -> None:
    """Import an entrant list (CSV UTF-8/GB18030 or XLSX) for a list draw.

    Columns: 客户号 (or 保单号), 姓名, 手机号码, 机构代码, optional 资格日期, 邮寄地址.
    The report (accepted, refused with line and reason, duplicates merged by 客户号) comes
    first; a re-import before the freeze replaces the list, after the freeze it is refused.
    """
    from flask import current_app

    db = database()
    with db.transaction(write=False) as session, _refusals():
        campaign = _campaign(session, slug)
        campaign_id = campaign.id
        if dry_run:
            try:
                report = lists.check_list(session, campaign, path, draw_number=number)
            except lists.ListFileError as exc:
                raise click.ClickException(f"文件有误,没有导入任何一行:{exc}") from exc
    if dry_run:
        _print_report(report)
        return

    def confirm(report: lists.ListReport) -> bool:
        # The report of the import's own check: the file is read once before writing.
        _print_report(report)
        question = f"Import {report.accepted} rows as the list of draw {number}?"
        return click.confirm(question, err=True)

    protector = current_app.extensions["quiz.protector"]
    with _refusals():
        try:
            written = [0]

            def progress(rows: int) -> None:
                # A line per 100,000 rows on stderr (the total is known only after the check).
                before, written[0] = written[0], written[0] + rows
                if before // 100_000 != written[0] // 100_000:
                    click.echo(f"written {written[0]:,} rows", err=True)

            outcome = lists.import_list(
                db,
                protector,
                campaign_id,
                path,
                draw_number=number,
                operator=_operator(),
                progress=progress,
                # With --yes the file is judged and written in one pass (a bad file still
                # changes nothing) and the report is printed after.
                confirm=None if yes else confirm,
            )
        except lists.ListFileError as exc:
            raise click.ClickException(f"文件有误,没有导入任何一行:{exc}") from exc
    if outcome is None:
        raise click.ClickException("not imported (nothing was saved)")
    if yes:
        _print_report(outcome.report)
    replaced = f"; replaced import {outcome.replaced}" if outcome.replaced else ""
    click.echo(
        f"imported {outcome.report.accepted} entrants as import {outcome.import_id}{replaced}"
    )


def _print_report(report: lists.ListReport) -> None:
    for line in report.lines():
        click.echo(line)
    click.echo(f"file SHA-256: {report.file_sha256}")


draw_group.add_command(replay_command, "replay")


COMMANDS: tuple[click.Command, ...] = (draw_group,)
