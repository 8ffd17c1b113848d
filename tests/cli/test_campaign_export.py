"""`quiz campaign export` and `check`: the file the editor's campaign becomes, and back."""

from __future__ import annotations

from quiz.campaign.spec import load_campaign_file
from quiz.cli.campaign import campaign_check, campaign_export, campaign_load
from quiz.editor import service
from tests.factories import install_test_campaign


def test_export_then_load_gives_the_same_campaign(app, runner, session, tmp_path):
    campaign = install_test_campaign(session)
    campaign = service.create(
        session, slug="copy-2027", name="导出测试", actor=None, copy_of=campaign
    )
    session.commit()
    path = tmp_path / "out.toml"
    done = runner.invoke(campaign_export, ["copy-2027", str(path)])
    assert done.exit_code == 0, done.output
    exported = load_campaign_file(path)
    assert exported.slug == "copy-2027" and exported.name == "导出测试"
    # Loading the exported file changes nothing: same texts, same bank, same sha.
    again = runner.invoke(campaign_load, [str(path)])
    assert again.exit_code == 0, again.output
    second = tmp_path / "again.toml"
    runner.invoke(campaign_export, ["copy-2027", str(second)])
    assert second.read_text(encoding="utf-8") == path.read_text(encoding="utf-8")


def test_export_of_an_unknown_slug_says_so(app, runner, tmp_path):
    done = runner.invoke(campaign_export, ["nope", str(tmp_path / "x.toml")])
    assert done.exit_code != 0 and "no campaign" in done.output


def test_check_lists_every_problem_with_its_line_and_chinese_words(runner, tmp_path):
    from quiz.campaign.spec import default_campaign_path

    text = default_campaign_path().read_text(encoding="utf-8")
    text = text.replace('slug = "insurance-quiz-2026"', 'slug = "my quiz"', 1)
    text = text.replace('correct = "A"', 'correct = ["A", "B"]', 1)
    bad = tmp_path / "bad.toml"
    bad.write_text(text, encoding="utf-8")
    done = runner.invoke(campaign_check, [str(bad)])
    assert done.exit_code != 0
    lines = [line for line in done.output.splitlines() if "line " in line]
    assert any("line 6:" in ln and "不能有空格" in ln for ln in lines), done.output
    assert any("单选题只能有一个正确答案" in ln for ln in lines), done.output
