"""Operational endpoints: liveness and readiness checks for load balancers and monitoring."""

from __future__ import annotations

import logging

from flask import Blueprint, jsonify
from flask.wrappers import Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from quiz.extensions import csrf, limiter
from quiz.web.request import db

bp = Blueprint("ops", __name__)
log = logging.getLogger("quiz.ops")


@bp.get("/livez")
@limiter.exempt
@csrf.exempt
def live() -> tuple[Response, int]:
    """200 while the worker answers at all: no database, the cheapest route there is."""
    return jsonify(status="ok"), 200


@bp.get("/healthz")
@limiter.exempt
@csrf.exempt
def health() -> tuple[Response, int]:
    """200 when the database answers, 503 otherwise (take this host out of rotation)."""
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        log.warning("health check: database unreachable", exc_info=True)
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
