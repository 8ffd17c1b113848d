"""Roster import: a report before saving, nothing saved with any problem, re-import before
the start only, invitation codes that work once."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from openpyxl import Workbook
from sqlalchemy import select

from quiz.cli.contest import contest_group
from quiz.contest import roster
from quiz.models import Contestant
from tests.contest.conftest import ROSTER

HEADER = "工号,姓名,机构代码,组别,手机号码\n"


def _check(session, campaign, text: str, name: str = "r.csv"):
    return roster.check_roster(session, campaign, roster.read_roster(text.encode(), name))


def test_demo_roster_checks_clean_and_saves(session, contest, protector):
    report = roster.check_roster(session, contest, roster.read_roster(ROSTER.read_bytes()))
    assert report.problems == []
    assert report.by_group == {"sales": 5, "office": 5}
    assert (report.new, report.updated, report.removed) == (10, 0, 0)
    roster.save_roster(session, contest, report, protector)
    rows = session.scalars(select(Contestant).where(Contestant.campaign_id == contest.id)).all()
    assert sorted(c.staff_no for c in rows)[:2] == ["NQ0001", "NQ0002"]


def test_every_bad_row_is_reported_and_nothing_saved(session, contest, protector):
    text = HEADER + (
        "A1,张三,B41,业务员组,\n"
        "A2,李四,ZZ99,业务员组,\n"  # unknown branch
        "A3,王五,B41,经理组,\n"  # unknown group
        "A1,赵六,B41,内勤组,\n"  # duplicate 工号
        'A5,=HYPERLINK("http://x"),B41,内勤组,\n'  # formula-looking name
        "A6,钱七,B41,内勤组,12345\n"  # bad mobile
    )
    report = _check(session, contest, text)
    assert not report.ok
    joined = "\n".join(report.problems)
    assert "第3行" in joined and "机构代码 ZZ99 不存在" in joined
    assert "第4行" in joined and "组别 经理组" in joined
    assert "第5行" in joined and "与第2行重复" in joined
    assert "第6行" in joined and "公式" in joined
    assert "第7行" in joined and "手机号码 12345 无效" in joined
    assert len(report.rows) == 1
    with pytest.raises(roster.RosterError):
        roster.save_roster(session, contest, report, protector)
    assert session.scalars(select(Contestant)).first() is None


def test_xlsx_formula_cell_is_refused(session, contest):
    book = Workbook()
    sheet = book.active
    sheet.append(["工号", "姓名", "机构代码", "组别"])
    sheet.append(["X1", "孙八", "B41", "业务员组"])
    sheet.append(["X2", "=1+1", "B41", "业务员组"])
    data = io.BytesIO()
    book.save(data)
    rows = roster.read_roster(data.getvalue(), "r.xlsx")
    report = roster.check_roster(session, contest, rows)
    assert [r.staff_no for r in report.rows] == ["X1"]
    assert report.problems and report.problems[0].startswith("第3行:姓名是公式")


def test_web_row_limit(contest):
    text = HEADER + "".join(f"N{n},某某,B41,内勤组,\n" for n in range(31))
    with pytest.raises(roster.TooManyRows, match="最多导入30行"):
        roster.read_roster(text.encode(), max_rows=30)
    assert len(roster.read_roster(text.encode(), max_rows=31)) == 31


def test_missing_column_and_gbk(contest, session):
    with pytest.raises(roster.RosterError, match="缺少列:组别"):
        roster.read_roster("工号,姓名,机构代码\nA,B,C\n".encode())
    gbk = (HEADER + "G1,周九,B41,内勤组,\n").encode("gb18030")
    rows = roster.read_roster(gbk)
    assert rows[0][1]["name"] == "周九"


def test_reimport_updates_removes_and_keeps_codes_until_start(session, contest, protector):
    first = _check(session, contest, HEADER + "A1,张三,B41,业务员组,\nA2,李四,B41,内勤组,\n")
    roster.save_roster(session, contest, first, protector)
    [invite] = roster.issue_invitations(session, contest, protector, staff_nos=["A1"])
    second = _check(session, contest, HEADER + "A1,张三丰,B42,内勤组,13900000001\n")
    assert (second.new, second.updated, second.removed) == (0, 1, 1)
    roster.save_roster(session, contest, second, protector)
    a1 = session.scalars(select(Contestant).where(Contestant.staff_no == "A1")).one()
    assert (a1.name, a1.group_code, a1.mobile_masked) == ("张三丰", "office", "139****0001")
    assert a1.invite_hash == roster.invite_hash(protector, contest.id, "A1", invite.code)
    assert session.scalars(select(Contestant).where(Contestant.staff_no == "A2")).first() is None
    # Once the contest has started the roster is locked.
    with pytest.raises(roster.RosterLocked, match="竞赛已开始"):
        roster.save_roster(
            session, contest, second, protector, now=contest.opens_at + timedelta(seconds=1)
        )


def test_cli_import_roster_reports_then_saves(runner, contest, tmp_path, session):
    bad = tmp_path / "bad.csv"
    bad.write_text(HEADER + "A1,张三,B41,业务员组,\nA2,李四,XX,业务员组,\n", encoding="utf-8")
    result = runner.invoke(contest_group, ["import-roster", str(bad), "--campaign", contest.slug])
    assert result.exit_code == 1
    assert "第3行:机构代码 XX 不存在" in result.output and "nothing saved" in result.output
    result = runner.invoke(
        contest_group, ["import-roster", str(ROSTER), "--campaign", contest.slug]
    )
    assert result.exit_code == 0, result.output
    assert "10 contestant(s) ok (业务员组 5, 内勤组 5) in 3 branch(es): 10 new" in result.output
    session.expire_all()
    assert len(session.scalars(select(Contestant)).all()) == 10


def test_demo_contest_installs_once_with_codes_that_sign_in(session, protector):
    from quiz.contest import paper
    from quiz.contest.demo import install_demo

    issued = install_demo(session, protector)
    assert issued is not None and len(issued) == 10
    assert {i.group_name for i in issued} == {"业务员组", "内勤组"}
    assert install_demo(session, protector) is None
    campaign = session.scalars(
        select(Contestant.campaign_id).where(Contestant.staff_no == issued[0].staff_no)
    ).one()
    from quiz.models import Campaign

    contest = session.get(Campaign, campaign)
    assert contest.kind == "staff_contest"
    now = contest.opens_at + timedelta(minutes=1)
    who, _ = paper.sign_in_with_invite(
        session, protector, contest, issued[0].staff_no, issued[0].code, now=now
    )
    assert who.staff_no == issued[0].staff_no


def test_exported_contest_file_loads_back_the_same_settings(session, contest):
    from quiz.campaign.document import campaign_toml
    from quiz.campaign.spec import parse_campaign

    again = parse_campaign(campaign_toml(session, contest))
    assert again.kind == "staff_contest"
    assert again.contest == contest.content["contest"]
