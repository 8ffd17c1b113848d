"""Campaign file: the shipped default, validation with line numbers, install and re-install."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import Session

from quiz.campaign.spec import (
    CampaignFileError,
    default_campaign_path,
    install_campaign,
    load_campaign_file,
    parse_campaign,
)
from quiz.db import Base
from quiz.models import Campaign, Participant, Question, QuizItem

HEAD = """\
[campaign]
slug = "test-campaign"
name = "测试活动"
opens_at = 2026-11-01T00:00:00
closes_at = 2027-01-31T23:59:59
draw_at = 2027-02-10T10:00:00

[organiser]
name = "XX人寿保险股份有限公司 客户服务部"
contact = "客服热线 400-000-0000(示例)"

[[prizes]]
tier = "幸运奖"
count = 10
prize = "纪念品"
value_yuan = 20

[rules]
version = "1"
entry_conditions = "年满18周岁"
draw_method = "公开随机抽奖"
prize_claim = '''
30日内寄出,
[not a table] key = "not a key"
60日后失效'''
paragraphs = [
  "第一段",
  "第二段",
]

[privacy]
version = "1"
notice = ["个人信息处理规则"]
follow_up_retention_days = 180
winner_retention_days = 730

[quiz]
questions_per_participant = 2

[draw]
randomness_source = "2027年2月4日 双色球开奖号码"
"""


def knowledge(key: str, correct: str = '"A"', extra: str = "") -> str:
    """A knowledge question block."""
    return (
        f'\n[[questions]]\nkey = "{key}"\nkind = "knowledge"\ntext = "问题 {key}"\n'
        f'options = ["甲", "乙", "丙", "丁"]\ncorrect = {correct}\nexplanation = "解析"\n{extra}'
    )


def intent(key: str, extra: str = "") -> str:
    """An intent question block."""
    return (
        f'\n[[questions]]\nkey = "{key}"\nkind = "intent"\ntext = "意向 {key}"\n'
        f'multiple = true\noptions = ["重疾险", "医疗险", "暂无需求"]\n{extra}'
    )


def valid(**overrides: str) -> str:
    """A small valid campaign text; keyword arguments replace question blocks."""
    blocks = {"q1": knowledge("q1"), "q2": knowledge("q2"), "i1": intent("i1")}
    blocks.update(overrides)
    return HEAD + "".join(blocks.values())


def line_of(text: str, needle: str, occurrence: int = 1) -> int:
    """1-based line number of the n-th line starting with ``needle``."""
    seen = 0
    for number, line in enumerate(text.split("\n"), 1):
        if line.startswith(needle):
            seen += 1
            if seen == occurrence:
                return number
    raise AssertionError(f"{needle!r} not found")


def refuse(text: str) -> CampaignFileError:
    """Parse text that must be refused and return the error."""
    with pytest.raises(CampaignFileError) as info:
        parse_campaign(text)
    return info.value


@pytest.fixture
def session() -> Iterator[Session]:
    engine = create_engine("sqlite://")
    Base.metadata.create_all(engine)
    with Session(engine) as session:
        yield session
    engine.dispose()


# ---------------------------------------------------------------- the shipped default


def test_default_campaign_loads() -> None:
    spec = load_campaign_file(default_campaign_path())
    assert spec.slug == "insurance-quiz-2026"
    assert "新起点、心关爱、欣生活" in spec.name
    assert spec.prizes[0].tier == "幸运奖"
    assert spec.prizes[0].count == 8888
    assert spec.prizes[0].value_yuan == 20
    knowledge_qs = [q for q in spec.questions if q.kind == "knowledge"]
    intent_qs = [q for q in spec.questions if q.kind == "intent"]
    assert len(knowledge_qs) >= 18
    assert all(q.correct and len(q.correct) == 1 and not q.multiple for q in knowledge_qs)
    assert all(3 <= len(q.options) <= 4 and q.explanation for q in knowledge_qs)
    assert [q.key for q in intent_qs][0] == "i01-products"
    assert intent_qs[0].multiple
    # The question page marks multiple choice itself: in the text it showed twice.
    assert not [q.key for q in spec.questions if "多选" in q.text]
    assert all(q.correct is None for q in intent_qs)
    assert spec.opens_at <= datetime(2026, 11, 25, tzinfo=UTC) < spec.closes_at
    assert len(spec.source_sha256) == 64
    notice = "".join(spec.privacy_notice)
    for item in (
        "姓名",
        "身份证号码",
        "邮寄地址",
        "邮政编码",
        "手机号码",
        "固定电话",
        "敏感个人信息",
    ):
        assert item in notice
    assert "XX人寿" in spec.organiser_name


def test_default_campaign_installs(session: Session) -> None:
    spec = load_campaign_file(default_campaign_path())
    campaign = install_campaign(session, spec)
    assert campaign.id is not None
    assert campaign.content_sha256 == spec.source_sha256
    assert campaign.content["questions_per_participant"] == 5
    assert campaign.content["prizes"] == [
        {"tier": "幸运奖", "count": 8888, "prize": spec.prizes[0].prize, "value_yuan": 20}
    ]
    assert "questions" not in campaign.content
    json.dumps(campaign.content)
    assert [q.key for q in campaign.questions] == [q.key for q in spec.questions]
    assert campaign.questions[0].options[0] == {"key": "A", "text": spec.questions[0].options[0][1]}
    # Aware datetimes survive the round trip through SQLite.
    session.commit()
    session.expire_all()
    stored = session.scalars(select(Campaign)).one()
    assert stored.opens_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)


# ---------------------------------------------------------------- times


def test_local_times_convert_to_utc() -> None:
    spec = parse_campaign(valid())
    assert spec.opens_at == datetime(2026, 10, 31, 16, 0, tzinfo=UTC)
    assert spec.closes_at == datetime(2027, 1, 31, 15, 59, 59, tzinfo=UTC)
    assert spec.draw_at == datetime(2027, 2, 10, 2, 0, tzinfo=UTC)


def test_explicit_offset_is_respected() -> None:
    text = valid().replace("draw_at = 2027-02-10T10:00:00", "draw_at = 2027-02-10T10:00:00Z")
    assert parse_campaign(text).draw_at == datetime(2027, 2, 10, 10, 0, tzinfo=UTC)


def test_date_without_time_is_refused() -> None:
    text = valid().replace("draw_at = 2027-02-10T10:00:00", "draw_at = 2027-02-10")
    assert refuse(text).line == line_of(text, "draw_at")


# ---------------------------------------------------------------- validation and lines


def test_small_valid_file_parses() -> None:
    spec = parse_campaign(valid())
    assert [q.key for q in spec.questions] == ["q1", "q2", "i1"]
    assert spec.questions[0].options == [("A", "甲"), ("B", "乙"), ("C", "丙"), ("D", "丁")]
    assert spec.questions_per_participant == 2
    assert spec.min_score is None
    assert spec.referral_rule == "address"
    assert spec.prize_claim.startswith("30日内寄出")


def test_syntax_error_has_its_line() -> None:
    text = valid().replace('name = "测试活动"', "name = 测试活动")
    error = refuse(text)
    assert error.line == line_of(text, "name = 测试活动")
    assert "syntax" in str(error)


@pytest.mark.parametrize(
    ("table", "key"),
    [
        ("[organiser]", "name = "),
        ("[organiser]", "contact = "),
        ("[rules]", "entry_conditions = "),
        ("[rules]", "draw_method = "),
        ("[rules]", "prize_claim = "),
        ("[rules]", "paragraphs = "),
        ("[privacy]", "notice = "),
        ("[campaign]", "draw_at = "),
        ("[draw]", "randomness_source = "),
    ],
)
def test_missing_required_key_points_at_its_table(table: str, key: str) -> None:
    text = valid()
    lines = text.split("\n")
    start = line_of(text, table) - 1
    index = next(i for i in range(start, len(lines)) if lines[i].startswith(key))
    end = index + 1
    if lines[index].rstrip().endswith(("'''", "[")):
        # A multi-line value: drop it up to its closing line.
        closing = "'''" if lines[index].rstrip().endswith("'''") else "]"
        end = next(i for i in range(index + 1, len(lines)) if lines[i].rstrip().endswith(closing))
        end += 1
    text = "\n".join(lines[:index] + lines[end:])
    error = refuse(text)
    assert error.line == line_of(text, table)
    assert "missing" in error.message
    assert key.strip(" =") in error.message


def test_missing_prizes_is_refused() -> None:
    text = valid().replace(
        '[[prizes]]\ntier = "幸运奖"\ncount = 10\nprize = "纪念品"\nvalue_yuan = 20\n', ""
    )
    error = refuse(text)
    assert error.path == "prizes"


def test_empty_prize_list_is_refused() -> None:
    text = valid().replace(
        '[[prizes]]\ntier = "幸运奖"\ncount = 10\nprize = "纪念品"\nvalue_yuan = 20\n', ""
    )
    text = "prizes = []\n" + text
    error = refuse(text)
    assert error.path == "prizes"
    assert error.line == 1


def test_closing_before_opening_is_refused() -> None:
    text = valid().replace("closes_at = 2027-01-31T23:59:59", "closes_at = 2026-10-31T23:59:59")
    error = refuse(text)
    assert error.line == line_of(text, "closes_at")
    assert error.path == "campaign.closes_at"


def test_draw_before_closing_is_refused() -> None:
    text = valid().replace("draw_at = 2027-02-10T10:00:00", "draw_at = 2027-01-31T12:00:00")
    error = refuse(text)
    assert error.line == line_of(text, "draw_at")


@pytest.mark.parametrize("count", ["0", "-3"])
def test_prize_count_must_be_positive(count: str) -> None:
    text = valid().replace("count = 10", f"count = {count}")
    error = refuse(text)
    assert error.line == line_of(text, "count = ")
    assert error.path == "prizes[0].count"


def test_second_prize_tier_error_points_at_its_block() -> None:
    second = '[[prizes]]\ntier = "二等奖"\ncount = 0\nprize = "毛巾"\nvalue_yuan = 5\n\n[rules]'
    text = valid().replace("[rules]", second, 1)
    error = refuse(text)
    assert error.path == "prizes[1].count"
    assert error.line == line_of(text, "count = ", occurrence=2)


def test_duplicate_question_key_is_refused() -> None:
    text = valid(q2=knowledge("q1"))
    error = refuse(text)
    assert error.line == line_of(text, 'key = "q1"', occurrence=2)
    assert error.path == "questions[1].key"


def test_knowledge_question_needs_correct_answer() -> None:
    text = valid(q2=knowledge("q2").replace('correct = "A"\n', ""))
    error = refuse(text)
    assert error.line == line_of(text, "[[questions]]", occurrence=2)
    assert error.path == "questions[1].correct"


def test_correct_must_be_an_option() -> None:
    text = valid(q2=knowledge("q2", correct='"E"'))
    error = refuse(text)
    assert error.line == line_of(text, 'correct = "E"')
    assert str(error) == (
        f"line {error.line}: questions[1].correct: 'E' is not one of the options A-D"
    )


def test_single_choice_allows_one_correct_option() -> None:
    text = valid(q1=knowledge("q1", correct='["A", "B"]'))
    assert refuse(text).line == line_of(text, "correct = [")
    text = valid(q1=knowledge("q1", correct='["A", "B"]', extra="multiple = true\n"))
    assert parse_campaign(text).questions[0].correct == ["A", "B"]


def test_intent_question_must_not_have_correct() -> None:
    text = valid(i1=intent("i1", extra='correct = "A"\n'))
    assert refuse(text).line == line_of(text, 'correct = "A"', occurrence=3)


def test_fewer_than_two_options_is_refused() -> None:
    text = valid(i1=intent("i1").replace('["重疾险", "医疗险", "暂无需求"]', '["重疾险"]'))
    error = refuse(text)
    assert error.line == line_of(text, 'options = ["重疾险"]')
    assert error.path == "questions[2].options"


def test_too_few_knowledge_questions() -> None:
    text = valid(q2="").replace("questions_per_participant = 2", "questions_per_participant = 3")
    error = refuse(text)
    assert error.line == line_of(text, "questions_per_participant")


def test_at_least_one_intent_question() -> None:
    text = valid(i1="")
    error = refuse(text)
    assert "intent" in error.message
    assert error.line == line_of(text, "[[questions]]")


def test_unknown_key_is_refused_at_its_line() -> None:
    text = valid().replace("count = 10", "count = 10\ncuont = 10")
    error = refuse(text)
    assert error.line == line_of(text, "cuont")
    assert error.path == "prizes[0].cuont"


def test_unknown_key_in_question_and_unknown_table() -> None:
    text = valid(q2=knowledge("q2", extra='explaination = "x"\n'))
    assert refuse(text).line == line_of(text, "explaination")
    text = valid() + "\n[campain]\nslug = 'x'\n"
    assert refuse(text).line == line_of(text, "[campain]")


def test_min_score_cannot_exceed_questions() -> None:
    text = valid().replace("[quiz]\n", "[quiz]\nmin_score = 3\n")
    assert refuse(text).line == line_of(text, "min_score")


def test_every_problem_is_collected_in_file_order() -> None:
    text = valid(q2=knowledge("q2", correct='"Z"')).replace("count = 10", "count = 0")
    error = refuse(text)
    assert [e.path for e in error.errors] == ["prizes[0].count", "questions[1].correct"]
    assert error is error.errors[0]


def test_keys_inside_multiline_strings_are_ignored() -> None:
    # HEAD's prize_claim holds lines that look like a table header and a key.
    text = valid().replace("[draw]\n", '[draw]\nkey = "x"\n')
    error = refuse(text)
    assert error.path == "draw.key"
    assert error.line == line_of(text, 'key = "x"')


def test_load_campaign_file_reads_utf8(tmp_path: Path) -> None:
    path = tmp_path / "c.toml"
    path.write_bytes(b"\xef\xbb\xbf" + valid().encode("utf-8"))
    assert load_campaign_file(path).slug == "test-campaign"
    path.write_bytes(valid().encode("gbk"))
    assert load_campaign_file_error(path).line is not None


def load_campaign_file_error(path: Path) -> CampaignFileError:
    """Load a file that must be refused."""
    with pytest.raises(CampaignFileError) as info:
        load_campaign_file(path)
    return info.value


# ---------------------------------------------------------------- install and re-install


def test_reinstall_updates_and_deactivates(session: Session) -> None:
    first = install_campaign(session, parse_campaign(valid()))
    ids = {q.key: q.id for q in first.questions}

    changed = valid(
        q1=knowledge("q1").replace('text = "问题 q1"', 'text = "问题 q1(修订)"'),
        q2=knowledge("q3"),
        q4=knowledge("q4"),
    ).replace('name = "测试活动"', 'name = "测试活动二"')
    second = install_campaign(session, parse_campaign(changed))

    assert second.id == first.id
    assert second.name == "测试活动二"
    assert session.scalars(select(Campaign)).all() == [second]
    by_key = {q.key: q for q in session.scalars(select(Question))}
    assert by_key["q1"].id == ids["q1"]
    assert by_key["q1"].text == "问题 q1(修订)"
    assert by_key["q2"].active is False
    assert by_key["q3"].active and by_key["q4"].active
    positions = {k: q.position for k, q in by_key.items() if q.active}
    assert positions == {"q1": 0, "q3": 1, "i1": 2, "q4": 3}
    assert second.content_sha256 == parse_campaign(changed).source_sha256

    # A removed question comes back active when it returns to the file.
    install_campaign(session, parse_campaign(valid()))
    session.expire_all()
    assert session.get(Question, ids["q2"]).active is True  # type: ignore[union-attr]


def make_participant(session: Session, campaign: Campaign) -> Participant:
    """A minimal participant row of the campaign."""
    participant = Participant(
        campaign_id=campaign.id,
        public_id="p1",
        name="张三",
        name_masked="张*",
        id_hash="h" * 64,
        id_enc=b"x",
        id_masked="1101**********0011",
        id_last4="0011",
        mobile_hash="m" * 64,
        mobile_enc=b"x",
        mobile_masked="138****0000",
        address="北京市东城区",
        postal_code="100010",
        consent_rules_version="1",
        consent_privacy_version="1",
        consent_at=datetime(2026, 11, 2, tzinfo=UTC),
    )
    session.add(participant)
    session.flush()
    return participant


def test_assigned_question_keeps_its_answers_meaning(session: Session) -> None:
    campaign = install_campaign(session, parse_campaign(valid()))
    participant = make_participant(session, campaign)
    q1 = campaign.questions[0]
    session.add(QuizItem(participant_id=participant.id, question_id=q1.id, position=0))
    session.flush()

    # Wording and explanation may still be corrected ...
    reworded = valid(q1=knowledge("q1").replace('explanation = "解析"', 'explanation = "新解析"'))
    install_campaign(session, parse_campaign(reworded))
    assert q1.explanation == "新解析"
    # ... but not the answer key: stored answers refer to it.
    with pytest.raises(CampaignFileError, match="new key"):
        install_campaign(session, parse_campaign(valid(q1=knowledge("q1", correct='"B"'))))
    assert q1.correct == ["A"]
    assert campaign.content_sha256 == parse_campaign(reworded).source_sha256
    # Removing it from the file deactivates it; the row and the assignment stay.
    install_campaign(session, parse_campaign(valid(q1=knowledge("q9"))))
    assert q1.active is False
    assert session.scalars(select(QuizItem)).one().question_id == q1.id


def test_cli_load_refusing_a_changed_answer_key_is_a_message(
    app, protector, tmp_path: Path
) -> None:
    """The refusal comes from installing (it needs the assigned answers), after the file
    itself checked out: it is still a message and exit 1, and nothing changes."""
    import re

    from quiz.cli.campaign import campaign_load
    from tests.factories import make_participant as registered

    database = app.extensions["quiz.db"]
    with database.transaction() as session:
        campaign = session.scalars(select(Campaign)).one()
        registered(session, protector, campaign, 1, complete=True)
        before = {q.id: q.correct for q in campaign.questions}
    swap = {"A": "B", "B": "A", "C": "A", "D": "A"}
    text = re.sub(
        r'^correct = "([A-D])"$',
        lambda m: f'correct = "{swap[m.group(1)]}"',
        default_campaign_path().read_text(encoding="utf-8"),
        flags=re.M,
    )
    changed = tmp_path / "changed.toml"
    changed.write_text(text, encoding="utf-8")
    result = app.test_cli_runner().invoke(campaign_load, [str(changed)])
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert "already" in result.output
    with database.transaction(write=False) as session:
        campaign = session.scalars(select(Campaign)).one()
        assert {q.id: q.correct for q in campaign.questions} == before


def test_setup_with_a_missing_campaign_file_says_which(database_url, tmp_path: Path) -> None:
    from quiz.cli.site import setup_command
    from tests.conftest import make_app

    missing = tmp_path / "nosuch.toml"
    app = make_app(database_url, tmp_path / "instance", QUIZ_CAMPAIGN_FILE=str(missing))
    result = app.test_cli_runner().invoke(setup_command, [])
    app.extensions["quiz.db"].dispose()
    assert result.exit_code == 1 and isinstance(result.exception, SystemExit)
    assert f"QUIZ_CAMPAIGN_FILE {missing}" in result.output


def test_leaderboard_tiers_come_from_the_campaign_file(session: Session) -> None:
    """The README's reward bands are configurable in the file, checked, and default to
    第一名 to 第三名 when absent."""
    from quiz.referrals import leaderboard

    bands = (
        '\n[[leaderboard_tiers]]\nname = "金牌机构"\nfrom = 1\nto = 3\n'
        '\n[[leaderboard_tiers]]\nname = "银牌机构"\nfrom = 4\nto = 10\n'
    )
    spec = parse_campaign(valid() + bands)
    assert spec.leaderboard_tiers == [
        {"name": "金牌机构", "from": 1, "to": 3},
        {"name": "银牌机构", "from": 4, "to": 10},
    ]
    assert leaderboard.tiers_of(install_campaign(session, spec))[1]["name"] == "银牌机构"
    plain = install_campaign(session, parse_campaign(valid()))  # the same slug, reloaded
    assert leaderboard.tiers_of(plain) == list(leaderboard.DEFAULT_TIERS)
    overlapping = bands.replace("from = 4", "from = 3")
    assert "overlaps" in str(refuse(valid() + overlapping).errors)
    backwards = bands.replace("to = 10", "to = 2")
    assert "must be at least from" in str(refuse(valid() + backwards).errors)
