"""Both contest kinds share `quiz contest`: two groups of one name would hide one another
(the one registered last wins), losing either the staff contest's or the drawing
contest's commands."""

from __future__ import annotations

from click.testing import CliRunner

from quiz.cli import main


def test_quiz_contest_holds_both_contests_commands():
    result = CliRunner().invoke(main, ["contest", "--help"])
    assert result.exit_code == 0, result.output
    listed = {
        line.split()[0] for line in result.output.split("Commands:")[1].splitlines() if line.strip()
    }
    assert {"import-roster", "invitations", "results", "works", "purge", "erase"} <= listed
