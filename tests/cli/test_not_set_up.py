"""A command run on a database that `quiz setup` never created says so in one line."""

from __future__ import annotations

from flask.cli import ScriptInfo

from quiz.cli import NOT_SET_UP, main
from tests.conftest import make_app


def test_a_command_before_setup_says_to_run_setup_instead_of_a_traceback(database_url, tmp_path):
    app = make_app(database_url, tmp_path / "instance")  # no tables: setup never ran
    info = ScriptInfo(create_app=lambda: app)
    try:
        result = app.test_cli_runner().invoke(
            main, ["locate"], input="北京市朝阳区建国路1号\n", obj=info
        )
    finally:
        app.extensions["quiz.db"].dispose()
    assert result.exit_code == 1
    assert NOT_SET_UP in result.output
    assert "Traceback" not in result.output
