"""The app's task queue (quiz.tasks), built on first use.

Built lazily because the SQLite default lives in the instance folder, which tests and
`quiz` commands may set after create_app; every process of one site resolves it the same.
"""

from __future__ import annotations

import logging
import threading
from typing import Any, cast

from flask import Flask, current_app, has_app_context
from sqlalchemy import event
from sqlalchemy.orm import Session

from quiz import outbox
from quiz.db import Database
from quiz.digest.service import SmtpSettings
from quiz.privacy.protection import Protector
from quiz.tasks.queue import TaskQueue, make_huey, queue_url
from quiz.webhooks.service import DeliverySettings

_lock = threading.Lock()
log = logging.getLogger("quiz.tasks")


def delivery_settings(app: Flask) -> DeliverySettings:
    config = app.config
    backoff = float(config.get("QUIZ_WEBHOOK_BACKOFF_SECONDS") or 30)
    claim = float(config.get("QUIZ_WEBHOOK_CLAIM_SECONDS") or 60)
    return DeliverySettings(backoff_seconds=backoff, claim_seconds=claim)


def smtp_settings(app: Flask) -> SmtpSettings | None:
    """The digest's mail server, or None when QUIZ_SMTP_HOST is not set."""
    config = app.config
    host = config.get("QUIZ_SMTP_HOST")
    if not host:
        return None
    return SmtpSettings(
        host=str(host),
        port=int(config.get("QUIZ_SMTP_PORT") or 25),
        user=str(config.get("QUIZ_SMTP_USER") or ""),
        password=str(config.get("QUIZ_SMTP_PASSWORD") or ""),
        sender=str(config.get("QUIZ_SMTP_FROM") or f"quiz@{host}"),
        starttls=bool(config.get("QUIZ_SMTP_STARTTLS")),
    )


def task_queue(app: Flask | None = None) -> TaskQueue:
    """The queue of `app` (default: the current app)."""
    app = app or cast(Flask, current_app._get_current_object())  # type: ignore[attr-defined]
    with _lock:
        queue = app.extensions.get("quiz.queue")
        if queue is None:
            url = queue_url(
                app.config.get("QUIZ_QUEUE_URL"),
                str(app.config.get("RATELIMIT_STORAGE_URI") or ""),
                app.instance_path,
            )
            queue = TaskQueue(
                make_huey(url, str(app.config.get("QUIZ_QUEUE_NAME") or "quiz")),
                cast(Database, app.extensions["quiz.db"]),
                cast(Protector, app.extensions["quiz.protector"]),
                delivery_settings(app),
                smtp_settings(app),
            )
            app.extensions["quiz.queue"] = queue
    return cast(TaskQueue, queue)


def _nudge_after_commit(session: Session) -> None:
    """A committed transaction recorded webhook events: ask a worker to send them now."""
    if not session.info.pop(outbox.PENDING, False) or not has_app_context():
        return
    try:
        task_queue().deliver_webhooks()
    except Exception:  # the queue is down: the worker's minute sweep sends them later
        log.warning("could not enqueue webhook delivery", exc_info=True)


def _forget_on_rollback(session: Session, *_: Any) -> None:
    session.info.pop(outbox.PENDING, None)


def install_outbox_nudge() -> None:
    """Once per process: every session's commit may enqueue a delivery."""
    if not event.contains(Session, "after_commit", _nudge_after_commit):
        event.listen(Session, "after_commit", _nudge_after_commit)
        event.listen(Session, "after_soft_rollback", _forget_on_rollback)
