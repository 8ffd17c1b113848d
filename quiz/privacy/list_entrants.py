"""People on imported lists (list_draw) under the participants' privacy rules.

Retention: a list entrant's 客户号, mobile and address are kept for the campaign's
follow-up period after the draw, a winner's until the prize is received and the winner
period has passed ([privacy] of the campaign file, as for a quiz). Erasure: a person's
request, found by mobile and 客户号 together. Key rotation: the encrypted part and the
keyed hashes, with the draw exclusions that hold a 客户号's hash carried over.

Anonymising is one UPDATE per batch of rows (lists run to a million rows), keeping the
branch and the eligibility date that statistics count.
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from datetime import datetime, timedelta

from sqlalchemy import select, update
from sqlalchemy.orm import Session

from quiz.db import utcnow
from quiz.identity import IdentityError, validate_mobile
from quiz.models import Campaign, Draw, Exclusion, ListEntrant, Winner
from quiz.privacy.protection import Protector
from quiz.privacy.rules import ANONYMOUS_NAME, FINAL_SHIPPING_STATUSES, prize_pending

BATCH = 2000
# Not a hash of anything: no look-up finds an anonymised row (no unique index to satisfy).
_NO_HASH = "anon"


def _winners(session: Session, ids: Sequence[int]) -> dict[int, list[Winner]]:
    """Winner rows of non-voided draws, by list entrant."""
    found: dict[int, list[Winner]] = {}
    if not ids:
        return found
    rows = session.scalars(
        select(Winner)
        .join(Draw, Draw.id == Winner.draw_id)
        .where(Winner.list_entrant_id.in_(ids), Draw.status != "voided")
    )
    for row in rows:
        assert row.list_entrant_id is not None
        found.setdefault(row.list_entrant_id, []).append(row)
    return found


def pending_prizes(session: Session, ids: Sequence[int]) -> list[Winner]:
    """Prizes of these entrants that have not been received yet."""
    return [
        w
        for rows in _winners(session, ids).values()
        for w in rows
        if w.shipping_status not in FINAL_SHIPPING_STATUSES
    ]


def anonymise(
    session: Session, protector: Protector, ids: Sequence[int], now: datetime | None = None
) -> int:
    """Overwrite the personal data of these entrants in place (flush, no commit); the rows
    stay, so frozen draws and their winner lists still add up. Returns rows changed."""
    if not ids:
        return 0
    changed = session.execute(
        update(ListEntrant)
        .where(ListEntrant.id.in_(ids), ListEntrant.anonymised_at.is_(None))
        .values(
            name=ANONYMOUS_NAME,
            name_masked="*",
            customer_hash=_NO_HASH,
            customer_masked="*",
            mobile_hash=_NO_HASH,
            mobile_masked="*" * 11,
            personal_enc=protector.encrypt("{}"),  # an empty record: nothing to read back
            anonymised_at=now or utcnow(),
        )
        .execution_options(synchronize_session=False)
    ).rowcount
    # A courier's tracking number leads back to the delivery address.
    session.execute(
        update(Winner)
        .where(Winner.list_entrant_id.in_(ids))
        .values(tracking_no=None)
        .execution_options(synchronize_session=False)
    )
    return int(changed or 0)


def purge_campaign(
    session: Session,
    protector: Protector,
    campaign: Campaign,
    *,
    now: datetime,
    limit: int | None,
    dry_run: bool,
) -> tuple[int, int, int]:
    """Anonymise one list campaign's entrants whose retention ended (at most `limit`).

    Returns (non-winners, winners, winners kept because the prize is not received yet).
    """
    follow_up_days = int(campaign.content.get("follow_up_retention_days") or 0)
    winner_days = int(campaign.content.get("winner_retention_days") or 0)
    if not follow_up_days or now < campaign.draw_at + timedelta(days=follow_up_days):
        return 0, 0, 0
    winners_due = bool(winner_days) and now >= campaign.draw_at + timedelta(days=winner_days)
    non_winners = winners = pending = 0
    last_id = 0
    while limit is None or non_winners + winners < limit:
        ids = list(
            session.scalars(
                select(ListEntrant.id)
                .where(
                    ListEntrant.campaign_id == campaign.id,
                    ListEntrant.anonymised_at.is_(None),
                    ListEntrant.id > last_id,
                )
                .order_by(ListEntrant.id)
                .limit(BATCH)
            )
        )
        if not ids:
            break
        last_id = ids[-1]
        wins = _winners(session, ids)
        due: list[int] = []
        for entrant_id in ids:
            if limit is not None and non_winners + winners >= limit:
                break
            won = wins.get(entrant_id)
            if won and (not winners_due or prize_pending(won)):
                pending += int(winners_due)
                continue
            due.append(entrant_id)
            if won:
                winners += 1
            else:
                non_winners += 1
        if not dry_run:
            anonymise(session, protector, due, now)
    return non_winners, winners, pending


def find(session: Session, protector: Protector, mobile: str, customer: str) -> list[ListEntrant]:
    """Every list entry (all campaigns) with this mobile and this 客户号 (or 保单号)."""
    try:
        digits = validate_mobile(mobile)
    except IdentityError:
        digits = mobile.strip()
    return list(
        session.scalars(
            select(ListEntrant)
            .where(
                ListEntrant.mobile_hash == protector.lookup_hash("mobile", digits),
                ListEntrant.customer_hash == protector.lookup_hash("customer", customer.strip()),
            )
            .order_by(ListEntrant.id)
        )
    )


def customer_of(protector: Protector, entrant: ListEntrant) -> tuple[str, str]:
    """(客户号, mobile) of an entrant, decrypted (for recomputing its hashes)."""
    data = json.loads(protector.decrypt(entrant.personal_enc))
    return str(data.get("customer") or ""), str(data.get("mobile") or "")


def rehash(
    session: Session, new_hasher: Protector, protector: Protector, entrant: ListEntrant
) -> int:
    """Recompute an entrant's hashes under a new hash key; exclusions of its campaign that
    hold the old 客户号 hash follow it. Returns the exclusions carried over."""
    customer, mobile = customer_of(protector, entrant)
    new_customer = new_hasher.lookup_hash("customer", customer)
    carried = 0
    if entrant.customer_hash != new_customer:
        carried = int(
            session.execute(
                update(Exclusion)
                .where(
                    Exclusion.campaign_id == entrant.campaign_id,
                    Exclusion.id_hash == entrant.customer_hash,
                )
                .values(id_hash=new_customer)
                .execution_options(synchronize_session=False)
            ).rowcount
            or 0
        )
        entrant.customer_hash = new_customer
    entrant.mobile_hash = new_hasher.lookup_hash("mobile", mobile)
    return carried
