"""Branches (机构) and the mapping from provinces and cities to them."""

from __future__ import annotations

import re

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from quiz.models import Branch, BranchRoute
from quiz.regions import divisions

# Hong Kong and Macao are not served by mainland branches: their leads stay unassigned.
NOT_SERVED = frozenset({"71", "81", "82"})
_SUFFIX = re.compile(r"(省|市|壮族自治区|回族自治区|维吾尔自治区|自治区|特别行政区)$")


def short_province_name(name: str) -> str:
    """广西壮族自治区 -> 广西, 北京市 -> 北京, 内蒙古自治区 -> 内蒙古."""
    return _SUFFIX.sub("", name)


def seed_default_branches(session: Session) -> int:
    """One provincial branch (分公司) per province-level division, if there are no branches."""
    if session.scalar(select(func.count()).select_from(Branch)):
        return 0
    head = Branch(code="HO", name="总公司", level="总公司")
    session.add(head)
    session.flush()
    created = 0
    for province in divisions.provinces():
        if province.code[:2] in NOT_SERVED:
            continue
        branch = Branch(
            code=f"B{province.code[:2]}",
            name=f"{short_province_name(province.name)}分公司",
            level="分公司",
            parent_id=head.id,
        )
        session.add(branch)
        session.flush()
        session.add(BranchRoute(province_code=province.code, city_code=None, branch_id=branch.id))
        created += 1
    session.flush()
    return created
