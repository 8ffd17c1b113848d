"""Demo data for the shipped drawing contest: two agents, a few families and drawings
painted with Pillow, so that a newcomer's judging pages and gallery show something.

Only for the demo contest `quiz setup` loads from quiz/data/campaign/drawing-contest.toml,
and only once (a contest that has any family is left alone).
"""

from __future__ import annotations

import io
import random
from datetime import date

from PIL import Image, ImageDraw
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.artwork import invitations
from quiz.artwork.images import MediaStore, process
from quiz.artwork.signup import Child, Consents, Guardian, sign_up
from quiz.artwork.works import attach_work
from quiz.campaign.artwork_settings import from_content
from quiz.db import utcnow
from quiz.models import Agent, ArtworkFamily, Branch, Campaign
from quiz.privacy.protection import Protector

# (branch code, agent code, child, birth date, stage, award); 示例 marks every name.
FAMILIES = (
    ("B11", "DEMO-BJ", "示例小明", date(2018, 5, 1), "awarded", "一等奖"),
    ("B31", "DEMO-SH", "示例小红", date(2017, 9, 9), "awarded", "二等奖"),
    ("B11", "DEMO-BJ", "示例小刚", date(2021, 3, 3), "selected", None),
    ("B31", "DEMO-SH", "示例小丽", date(2020, 7, 7), "selected", None),
    ("B44", "DEMO-GD", "示例小华", date(2022, 1, 1), "selected", None),
)


def painting(seed: int) -> bytes:
    """A child-like drawing: sky, sun, house and flowers, in A3 proportions."""
    rng = random.Random(seed)  # noqa: S311 - colours of a demo picture, not a secret
    image = Image.new("RGB", (840, 1188), (250, 250, 245))
    draw = ImageDraw.Draw(image)
    draw.rectangle((0, 0, 840, 700), fill=(170 + rng.randint(0, 60), 210, 250))
    draw.ellipse((600, 80, 760, 240), fill=(255, 200, 40))
    draw.rectangle((0, 700, 840, 1188), fill=(120, 190 + rng.randint(0, 40), 90))
    left = rng.randint(120, 320)
    draw.rectangle((left, 560, left + 300, 860), fill=(220, 120, 80))
    draw.polygon([(left - 30, 560), (left + 150, 400), (left + 330, 560)], fill=(170, 40, 40))
    for _ in range(9):
        x, y = rng.randint(40, 800), rng.randint(900, 1150)
        color = (rng.randint(150, 255), rng.randint(0, 120), rng.randint(80, 255))
        draw.ellipse((x - 22, y - 22, x + 22, y + 22), fill=color)
    out = io.BytesIO()
    image.save(out, "JPEG", quality=88)
    return out.getvalue()


def load_demo(session: Session, protector: Protector, store: MediaStore, campaign: Campaign) -> int:
    """Add the demo families and works once; return how many children were added."""
    settings = from_content(campaign.content)
    has_families = session.scalar(
        select(func.count())
        .select_from(ArtworkFamily)
        .where(ArtworkFamily.campaign_id == campaign.id)
    )
    if settings is None or has_families:
        return 0
    branches = {b.code: b for b in session.scalars(select(Branch))}
    added = 0
    for n, (branch_code, agent_code, name, birth, stage, award) in enumerate(FAMILIES, 1):
        branch = branches.get(branch_code)
        if branch is None:
            continue
        agent = session.scalars(
            select(Agent).where(Agent.branch_id == branch.id, Agent.code == agent_code)
        ).first()
        if agent is None:
            agent = Agent(branch_id=branch.id, code=agent_code, name=f"示例代理人{n}")
            session.add(agent)
            session.flush()
        invitation = invitations.issue(session, campaign, agent, "demo")
        child = sign_up(
            session,
            protector,
            campaign,
            settings,
            invitation,
            Guardian(f"示例家长{n}", f"1380000000{n}", "母亲"),
            Child(name, birth),
            Consents(True, True, True, "demo", utcnow()),
        )
        work = attach_work(session, store, child, process(painting(n)), "demo")
        work.stage = stage
        work.award = award
        work.award_rank = n if award else None
        added += 1
    session.flush()
    return added
