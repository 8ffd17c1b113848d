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
from quiz.draw import service
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


def _draw(session: Session, campaign: Campaign, draw_id: int | None) -> Draw:
    draw = session.get(Draw, draw_id) if draw_id else active_draw(session, campaign)
    if draw is None or draw.campaign_id != campaign.id:
        raise click.ClickException("no frozen or drawn draw for this campaign (run `freeze`)")
    return draw


@contextmanager
def _refusals() -> Iterator[None]:
    try:
        yield
    except DrawRefused as exc:
        raise click.ClickException(str(exc)) from exc


campaign_option = click.option("--campaign", "slug", help="campaign slug (default: current)")
draw_option = click.option(
    "--draw", "draw_id", type=click.IntRange(1, MAX_ID), help="draw id (default: active)"
)


@click.group("draw")
def draw_group() -> None:
    """The prize draw: freeze the entrants, run once, verify, export, void, replay."""


@draw_group.command("freeze")
@campaign_option
@with_appcontext
def freeze_command(slug: str | None) -> None:
    """Number the eligible entries and publish the entrant digest (after the close)."""
    with database().transaction() as session, _refusals():
        campaign = _campaign(session, slug)
        total = service.count_eligible(session, campaign)
        with click.progressbar(length=total, label="freezing entrants", file=sys.stderr) as bar:
            draw = service.freeze(session, campaign, operator=_operator(), progress=bar.update)
        click.echo(f"draw {draw.id} frozen: {draw.entrant_count} entrants")
        click.echo(f"entrant digest (SHA-256): {draw.entrant_digest}")
        click.echo(f"randomness source: {draw.randomness_source}")


@draw_group.command("run")
@click.argument("randomness")
@campaign_option
@click.option("--yes", is_flag=True, help="do not ask for confirmation")
@click.option(
    "--before-draw-at",
    "early_reason",
    metavar="REASON",
    help="run before the campaign's draw_at (a lottery moved to an earlier day); "
    "REASON is written to the audit log",
)
@with_appcontext
def run_command(randomness: str, slug: str | None, yes: bool, early_reason: str | None) -> None:
    """Draw the winners once, with RANDOMNESS exactly as the source published it.

    Refused before the campaign's draw_at unless --before-draw-at gives the reason. Unlike
    the web (two admins), the console acts alone and the run is publicly marked as such.
    """
    with database().transaction() as session, _refusals():
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, None)
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
def verify_command(slug: str | None, draw_id: int | None) -> None:
    """Recompute the digest and the winners from the stored inputs; exit 1 on mismatch."""
    with database().transaction(write=False) as session, _refusals():
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, draw_id)
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
def export_entrants_command(path: Path, slug: str | None, draw_id: int | None) -> None:
    """Write the frozen entrant file to PATH (UTF-8, LF, no header)."""
    with database().transaction(write=False) as session:
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, draw_id)
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
def void_command(reason: str, slug: str | None, draw_id: int | None, yes: bool) -> None:
    """Void the active draw (its record is kept); a new freeze is then allowed.

    Unlike the web (a request and a second admin's approval), the console acts alone and
    the void is publicly marked as such.
    """
    with database().transaction() as session, _refusals():
        campaign = _campaign(session, slug)
        draw = _draw(session, campaign, draw_id)
        if not yes:
            click.confirm(f"Void draw {draw.id} ({draw.status})?", abort=True)
        service.void_draw(session, draw, reason, operator=_operator())
        click.echo(f"draw {draw.id} voided")
        click.echo(_CONSOLE_MARK)


draw_group.add_command(replay_command, "replay")


COMMANDS: tuple[click.Command, ...] = (draw_group,)
