"""Flask extension objects, bound to the app in create_app."""

from __future__ import annotations

from flask import request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect


def client_address() -> str:
    """The client address as ProxyFix resolved it from trusted proxies only."""
    return request.remote_addr or "unknown"


csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[])  # headers: see config.py
