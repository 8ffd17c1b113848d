"""Settings the README documents reach the app from the environment."""

from __future__ import annotations

import pytest

from quiz.config import Settings, flask_config

DOCUMENTED = {
    "QUIZ_LOOKUP_LIMIT": ("5/minute", "5/minute"),
    "QUIZ_EXPORT_DIR": ("/srv/shared/exports", "/srv/shared/exports"),
    "QUIZ_REFERRAL_BURST_LIMIT": ("7", 7),
    "QUIZ_REFERRAL_BURST_WINDOW_MINUTES": ("30", 30),
    "RATELIMIT_DEFAULT": ("1000/hour", "1000/hour"),
    "RATELIMIT_KEY_PREFIX": ("staging", "staging"),
}


def test_documented_settings_are_read_from_the_environment(monkeypatch):
    """These were documented but never read: a deployment that set QUIZ_EXPORT_DIR for
    shared storage still wrote exports into each host's own instance folder."""
    for name, (raw, _) in DOCUMENTED.items():
        monkeypatch.setenv(name, raw)
    config = flask_config(Settings())
    assert {name: config[name] for name in DOCUMENTED} == {
        name: value for name, (_, value) in DOCUMENTED.items()
    }


def test_unset_settings_leave_the_code_defaults(monkeypatch):
    for name in DOCUMENTED:
        monkeypatch.delenv(name, raising=False)
    assert not set(DOCUMENTED) & set(flask_config(Settings()))


def test_a_bad_number_stops_the_app_at_start(monkeypatch):
    monkeypatch.setenv("QUIZ_REFERRAL_BURST_LIMIT", "five")
    with pytest.raises(ValueError):
        Settings()


def test_the_export_folder_follows_the_setting(app, monkeypatch):
    from quiz.admin.exports_views import export_folder

    with app.app_context():
        assert export_folder().parts[-2:] == ("instance", "exports")
        app.config["QUIZ_EXPORT_DIR"] = "/srv/shared/exports"
        assert str(export_folder()) == "/srv/shared/exports"


@pytest.fixture
def serve_calls(app, monkeypatch):
    """`quiz serve` without setting anything up or starting gunicorn: the exec'd args."""
    from quiz.cli import site as cli

    calls: list[list[str]] = []
    monkeypatch.setattr(cli, "setup_site", lambda: None)
    monkeypatch.setattr(cli.os, "execv", lambda _path, args: calls.append(list(args)))
    monkeypatch.setattr(cli.os, "chdir", lambda _path: None)
    # serve exports WEB_CONCURRENCY for gunicorn: keep that inside the test.
    environ = {k: v for k, v in cli.os.environ.items() if k != "WEB_CONCURRENCY"}
    monkeypatch.setattr(cli.os, "environ", environ)
    return calls


def test_serve_refuses_several_workers_with_per_worker_rate_limits(app, serve_calls):
    """24 sign-in POSTs in 3 s got 15 answers of "wrong password" before the documented
    10/minute held: each of the workers counted on its own."""
    from quiz.cli.site import serve

    app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    result = app.test_cli_runner().invoke(serve, ["--workers", "3"])
    assert result.exit_code != 0 and not serve_calls
    assert "RATELIMIT_STORAGE_URI=redis://" in result.output and "--workers 1" in result.output
    app.config["WEB_CONCURRENCY"] = 4
    assert app.test_cli_runner().invoke(serve, []).exit_code != 0 and not serve_calls


def test_serve_runs_one_worker_by_default_with_memory_storage_and_says_so(app, serve_calls):
    from quiz.cli.site import serve

    app.config["RATELIMIT_STORAGE_URI"] = "memory://"
    app.config["WEB_CONCURRENCY"] = None
    result = app.test_cli_runner().invoke(serve, [])
    assert result.exit_code == 0, result.output
    assert serve_calls[0][serve_calls[0].index("-w") + 1] == "1"
    assert "one worker" in result.output
    # Shared storage: the worker count is gunicorn's own (CPU count) or the one asked for.
    app.config["RATELIMIT_STORAGE_URI"] = "redis://127.0.0.1:6379/0"
    assert app.test_cli_runner().invoke(serve, ["--workers", "3"]).exit_code == 0
    assert serve_calls[1][serve_calls[1].index("-w") + 1] == "3"
