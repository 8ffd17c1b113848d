"""The campaign the public site serves, cached in each worker for a few seconds.

Every public request needs it, and it changes only when head office loads a
campaign file; reading and decoding it (rules, privacy notice, question bank)
on every request was the largest single cost of a question page. Each worker
keeps a detached copy for QUIZ_CAMPAIGN_CACHE_SECONDS (0 turns the cache off),
so a newly loaded campaign reaches every worker within that many seconds.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from quiz.campaign.lifecycle import current_campaign
from quiz.db import Database
from quiz.engine.bank import QuestionBank, question_bank
from quiz.models import Campaign

Served = tuple[Campaign, QuestionBank] | None


class CampaignCache:
    """Detached copies of the current campaign and its questions, refreshed after `ttl`
    seconds."""

    def __init__(
        self, database: Database, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._database = database
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entry: tuple[float, Served] | None = None

    def get(self) -> Campaign | None:
        """The current campaign (None when none is loaded); never attached to a session."""
        served = self.served()
        return served[0] if served else None

    def served(self) -> Served:
        """The current campaign with its question bank, both from the same load."""
        entry = self._entry
        if entry is not None and self._clock() < entry[0]:
            return entry[1]
        with self._lock:
            entry = self._entry
            if entry is not None and self._clock() < entry[0]:
                return entry[1]
            served: Served = None
            with self._database.session() as session:
                campaign = current_campaign(session)
                if campaign is not None:
                    session.expunge(campaign)  # read-only from here on: no lazy loads
                    served = (campaign, question_bank(session, campaign.id))
            self._entry = (self._clock() + self._ttl, served)
            return served

    def clear(self) -> None:
        self._entry = None
