"""Flask extension objects, bound to the app in create_app."""

from __future__ import annotations

from flask import Flask, request
from flask_limiter import Limiter
from flask_wtf.csrf import CSRFProtect


def client_address() -> str:
    """The client address as ProxyFix resolved it from trusted proxies only."""
    return request.remote_addr or "unknown"


csrf = CSRFProtect()
limiter = Limiter(key_func=client_address, default_limits=[])  # headers: see config.py


def drop_idle_limiter_hook(app: Flask) -> None:
    """Remove flask-limiter's before-request check when it can have nothing to check.

    That hook enforces default, application-wide and blueprint limits before every
    request. The site sets none of those: each limit sits on its route and is checked
    when the route runs. The idle hook cost a fifth of a trivial request, on every
    request. Call after the blueprints are registered; with any such limit configured
    the hook stays.
    """
    manager = limiter.limit_manager
    if (
        manager.default_limits
        or manager.application_limits
        # Private in flask-limiter; if it ever disappears, keep the hook to be safe.
        or getattr(manager, "_blueprint_limits", True)
        or app.config.get("RATELIMIT_DEFAULT")
        or app.config.get("RATELIMIT_APPLICATION")
    ):
        return
    hooks = app.before_request_funcs.get(None, [])
    hooks[:] = [hook for hook in hooks if hook != limiter._check_request_limit]
