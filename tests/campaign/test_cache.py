"""The per-worker campaign cache: served for its lifetime, then read again."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import inspect, update

from quiz.campaign.cache import CampaignCache
from quiz.db import Database
from quiz.models import Campaign


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def rename(database: Database, name: str) -> None:
    with database.transaction() as session:
        session.execute(update(Campaign).values(name=name))


def test_serves_a_detached_copy_until_it_expires(app: Flask) -> None:
    database: Database = app.extensions["quiz.db"]
    clock = Clock()
    cache = CampaignCache(database, ttl=5, clock=clock)
    first = cache.get()
    assert first is not None and inspect(first).detached
    original = first.name
    rename(database, "新活动名称")
    clock.now += 4.9
    assert cache.get() is first and first.name == original
    clock.now += 0.2
    fresh = cache.get()
    assert fresh is not None and fresh.name == "新活动名称"


def test_zero_lifetime_reads_every_time(app: Flask) -> None:
    database: Database = app.extensions["quiz.db"]
    cache = CampaignCache(database, ttl=0)
    assert cache.get() is not None
    rename(database, "立即生效")
    campaign = cache.get()
    assert campaign is not None and campaign.name == "立即生效"


def test_public_pages_use_the_cache(app: Flask) -> None:
    database: Database = app.extensions["quiz.db"]
    cache = CampaignCache(database, ttl=3600)
    app.extensions["quiz.campaign"] = cache
    client = app.test_client()
    name = cache.get().name  # type: ignore[union-attr]
    assert name in client.get("/", follow_redirects=True).get_data(as_text=True)
    rename(database, "改名后的活动")
    assert name in client.get("/", follow_redirects=True).get_data(
        as_text=True
    )  # still the cached copy
    cache.clear()
    assert "改名后的活动" in client.get("/", follow_redirects=True).get_data(as_text=True)


def test_a_question_newer_than_the_cache_reloads_it(app: Flask) -> None:
    """Another worker may assign a question this worker's cache does not hold yet."""
    from sqlalchemy import select

    from quiz.models import Question, QuizItem
    from tests.factories import make_participant

    database: Database = app.extensions["quiz.db"]
    cache = CampaignCache(database, ttl=3600)
    app.extensions["quiz.campaign"] = cache
    campaign = cache.get()
    assert campaign is not None
    with database.transaction() as session:
        p = make_participant(session, app.extensions["quiz.protector"], campaign, 71)
        public_id = p.public_id
        # A campaign file loaded just now added a question, given to this entry first.
        new = Question(
            campaign_id=campaign.id,
            key="new-q",
            kind="knowledge",
            position=999,
            text="新加入的题目:保险合同的犹豫期一般为多少天?",
            options=[{"key": "A", "text": "10天"}, {"key": "B", "text": "15天"}],
            correct=["B"],
        )
        session.add(new)
        session.flush()
        first = session.scalars(
            select(QuizItem).where(QuizItem.participant_id == p.id, QuizItem.position == 1)
        ).one()
        first.question_id = new.id
    client = app.test_client()
    with client.session_transaction() as browser:
        browser["pid"] = public_id
    page = client.get("/quiz")
    assert page.status_code == 200
    assert "新加入的题目" in page.get_data(as_text=True)
    assert client.post("/quiz", data={"position": "1", "choice": "B"}).status_code == 302
