"""Build and send each branch's daily digest over SMTP (smtplib; settings QUIZ_SMTP_*).

Recipients are the e-mail addresses written in the branch's 联系人及电话 (Branch.contact),
so head office keeps one place for a branch's contacts; a branch without one gets none.
"""

from __future__ import annotations

import logging
import re
import smtplib
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from email.message import EmailMessage

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.clock import CHINA
from quiz.models import Branch, BranchCount, Campaign
from quiz.owners import service as owners
from quiz.race import service as race

log = logging.getLogger("quiz.digest")
EMAIL = re.compile(r"[A-Za-z0-9._%+-]+@[A-Za-z0-9.-]+\.[A-Za-z]{2,}")


@dataclass(frozen=True)
class SmtpSettings:
    host: str
    sender: str
    port: int = 25
    user: str = ""
    password: str = ""
    starttls: bool = False
    timeout: float = 10.0


@dataclass
class Digest:
    branch: Branch
    recipients: list[str]
    subject: str
    body: str


def recipients(branch: Branch) -> list[str]:
    return sorted(set(EMAIL.findall(branch.contact or "")))


def _race_line(groups: list[race.GroupStanding], branch_id: int) -> str:
    for group in groups:
        for row in group.rows:
            if row.branch_id == branch_id:
                rank = f"第 {row.rank} 名" if row.rank else "未排名(未设目标)"
                line = f"分组竞赛:{group.name} {rank},共 {len(group.rows)} 家"
                if row.rate is not None:
                    line += f";达成率 {row.rate:.1f} %"
                if row.milestone_line:
                    line += f"({row.milestone_line})"
                return line
    return ""


def build(session: Session, campaign: Campaign, day: date) -> list[Digest]:
    """The digests of `day` (a Beijing date: new leads registered that day; overdue and the
    race as of that day), one per active branch with an e-mail address."""
    new = dict(
        session.execute(
            select(BranchCount.branch_id, func.sum(BranchCount.count))
            .where(BranchCount.campaign_id == campaign.id, BranchCount.day == day)
            .group_by(BranchCount.branch_id)
        ).all()
    )
    late: dict[int, int] = {}
    for participant, _ in owners.overdue(session, day + timedelta(days=1), campaign_id=campaign.id):
        if participant.branch_id is not None:
            late[participant.branch_id] = late.get(participant.branch_id, 0) + 1
    groups = race.standings(session, campaign, day)
    digests = []
    for branch in session.scalars(select(Branch).where(Branch.active).order_by(Branch.code)):
        to = recipients(branch)
        if not to:
            continue
        lines = [
            f"{branch.name}:",
            "",
            f"{campaign.name} {day.month}月{day.day}日 日报",
            f"新增线索:{int(new.get(branch.id, 0) or 0)} 条",
            f"逾期未联系线索:{late.get(branch.id, 0)} 条",
        ]
        race_line = _race_line(groups, branch.id)
        if race_line:
            lines.append(race_line)
        lines += ["", "请登录后台「线索管理」「线索分配」查看详情。此邮件由系统自动发送。"]
        digests.append(
            Digest(
                branch,
                to,
                f"【{campaign.name}】{branch.name} {day.month}月{day.day}日 日报",
                "\n".join(lines),
            )
        )
    return digests


def send(digests: list[Digest], smtp: SmtpSettings) -> int:
    """Send each digest; one refused recipient does not stop the others. Returns sent."""
    sent = 0
    with smtplib.SMTP(smtp.host, smtp.port, timeout=smtp.timeout) as client:
        if smtp.starttls:
            client.starttls()
        if smtp.user:
            client.login(smtp.user, smtp.password)
        for digest in digests:
            message = EmailMessage()
            message["From"] = smtp.sender
            message["To"] = ", ".join(digest.recipients)
            message["Subject"] = digest.subject
            message.set_content(digest.body)
            try:
                client.send_message(message)
                sent += 1
            except smtplib.SMTPException:
                log.warning("digest to %s refused", digest.branch.code, exc_info=True)
    return sent


def campaigns_running(session: Session, day: date) -> list[Campaign]:
    """Published campaigns whose window overlaps the Beijing day."""
    start = datetime(day.year, day.month, day.day, tzinfo=CHINA)
    end = start + timedelta(days=1)
    return list(
        session.scalars(
            select(Campaign).where(
                Campaign.status == "published", Campaign.opens_at < end, Campaign.closes_at >= start
            )
        )
    )
