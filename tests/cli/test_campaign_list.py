"""`quiz campaign load` adds a campaign beside the first; `quiz campaign list` shows both."""

from __future__ import annotations

from pathlib import Path

from quiz.campaign.spec import default_campaign_path
from quiz.cli.campaign import campaign_group
from quiz.models import Campaign


def window_moved_around_now(text: str, slug: str) -> str:
    """The shipped campaign file with another slug and a window open today."""
    import re

    text = text.replace('slug = "insurance-quiz-2026"', f'slug = "{slug}"')
    text = re.sub(r"opens_at = \S+", "opens_at = 2026-01-01T00:00:00", text, count=1)
    text = re.sub(r"closes_at = \S+", "closes_at = 2099-01-31T23:59:59", text, count=1)
    text = re.sub(r"draw_at = \S+", "draw_at = 2099-02-10T10:00:00", text, count=1)
    return re.sub(r"freeze_deadline = \S+", "freeze_deadline = 2099-02-05T10:00:00", text)


def test_loading_a_file_with_another_slug_adds_a_second_live_campaign_both_served(
    app, runner, client, session, tmp_path: Path
):
    text = default_campaign_path().read_text(encoding="utf-8")
    first, second = tmp_path / "first.toml", tmp_path / "second.toml"
    first.write_text(window_moved_around_now(text, "insurance-quiz-2026"), encoding="utf-8")
    second.write_text(window_moved_around_now(text, "spring-quiz"), encoding="utf-8")

    for path in (first, second):
        result = runner.invoke(campaign_group, ["load", str(path)])
        assert result.exit_code == 0, result.output

    result = runner.invoke(campaign_group, ["list"])
    assert result.exit_code == 0, result.output
    lines = [line.split("\t") for line in result.output.splitlines()]
    assert lines[0] == ["slug", "kind", "status", "opens_at", "closes_at", "entries"]
    rows = {row[0]: row for row in lines[1:]}
    assert set(rows) == {"insurance-quiz-2026", "spring-quiz"}  # loaded beside, not over
    for row in rows.values():
        assert row[1:3] == ["prize_quiz", "open"]
        assert row[5] == "0"
    assert session.query(Campaign).count() == 2

    app.extensions["quiz.campaign"].clear()
    for slug in rows:
        page = client.get(f"/c/{slug}/")
        assert page.status_code == 200
        assert "同意参加活动" in page.get_data(as_text=True)

    bare = runner.invoke(campaign_group, ["list", "--no-header"])
    assert len(bare.output.splitlines()) == 2
