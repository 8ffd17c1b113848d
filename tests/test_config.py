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
