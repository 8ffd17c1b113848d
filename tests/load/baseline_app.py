"""The floor the HTTP benchmark measures the site against, under the same gunicorn.

A plain Flask app: GET /ping returns a word, and POST /form reads the same six
fields the registration form has and stores them with one SQLAlchemy INSERT
(SQLite in WAL mode with a busy timeout, or PostgreSQL). No CSRF, validation,
encryption, rate limiting, sessions or templates: what is left of the site's
registration cost above this is what those features cost.

    BASELINE_DATABASE_URL=sqlite:///... gunicorn -c quiz/server/gunicorn.conf.py \\
        tests.load.baseline_app:app
"""

from __future__ import annotations

import os
from typing import Any

from flask import Flask, redirect, request
from flask.typing import ResponseReturnValue
from sqlalchemy import Column, Engine, Integer, MetaData, String, Table, insert

from quiz.db import make_engine

FIELDS = ("name", "resident_id", "address", "postal_code", "mobile", "landline")
metadata = MetaData()
entries = Table(
    "baseline_entry",
    metadata,
    Column("id", Integer, primary_key=True),
    *(Column(name, String(200)) for name in FIELDS),
)
_engine: tuple[int, Engine] | None = None


def engine() -> Engine:
    """This process's engine (made after gunicorn forks), with the site's SQLite pragmas."""
    global _engine
    if _engine is None or _engine[0] != os.getpid():
        _engine = (os.getpid(), make_engine(os.environ["BASELINE_DATABASE_URL"]))
    return _engine[1]


def create_tables(url: str) -> None:
    made = make_engine(url)
    metadata.create_all(made)
    made.dispose()


app = Flask(__name__)


@app.get("/ping")
def ping() -> ResponseReturnValue:
    return "ok"


@app.post("/form")
def form() -> ResponseReturnValue:
    values: dict[str, Any] = {name: request.form.get(name, "")[:200] for name in FIELDS}
    with engine().begin() as conn:
        conn.execute(insert(entries), values)
    return redirect("/ping")
