"""The queue with a real consumer process: a job enqueued while no worker runs is done by
the worker started later (a restart or a second host strands nothing)."""

from __future__ import annotations

import pytest

from quiz.campaign.lifecycle import current_campaign
from quiz.leads import export_jobs
from quiz.leads.service import LeadFilters
from quiz.models import ExportJob
from quiz.tasks.queue import QueueConfigError, make_huey, queue_url
from tests.factories import make_participant, make_staff
from tests.workers import STORAGES, use_queue, wait_for, worker


def test_queue_storage_follows_the_configuration(tmp_path):
    assert queue_url(None, "memory://", str(tmp_path)) == f"sqlite:///{tmp_path}/queue.sqlite3"
    # Scaled out: the rate limiter's Redis carries the queue too, unless one is named.
    assert queue_url(None, "redis://r:6379/0", "/x") == "redis://r:6379/0"
    assert queue_url("redis://q:6379/2", "redis://r:6379/0", "/x") == "redis://q:6379/2"
    assert type(make_huey(f"sqlite:///{tmp_path}/q.sqlite3")).__name__ == "SqliteHuey"
    with pytest.raises(QueueConfigError):
        make_huey("amqp://nope")


@pytest.mark.slow
@pytest.mark.parametrize("storage", STORAGES)
def test_an_export_queued_before_the_worker_starts_is_built_by_it(
    app, session, protector, tmp_path, storage
):
    campaign = current_campaign(session)
    for n in (1, 2, 3):
        make_participant(session, protector, campaign, n)
    user = make_staff(session, "ho", role="admin")
    job = export_jobs.create_job(session, user, "xlsx", "all", LeadFilters())
    session.commit()
    queue = use_queue(app, storage, tmp_path)
    queue.export(job.id, tmp_path / "exports")
    assert session.get(ExportJob, job.id).status == "pending"  # nobody consumes yet
    session.rollback()  # the fixture's session takes SQLite's write lock: let go of it
    database = app.extensions["quiz.db"]

    with worker(app, tmp_path / "worker.log"):

        def done():
            with database.transaction(write=False) as read:
                return read.get(ExportJob, job.id).status in ("done", "failed")

        wait_for(done, 60, "the export job")
    session.expire_all()
    finished = session.get(ExportJob, job.id)
    assert finished.status == "done", (tmp_path / "worker.log").read_text()
    assert finished.rows_done == 3
    assert (tmp_path / "exports").joinpath(finished.file_path.rsplit("/", 1)[-1]).exists()
    if storage == "redis":
        queue.huey.storage.flush_all()
