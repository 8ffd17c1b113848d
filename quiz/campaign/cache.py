"""The campaigns the public site serves, cached in each worker for a few seconds.

Every public request needs its campaign, and it changes only when head office loads a
campaign file; reading and decoding it (rules, privacy notice, question bank)
on every request was the largest single cost of a question page. Each worker
keeps a detached copy per slug (and one for the old, campaign-less addresses) for
QUIZ_CAMPAIGN_CACHE_SECONDS (0 turns the cache off), so a newly loaded campaign
reaches every worker within that many seconds. A slug that names no campaign is cached
too (as None), so made-up addresses cannot make every request read the database.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable

from quiz.campaign.lifecycle import campaign_by_slug, current_campaign
from quiz.db import Database
from quiz.engine.bank import QuestionBank, question_bank
from quiz.models import Campaign

Served = tuple[Campaign, QuestionBank] | None


# At most this many slugs are kept: a crawler walking /c/<made-up>/ must not grow a
# worker's memory; past it the cache starts again empty (live campaigns are a handful).
MAX_SLUGS = 256


class CampaignCache:
    """Detached copies of campaigns and their questions by slug (None: the campaign of
    the old addresses), each refreshed after `ttl` seconds."""

    def __init__(
        self, database: Database, ttl: float, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self._database = database
        self._ttl = ttl
        self._clock = clock
        self._lock = threading.Lock()
        self._entries: dict[str | None, tuple[float, Served]] = {}

    def get(self, slug: str | None = None) -> Campaign | None:
        """The campaign at `slug` (None: the old addresses' one), or None when there is
        none; never attached to a session."""
        served = self.served(slug)
        return served[0] if served else None

    def served(self, slug: str | None = None) -> Served:
        """The campaign at `slug` with its question bank, both from the same load."""
        entry = self._entries.get(slug)
        if entry is not None and self._clock() < entry[0]:
            return entry[1]
        with self._lock:
            entry = self._entries.get(slug)
            if entry is not None and self._clock() < entry[0]:
                return entry[1]
            served: Served = None
            with self._database.session() as session:
                campaign = (
                    current_campaign(session) if slug is None else campaign_by_slug(session, slug)
                )
                if campaign is not None:
                    session.expunge(campaign)  # read-only from here on: no lazy loads
                    served = (campaign, question_bank(session, campaign.id))
            if len(self._entries) >= MAX_SLUGS:
                self._entries = {}
            # A new dict each time: readers outside the lock see the old or the new one whole.
            self._entries = {**self._entries, slug: (self._clock() + self._ttl, served)}
            return served

    def clear(self) -> None:
        self._entries = {}
