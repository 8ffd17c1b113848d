"""The public site: campaign page, registration, quiz, result."""

from __future__ import annotations

from flask import (
    Blueprint,
)

bp = Blueprint("public", __name__)
