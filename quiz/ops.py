"""Operational endpoints: health check for load balancers and monitoring."""

from __future__ import annotations

from flask import Blueprint, jsonify
from flask.wrappers import Response
from sqlalchemy import text
from sqlalchemy.exc import SQLAlchemyError

from quiz.extensions import csrf, limiter
from quiz.web import db

bp = Blueprint("ops", __name__)


@bp.get("/healthz")
@limiter.exempt
@csrf.exempt
def health() -> tuple[Response, int]:
    """200 when the database answers, 503 otherwise."""
    try:
        db().execute(text("SELECT 1"))
    except SQLAlchemyError:
        return jsonify(status="error", database="unreachable"), 503
    return jsonify(status="ok", database="ok"), 200
