"""Invisible and direction characters: the rule over every code point, every form, and
the places staff and participants would see them (issue #19, row 8)."""

from __future__ import annotations

import sys
import unicodedata
from collections import Counter

import pytest
from flask_wtf import FlaskForm
from sqlalchemy import select

from quiz.campaign.lifecycle import current_campaign
from quiz.leads import service as leads
from quiz.models import Agent, Branch, Channel, FollowUp, Participant
from quiz.referrals import links as referrals
from quiz.staff import auth
from tests.factories import login_as, make_mobile, make_participant, make_resident_id, make_staff

# The three (U+202E, U+200D, U+FEFF) and one of each other kind.
HIDDEN = "\u202e\u200d\ufeff\u200b\u2066\u2069\u00ad\u3164\u034f\ufe0f\U000e0041"


def hide(text: str) -> str:
    """`text` with every HIDDEN character slipped in between its characters."""
    return "".join(c + HIDDEN for c in text)


def test_every_code_point_by_category():
    """Cc (but tab, line feed, carriage return), Cf, Zl and Zp go, and the invisible
    characters of other categories; nothing else of any category is touched (private use
    and unassigned code points stay: rare characters in names are written with them)."""
    from quiz.text_safety import INVISIBLE_EXTRAS, strip_invisible

    extras = {code for low, high in INVISIBLE_EXTRAS for code in range(low, high + 1)}
    codes = [c for c in range(sys.maxunicode + 1) if not 0xD800 <= c <= 0xDFFF]
    survivors = set(strip_invisible("".join(map(chr, codes))))
    removed: Counter[str] = Counter()
    kept: Counter[str] = Counter()
    wrong = []
    for code in codes:
        char = chr(code)
        category = unicodedata.category(char)
        expected_gone = code in extras or (
            category in {"Cc", "Cf", "Zl", "Zp"} and char not in "\t\n\r"
        )
        gone = char not in survivors
        if gone != expected_gone:
            wrong.append(f"U+{code:04X} {category}")
        (removed if gone else kept)[category] += 1
    assert wrong == []
    assert removed["Cf"] > 150 and removed["Zl"] == removed["Zp"] == 1
    assert {"Lo", "Nd", "Zs", "Co", "Cn", "Mn"} <= kept.keys()
    assert strip_invisible("北京市\t朝阳区\r\n建国路 88号") == "北京市\t朝阳区\r\n建国路 88号"
    # Separators between words become a space rather than joining the words.
    assert strip_invisible("李\x0b四\u2028北京\u2029市") == "李 四 北京 市"


def test_every_form_of_the_site_strips_them(app):
    """Every form class the site defines derives from SafeForm (a new one cannot forget)."""
    from quiz.web.forms import SafeForm

    def subclasses(cls: type) -> set[type]:
        found = set(cls.__subclasses__())
        for sub in list(found):
            found |= subclasses(sub)
        return found

    forms = {f for f in subclasses(FlaskForm) if f.__module__.startswith("quiz.")}
    assert len(forms) > 20
    assert [f"{f.__module__}.{f.__name__}" for f in forms if not issubclass(f, SafeForm)] == []


def test_a_registration_stores_the_address_without_them(client, session):
    client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"})
    resp = client.post(
        "/register",
        data={
            "name": "王小明",
            "resident_id": make_resident_id("110105", seq=31),
            "address": hide("北京市朝阳区建国路88号"),
            "postal_code": "100022",
            "mobile": make_mobile(31),
        },
    )
    assert resp.status_code == 302, resp.get_data(as_text=True)
    entry = session.scalars(select(Participant)).one()
    assert (entry.name, entry.address) == ("王小明", "北京市朝阳区建国路88号")
    assert entry.branch_id is not None  # parsed and routed as if typed cleanly


def test_staff_forms_store_names_and_notes_without_them(client, session, protector):
    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 3)
    admin = make_staff(session, "admin1", role="admin")
    session.commit()
    login_as(client, admin)
    assert (
        client.post(
            "/admin/branches/new",
            data={
                "code": "WH",
                "name": hide("武汉中心支公司"),
                "level": "中心支公司",
                "contact": hide("王经理 027-1"),
            },
        ).status_code
        == 302
    )
    assert (
        client.post(
            "/admin/referrals/channels", data={"code": "sms", "name": hide("短信")}
        ).status_code
        == 302
    )
    assert (
        client.post(
            f"/admin/leads/{lead.id}/follow-up", data={"status": "已联系", "note": hide("周六上门")}
        ).status_code
        == 302
    )
    session.expire_all()
    branch = session.scalars(select(Branch).where(Branch.code == "WH")).one()
    assert (branch.name, branch.contact) == ("武汉中心支公司", "王经理 027-1")
    assert session.scalars(select(Channel.name)).one() == "短信"
    assert session.scalars(select(FollowUp.note)).one() == "周六上门"


def test_csv_imports_and_the_command_line_store_them_clean(session):
    """The services behind the CLI and the CSV uploads clean what they are given."""
    text = f"机构代码,业务员代码,姓名\nB11,A1,{hide('王小明')}\n"
    referrals.import_agents(session, referrals.parse_agents_csv(text.encode()))
    assert session.scalars(select(Agent.name)).one() == "王小明"
    user = auth.create_user(
        session, "clerk", "a-long-enough-passphrase", "analyst", display_name=hide("李 四")
    )
    assert user.display_name == "李 四"
    # A NUL still means a wrong file, not a character to strip.
    with pytest.raises(referrals.ReferralError, match="不是CSV"):
        referrals.parse_agents_csv("机构代码,业务员代码,姓名\nB11,A2,王\x00\n")


def test_a_follow_up_note_given_to_the_service_is_cleaned(session, protector):
    campaign = current_campaign(session)
    lead = make_participant(session, protector, campaign, 4)
    admin = make_staff(session, "admin2", role="admin")
    entry = leads.record_follow_up(session, admin, lead, "已联系", hide("已电话联系"))
    assert entry.note == "已电话联系"


def test_is_invisible_names_exactly_what_strip_invisible_removes():
    from quiz.text_safety import REMOVED_RANGES, is_invisible, strip_invisible

    edges = {c + d for low, high in REMOVED_RANGES for c in (low, high) for d in (-1, 0, 1)}
    codes = sorted(c for c in set(range(0x2100)) | edges if 0 <= c <= 0x10FFFF)
    # Removed, or (line and paragraph separators, vertical tab) replaced by a space.
    wrong = [
        f"U+{c:04X}" for c in codes if is_invisible(chr(c)) != (strip_invisible(chr(c)) != chr(c))
    ]
    assert wrong == []
    assert not is_invisible("\t") and not is_invisible("张") and is_invisible("\u202e")
