"""`quiz branches ...` (branch table and mapping as CSV, reassign) and `quiz locate`."""

from __future__ import annotations

import csv
import io
import sys
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO

import click
from flask.cli import with_appcontext

from quiz.branches.routing import RouteTable
from quiz.cli.context import database
from quiz.regions.locate import HEADER, locate_row

EMPTY_ROW = "\t" * (len(HEADER) - 1) + "\n"


@click.group("branches")
def branches_group() -> None:
    """Branches (机构) and the province/city -> branch mapping."""


def _write_csv(rows: Iterable[list[str]], output: IO[bytes], bom: bool) -> int:
    text = io.StringIO(newline="")
    writer = csv.writer(text, lineterminator="\r\n")
    count = -1  # the header is not a data row
    for row in rows:
        writer.writerow(row)
        count += 1
    output.write(("\ufeff" if bom else "").encode() + text.getvalue().encode("utf-8"))
    output.flush()
    return count


def _read_file(path: Path) -> bytes:
    return path.read_bytes()


def _fail_with(errors: list[str], path: Path) -> None:
    for message in errors:
        click.echo(f"{path}: {message}", err=True)
    raise click.ClickException(f"{path}: {len(errors)} problem(s); nothing was imported")


@branches_group.command("import-branches")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_branches_command(path: Path) -> None:
    """Create or update branches from a CSV file (code,name,level,parent_code,contact,target)."""
    from quiz.branches.service import CsvImportError, import_branches

    try:
        with database().transaction() as session:
            created, updated = import_branches(session, _read_file(path))
    except CsvImportError as exc:
        _fail_with(exc.errors, path)
    click.echo(f"{created} branch(es) created, {updated} updated")


@branches_group.command("export-branches")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--bom/--no-bom", default=True, show_default=True, help="UTF-8 BOM for Excel")
@with_appcontext
def export_branches_command(output: Path | None, bom: bool) -> None:
    """Write the branch table as CSV (to standard output unless -o)."""
    from quiz.branches.service import export_branches

    with database().transaction(write=False) as session:
        rows = list(export_branches(session))
    _export(rows, output, bom)


@branches_group.command("import-routes")
@click.argument("path", type=click.Path(exists=True, dir_okay=False, path_type=Path))
@with_appcontext
def import_routes_command(path: Path) -> None:
    """Replace the mapping with a CSV file (province_code,city_code,branch_code)."""
    from quiz.branches.service import CsvImportError, import_routes, uncovered_provinces

    try:
        with database().transaction() as session:
            defaults, overrides = import_routes(session, _read_file(path))
            uncovered = uncovered_provinces(session)
    except CsvImportError as exc:
        _fail_with(exc.errors, path)
    click.echo(f"mapping replaced: {defaults} province default(s), {overrides} city override(s)")
    if uncovered:
        click.echo(
            f"warning: no branch for {', '.join(uncovered)}: their leads go to the "
            "unassigned queue",
            err=True,
        )
    click.echo("existing leads keep their branch until you run `quiz branches reassign`")


@branches_group.command("export-routes")
@click.option("-o", "--output", type=click.Path(dir_okay=False, path_type=Path), default=None)
@click.option("--bom/--no-bom", default=True, show_default=True, help="UTF-8 BOM for Excel")
@with_appcontext
def export_routes_command(output: Path | None, bom: bool) -> None:
    """Write the mapping as CSV (to standard output unless -o)."""
    from quiz.branches.service import export_routes

    with database().transaction(write=False) as session:
        rows = list(export_routes(session))
    _export(rows, output, bom)


def _export(rows: list[list[str]], output: Path | None, bom: bool) -> None:
    if output is None:
        _write_csv(rows, sys.stdout.buffer, bom)
        return
    try:
        with output.open("wb") as stream:
            count = _write_csv(rows, stream, bom)
    except OSError as exc:
        raise click.ClickException(f"cannot write {output}: {exc.strerror}") from exc
    click.echo(f"{count} row(s) written to {output}", err=True)


@branches_group.command("reassign")
@with_appcontext
def reassign_command() -> None:
    """Re-apply the mapping to existing leads and print how many moved."""
    from quiz.branches.routing import reassign_all
    from quiz.branches.service import branch_lead_counts
    from quiz.staff import audit

    with database().transaction() as session:
        moved = reassign_all(session)
        unassigned = branch_lead_counts(session).get(None, 0)
        audit.record(
            session,
            None,
            "branches.reassign",
            "mapping",
            {"moved": moved, "unassigned": unassigned},
            actor_name="cli",
        )
    click.echo(f"{moved} lead(s) moved to another branch; {unassigned} lead(s) unassigned")


# --- quiz locate --------------------------------------------------------------


def locate_stream(lines: Iterable[str], table: RouteTable, *, header: bool) -> Iterator[str]:
    """One TSV row per input line, so output line N answers input line N.

    Surrounding whitespace (and the line end, CR included) is stripped; an empty line
    gives an empty row (six empty fields) rather than being dropped.
    """
    if header:
        yield "\t".join(HEADER) + "\n"
    for line in lines:
        address = line.strip()
        yield locate_row(address, table.for_location) + "\n" if address else EMPTY_ROW


@click.command("locate")
@click.option("--header", is_flag=True, help="Print a header row first.")
@with_appcontext
def locate_command(header: bool) -> None:
    """Addresses on standard input (one a line) -> TSV on standard output.

    Columns: address, province, city, district, division code, branch code (empty when
    unresolved), using the branch mapping in the database.
    """
    from quiz.branches.routing import load_route_table
    from quiz.regions.parser import warm_up

    with database().transaction(write=False) as session:
        table = load_route_table(session)
    database().dispose()  # nothing more to ask the database
    warm_up()
    # utf-8-sig drops a BOM at the start; universal newlines turn CRLF into LF.
    source = io.TextIOWrapper(
        sys.stdin.buffer, encoding="utf-8-sig", errors="replace", newline=None
    )
    sink = io.TextIOWrapper(sys.stdout.buffer, encoding="utf-8", newline="\n", write_through=False)
    batch: list[str] = []
    for row in locate_stream(source, table, header=header):
        batch.append(row)
        if len(batch) >= 4096:
            sink.write("".join(batch))
            batch.clear()
    sink.write("".join(batch))
    sink.flush()
    sink.detach()  # leave sys.stdout's buffer open for click
    source.detach()


__all__ = ["branches_group", "locate_command", "locate_stream"]


COMMANDS: tuple[click.Command, ...] = (branches_group, locate_command)
