"""Contest files for staff: results per group and branch, the roster with invitation codes.

CSV is UTF-8 with a BOM (Excel), XLSX has string cells only; every cell goes through the
leads exports' formula neutraliser (a name such as =HYPERLINK(...) stays text).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Mapping, Sequence

from quiz.clock import CHINA
from quiz.contest.ranking import BranchRow, Ranked
from quiz.contest.roster import Invitation
from quiz.leads.exports import csv_text_chunks, neutralise, write_xlsx

RESULT_HEADERS = (
    "组别",
    "名次",
    "工号",
    "姓名",
    "机构代码",
    "机构",
    "得分",
    "满分",
    "用时(秒)",
    "交卷时间",
    "奖项",
)
HEAD_OFFICE_EXTRA = ("离开页面次数",)
BRANCH_HEADERS = (
    "组别",
    "名次",
    "机构代码",
    "机构",
    "名单人数",
    "参赛人数",
    "参赛率",
    "平均分",
    "综合得分",
    "机构评优",
)
INVITE_HEADERS = ("工号", "姓名", "机构代码", "机构", "组别", "邀请码", "登录链接")


def _cells(values: Iterable[object]) -> list[str]:
    return [neutralise("" if v is None else str(v)) for v in values]


def result_rows(
    ranked: Mapping[str, list[Ranked]],
    names: Mapping[str, str],
    *,
    branch_id: int | None = None,
    group: str | None = None,
    head_office: bool = False,
) -> list[list[str]]:
    out = []
    for code, rows in ranked.items():
        if group is not None and code != group:
            continue
        for r in rows:
            if branch_id is not None and r.branch_id != branch_id:
                continue
            values: list[object] = [
                names.get(code, code),
                r.rank,
                r.staff_no,
                r.name,
                r.branch_code,
                r.branch_name,
                r.score,
                r.max_score,
                f"{r.seconds:.1f}",
                r.finished_at.astimezone(CHINA).strftime("%Y-%m-%d %H:%M:%S"),
                r.award or "",
            ]
            if head_office:
                values.append(r.visibility_changes)
            out.append(_cells(values))
    return out


def branch_rows(tables: Mapping[str, list[BranchRow]], names: Mapping[str, str]) -> list[list[str]]:
    return [
        _cells(
            (
                names.get(code, code),
                b.rank,
                b.branch_code,
                b.branch_name,
                b.roster,
                b.took_part,
                f"{b.rate * 100:.1f}%",
                f"{b.average:.1f}",
                f"{b.index:.1f}",
                "机构评优奖" if b.award else "",
            )
        )
        for code, rows in tables.items()
        for b in rows
    ]


def invitation_rows(invitations: Iterable[Invitation], sign_in_url: str) -> list[list[str]]:
    return [
        _cells(
            (
                i.staff_no,
                i.name,
                i.branch_code,
                i.branch_name,
                i.group_name,
                i.code,
                f"{sign_in_url}?no={i.staff_no}&code={i.code}",
            )
        )
        for i in invitations
    ]


def csv_file(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    return "".join(csv_text_chunks(rows, headers=headers)).encode("utf-8")


def xlsx_file(headers: Sequence[str], rows: Iterable[Sequence[str]]) -> bytes:
    buffer = io.BytesIO()
    write_xlsx(buffer, rows, headers=headers)
    return buffer.getvalue()
