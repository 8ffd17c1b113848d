"""What anonymising writes and when a prize no longer needs the winner's address: shared by
the participants' retention (quiz.privacy.retention) and the imported lists'
(quiz.privacy.list_entrants)."""

from __future__ import annotations

from collections.abc import Iterable

from quiz.models import Winner

ANONYMOUS_NAME = "已匿名"
# Fulfilment is over once the prize was received (quiz.draw.service.SHIPPING_STATUSES);
# 待寄送, 已寄送 and 退回 may still need the winner's address and mobile.
FINAL_SHIPPING_STATUSES = frozenset({"已签收"})


def prize_pending(wins: Iterable[Winner]) -> bool:
    """Whether any of these prizes has not been received yet."""
    return any(w.shipping_status not in FINAL_SHIPPING_STATUSES for w in wins)
