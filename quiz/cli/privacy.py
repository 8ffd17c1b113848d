"""CLI for personal-data protection: keys, retention purge, deletion requests, backups."""

from __future__ import annotations

import getpass
from pathlib import Path
from typing import cast

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.cli.context import database
from quiz.privacy.protection import KeyError_, Protector, new_keys, split_keys
from quiz.staff.audit import record


def _protector() -> Protector:
    return cast(Protector, current_app.extensions["quiz.protector"])


def _actor() -> str:
    """Audit name of whoever runs the command."""
    try:
        user = getpass.getuser()
    except (KeyError, OSError):
        user = "unknown"
    return f"cli:{user}"[:64]


# --- keys -------------------------------------------------------------------


@click.group("keys")
def keys_group() -> None:
    """Encryption and hash keys: generate, rotate."""


@keys_group.command("generate")
def keys_generate() -> None:
    """Print fresh random keys (as environment lines); nothing is stored."""
    for name, value in new_keys().items():
        click.echo(f"{name}={value}")


@keys_group.command("rotate")
@click.option(
    "--new-hash-key",
    envvar="QUIZ_NEW_HASH_KEY",
    default=None,
    help="recompute look-up hashes with this key (env QUIZ_NEW_HASH_KEY)",
)
@click.option("--batch-size", default=500, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def keys_rotate(new_hash_key: str | None, batch_size: int) -> None:
    """Re-encrypt stored personal data under the newest QUIZ_DATA_KEY (resumable)."""
    from quiz.privacy.keys import KeyRing, rotate_keys

    data_keys = split_keys(current_app.config["QUIZ_DATA_KEY"])
    try:
        ring = KeyRing(data_keys, current_app.config["QUIZ_HASH_KEY"], new_hash_key)
    except KeyError_ as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo(
        f"{len(data_keys)} data key(s) configured; encrypting under the first"
        + ("; recomputing hashes with the new hash key" if ring.new_hasher else "")
    )

    def progress(what: str, done: int, total: int) -> None:
        click.echo(f"  {what}: {done}/{total}")

    try:
        report = rotate_keys(database(), ring, batch_size=batch_size, progress=progress)
    except KeyError_ as exc:
        raise click.ClickException(f"{exc}; was an old key removed too early?") from exc
    with database().transaction() as session:
        detail = {
            **report.as_dict(),
            "data_keys": len(data_keys),
            "new_hash_key": bool(ring.new_hasher),
        }
        record(session, None, "keys.rotate", "database", detail, actor_name=_actor())
    click.echo(
        f"done: {report.participants_seen} participants, {report.list_entrants_seen} list "
        f"entrants, {report.tokens_reencrypted} values "
        f"re-encrypted, {report.staff_reencrypted} staff secrets re-encrypted, "
        f"{report.hashes_recomputed} hashes, {report.exclusions_rehashed} exclusions and "
        f"{report.agents_rehashed} agents' mobiles recomputed"
    )
    if report.unmatched_exclusions:
        click.echo(
            f"warning: {len(report.unmatched_exclusions)} exclusion(s) match no participant and "
            f"keep the old hash (ids {report.unmatched_exclusions[:20]}); add them again after "
            "the switch",
            err=True,
        )
    if report.unmatched_agents:
        click.echo(
            f"warning: {len(report.unmatched_agents)} agent(s) have a mobile that matches no "
            "participant and keep the old hash, so their self-referrals would go unflagged; "
            "import the agents file again (quiz referrals import-agents) after the switch",
            err=True,
        )
    if ring.new_hasher:
        click.echo("now set QUIZ_HASH_KEY to the new hash key and restart the site")
    elif len(data_keys) > 1:
        click.echo("every value now uses the first key: the older keys can be removed")


# --- retention --------------------------------------------------------------


@click.command("purge")
@click.option("--dry-run", is_flag=True, help="count what would be anonymised, change nothing")
@click.option("--batch-size", default=1000, show_default=True, type=click.IntRange(1, 100_000))
@with_appcontext
def purge_command(dry_run: bool, batch_size: int) -> None:
    """Anonymise participants whose retention period (campaign [privacy]) has ended."""
    from quiz.draw.lists import clear_abandoned, find_abandoned
    from quiz.privacy.retention import purge

    if dry_run:
        with database().transaction(write=False) as session:
            report = purge(session, _protector(), dry_run=True)
            abandoned = len(find_abandoned(session))
        click.echo(
            f"would anonymise {report.non_winners} non-winner(s) and {report.winners} "
            f"winner(s), and {report.list_non_winners} non-winner(s) and "
            f"{report.list_winners} winner(s) on imported lists; "
            f"{report.winners_pending} winner(s) kept: prize not fulfilled yet; "
            f"would delete the rows of {abandoned} list import(s) a stopped process left behind"
        )
        return
    non_winners = winners = listed = pending = 0
    while True:
        # One transaction per batch: a long purge holds SQLite's write lock briefly.
        with database().transaction() as session:
            report = purge(session, _protector(), limit=batch_size)
            if report.anonymised:
                record(
                    session,
                    None,
                    "retention.purge",
                    f"{report.anonymised} participants",
                    {
                        "non_winners": report.non_winners,
                        "winners": report.winners,
                        "list_non_winners": report.list_non_winners,
                        "list_winners": report.list_winners,
                        "participant_ids": report.participant_ids[:1000],
                    },
                    actor_name=_actor(),
                )
        non_winners += report.non_winners
        winners += report.winners
        listed += report.list_non_winners + report.list_winners
        pending = report.winners_pending
        if report.anonymised:
            click.echo(f"  anonymised {non_winners + winners + listed} so far")
        if report.anonymised < batch_size:
            break
    click.echo(
        f"anonymised {non_winners} non-winner(s) and {winners} winner(s), and {listed} "
        f"people on imported lists; {pending} winner(s) kept: prize not fulfilled yet"
    )
    # Rows a killed list import left behind belong to no list: they go too.
    cleared = clear_abandoned(database(), actor_name=_actor())
    if cleared:
        click.echo(f"deleted the rows of {cleared} list import(s) a stopped process left behind")


# --- deletion requests ------------------------------------------------------


@click.group("participant")
def participant_group() -> None:
    """Requests from participants about their personal data."""


@participant_group.command("delete")
@click.option("--id-number", default=None, help="the person's resident ID number")
@click.option("--mobile", default=None, help="the mobile, together with --last4")
@click.option("--last4", default=None, help="last 4 characters of the ID number")
@click.option(
    "--customer", default=None, help="客户号 or 保单号, with --mobile: entries on imported lists"
)
@click.option("--force", is_flag=True, help="also when a prize is still to be sent")
@with_appcontext
def participant_delete(
    id_number: str | None,
    mobile: str | None,
    last4: str | None,
    customer: str | None,
    force: bool,
) -> None:
    """Anonymise one person's entries now (a deletion request).

    Quiz entries are found by ID number, or mobile + the ID number's last 4; entries on
    imported lists (list draws) by mobile + 客户号 (--customer).
    """
    from quiz.privacy.retention import PendingPrize, RetentionError, delete_person, find_person

    if customer is not None:
        if not mobile:
            raise click.UsageError("--customer needs --mobile too")
        _delete_list_entries(mobile, customer, force)
        return
    with database().transaction() as session:
        try:
            found = find_person(
                session, _protector(), id_number=id_number, mobile=mobile, last4=last4
            )
        except RetentionError as exc:
            raise click.UsageError(str(exc)) from exc
        if not found:
            raise click.ClickException("no participant matches these details")
        try:
            done = delete_person(session, _protector(), found, force=force)
        except PendingPrize as exc:
            click.echo(f"warning: {exc}; the winner's address is still needed.", err=True)
            raise click.ClickException(
                "nothing changed; run again with --force to proceed"
            ) from exc
        for participant in found:
            record(
                session,
                None,
                "participant.delete",
                f"participant:{participant.id}",
                {
                    "campaign_id": participant.campaign_id,
                    "forced": force,
                    "already_anonymised": participant not in done,
                },
                actor_name=_actor(),
            )
    click.echo(
        f"anonymised {len(done)} entr{'y' if len(done) == 1 else 'ies'} "
        f"({len(found) - len(done)} already anonymous): ids {[p.id for p in found]}"
    )


def _delete_list_entries(mobile: str, customer: str, force: bool) -> None:
    from quiz.privacy import list_entrants

    with database().transaction() as session:
        found = list_entrants.find(session, _protector(), mobile, customer)
        if not found:
            raise click.ClickException("no list entry matches this mobile and 客户号")
        ids = [e.id for e in found]
        pending = list_entrants.pending_prizes(session, ids)
        if pending and not force:
            click.echo(
                f"warning: {len(pending)} prize(s) not received yet; the winner's address is "
                "still needed.",
                err=True,
            )
            raise click.ClickException("nothing changed; run again with --force to proceed")
        done = list_entrants.anonymise(session, _protector(), ids)
        for entrant in found:
            record(
                session,
                None,
                "list_entrant.delete",
                f"list_entrant:{entrant.id}",
                {"campaign_id": entrant.campaign_id, "forced": force},
                actor_name=_actor(),
            )
    click.echo(f"anonymised {done} list entr{'y' if done == 1 else 'ies'}: ids {ids}")


# --- backups ----------------------------------------------------------------


@click.command("backup")
@click.argument("path", type=click.Path(dir_okay=False, path_type=Path))
@click.option("--overwrite", is_flag=True, help="replace PATH if it exists")
@with_appcontext
def backup_command(path: Path, overwrite: bool) -> None:
    """Copy the live SQLite database to PATH (online backup API, integrity-checked)."""
    from quiz.privacy.backup import BackupError, backup_sqlite

    try:
        result = backup_sqlite(database().url, path, overwrite=overwrite)
    except BackupError as exc:
        raise click.ClickException(str(exc)) from exc
    with database().transaction() as session:
        record(
            session,
            None,
            "database.backup",
            str(result.path),
            {"bytes": result.size},
            actor_name=_actor(),
        )
    click.echo(
        f"backup written to {result.path} ({result.size:,} bytes, integrity {result.integrity})"
    )


COMMANDS: tuple[click.Command, ...] = (keys_group, purge_command, participant_group, backup_command)
