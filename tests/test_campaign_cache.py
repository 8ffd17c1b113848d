"""The per-worker campaign cache: served for its lifetime, then read again."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import inspect, update

from quiz.campaign_cache import CampaignCache
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
    assert name in client.get("/").get_data(as_text=True)
    rename(database, "改名后的活动")
    assert name in client.get("/").get_data(as_text=True)  # still the cached copy
    cache.clear()
    assert "改名后的活动" in client.get("/").get_data(as_text=True)
