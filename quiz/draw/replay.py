"""`quiz draw replay`: re-run a published draw from the entrant file alone (no database, no Flask).

Usage: ``python -m quiz.draw.replay ENTRANTS_FILE RANDOMNESS --winners K``
"""

from __future__ import annotations

import os

import click

from quiz.draw.algorithm import (
    ALGORITHM_VERSION,
    DrawError,
    derive_seed,
    draw_v1,
    read_entrant_file,
)


def replay(entrants_file: str | os.PathLike[str], randomness: str, winners: int) -> list[int]:
    """Validate the entrant file and return the winning entry numbers in draw order."""
    info = read_entrant_file(entrants_file)
    return draw_v1(info.digest, randomness, info.n, winners)


@click.command("replay")
@click.argument(
    "entrants_file",
    type=click.Path(exists=True, dir_okay=False, readable=True, path_type=str),
)
@click.argument("randomness")
@click.option(
    "--winners",
    "winners",
    type=click.IntRange(min=0),
    required=True,
    metavar="K",
    help="Total number of prizes (all tiers together).",
)
@click.option(
    "--details",
    is_flag=True,
    help="Also print entrant count, entrant digest and seed to stderr.",
)
def replay_command(entrants_file: str, randomness: str, winners: int, details: bool) -> None:
    """Print the winning entry numbers of a v1 draw, one per line, in draw order.

    RANDOMNESS is used byte-for-byte as given (UTF-8, no trimming or normalisation); quote it,
    and put `--` before it if it starts with a dash.
    """
    try:
        info = read_entrant_file(entrants_file)
        result = draw_v1(info.digest, randomness, info.n, winners)
        if details:
            # Diagnostics go to stderr so stdout stays a clean, diffable winner list.
            seed = derive_seed(info.digest, randomness).hex()
            click.echo(f"algorithm: {ALGORITHM_VERSION}", err=True)
            click.echo(f"entrants: {info.n}", err=True)
            click.echo(f"entrant digest: {info.digest}", err=True)
            click.echo(f"seed: {seed}", err=True)
            click.echo(f"winners: {len(result)}", err=True)
    except (DrawError, OSError) as exc:
        raise click.ClickException(str(exc)) from exc
    click.echo("".join(f"{entry_no}\n" for entry_no in result), nl=False)


if __name__ == "__main__":
    replay_command.main(prog_name="python -m quiz.draw.replay")
