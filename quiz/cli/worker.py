"""`quiz worker`: the task queue's consumer (exports, imports, CRM webhook deliveries)."""

from __future__ import annotations

import logging
import os
import signal
import threading
import time
from datetime import date

import click
from flask import current_app
from flask.cli import with_appcontext

from quiz.tasks.queue import IMMEDIATE
from quiz.web.logging_setup import setup_logging
from quiz.web.queue import task_queue


def _exit_with(parent: int) -> None:
    """Stop this worker when the process that started it (`quiz serve`) is gone."""

    def watch() -> None:
        while os.getppid() == parent:
            time.sleep(1)
        os.kill(os.getpid(), signal.SIGTERM)

    threading.Thread(target=watch, daemon=True, name="parent-watch").start()


@click.command("worker")
@click.option("--threads", default=2, show_default=True, help="tasks run at the same time")
@click.option("--parent", type=int, default=None, hidden=True)
@with_appcontext
def worker_command(threads: int, parent: int | None) -> None:
    """Run the task queue's consumer until stopped (SIGINT: finish running tasks first)."""
    if current_app.config.get("QUIZ_QUEUE_URL") == IMMEDIATE:
        raise click.ClickException("QUIZ_QUEUE_URL=immediate runs tasks in place: no worker")
    queue = task_queue(current_app)
    # Huey reports each task's start, end and traceback on its own logger: same line format.
    handler = setup_logging(str(current_app.config.get("QUIZ_LOG_LEVEL") or "INFO"))
    huey_log = logging.getLogger("huey")
    huey_log.setLevel(logging.INFO)
    if handler not in huey_log.handlers:
        huey_log.addHandler(handler)
    # Events recorded while no worker ran, and claims a killed worker left: send them now.
    queue.deliver_webhooks()
    if parent is not None:
        _exit_with(parent)
    click.echo(f"quiz worker: consuming {type(queue.huey).__name__} with {threads} threads")
    queue.consumer(workers=threads).run()


@click.command("digest")
@click.option("--day", default=None, help="the Beijing date (YYYY-MM-DD); default: yesterday")
@with_appcontext
def digest_command(day: str | None) -> None:
    """Send each branch's daily digest now (the worker sends it every day at 08:30)."""
    try:
        chosen = date.fromisoformat(day) if day else None
    except ValueError:
        raise click.BadParameter("use YYYY-MM-DD", param_hint="--day") from None
    queue = task_queue(current_app)
    if queue.smtp is None:
        raise click.ClickException("set QUIZ_SMTP_HOST (and QUIZ_SMTP_FROM) first")
    click.echo(f"sent {queue.send_digests(chosen)} digests")


COMMANDS: tuple[click.Command, ...] = (worker_command, digest_command)
