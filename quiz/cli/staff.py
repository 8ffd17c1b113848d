"""`quiz staff ...`: create the first admin and rescue locked-out accounts from the shell."""

from __future__ import annotations

import sys
from typing import cast

import click
from flask.cli import with_appcontext
from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.cli.context import database
from quiz.models import StaffUser
from quiz.staff import auth

CLI_ACTOR = "cli"


def _read_password(password_stdin: bool) -> str:
    """One line from stdin, or an interactive prompt asked twice."""
    if password_stdin:
        return sys.stdin.readline().rstrip("\r\n")
    return cast(
        str,
        click.prompt("Password", hide_input=True, confirmation_prompt="Repeat password", type=str),
    )


def _user(session: Session, username: str) -> StaffUser:
    name = auth.normalise_username(username)
    user = session.scalars(select(StaffUser).where(StaffUser.username == name)).first()
    if user is None:
        raise click.ClickException(f"no staff user {name!r}")
    return user


@click.group("staff")
def staff() -> None:
    """Staff accounts (there is no default account: create the first admin here)."""


@staff.command("create")
@click.argument("username")
@click.option("--role", type=click.Choice(["admin", "analyst", "branch"]), required=True)
@click.option("--branch", "branch_code", help="branch code (required for --role branch)")
@click.option("--can-reveal", is_flag=True, help="may see ID numbers and mobiles in full")
@click.option("--can-call", is_flag=True, help="may see leads' phone numbers (not ID numbers)")
@click.option("--name", "display_name", default="", help="display name")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin")
@with_appcontext
def create(
    username: str,
    role: str,
    branch_code: str | None,
    can_reveal: bool,
    can_call: bool,
    display_name: str,
    password_stdin: bool,
) -> None:
    """Create a staff account; head-office accounts enrol TOTP at first login."""
    if role == "branch" and not branch_code:
        raise click.UsageError("--branch CODE is required for --role branch")
    password = _read_password(password_stdin)
    with database().transaction() as session:
        try:
            branch_id = auth.branch_by_code(session, branch_code).id if branch_code else None
            user = auth.create_user(
                session,
                username,
                password,
                role,
                branch_id=branch_id,
                can_reveal=can_reveal,
                can_call=can_call,
                display_name=display_name,
                actor_name=CLI_ACTOR,
            )
        except auth.AuthError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"created {user.role} {user.username!r}; sign in at /admin/login")


@staff.command("list")
@with_appcontext
def list_users() -> None:
    """List accounts: username, role, branch, active, second factor."""
    with database().transaction(write=False) as session:
        for user in session.scalars(select(StaffUser).order_by(StaffUser.username)):
            branch = user.branch.code if user.branch else "-"
            totp = "totp" if user.totp_secret_enc else "no-totp"
            state = "active" if user.active else "inactive"
            click.echo(f"{user.username}\t{user.role}\t{branch}\t{state}\t{totp}")


@staff.command("set-password")
@click.argument("username")
@click.option("--password-stdin", is_flag=True, help="read the password from stdin")
@with_appcontext
def set_password(username: str, password_stdin: bool) -> None:
    """Set a new password (also lifts a lockout and ends the user's sessions)."""
    password = _read_password(password_stdin)
    with database().transaction() as session:
        user = _user(session, username)
        try:
            auth.admin_reset_password(session, user, password, actor=None, actor_name=CLI_ACTOR)
        except auth.AuthError as exc:
            raise click.ClickException(exc.message) from exc
        click.echo(f"password of {user.username!r} changed")


@staff.command("reset-2fa")
@click.argument("username")
@with_appcontext
def reset_2fa(username: str) -> None:
    """Forget the second factor (lost phone): the user enrols again at next login."""
    with database().transaction() as session:
        user = _user(session, username)
        auth.admin_reset_totp(session, user, actor=None, actor_name=CLI_ACTOR)
        click.echo(f"second factor of {user.username!r} reset")


COMMANDS: tuple[click.Command, ...] = (staff,)
