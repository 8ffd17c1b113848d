"""Insurance-knowledge prize quiz: the application factory."""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # keep `import quiz` light: quiz.draw.replay must run without Flask
    from flask import Flask

ROOT = Path(__file__).resolve().parent.parent


class ConfigurationError(RuntimeError):
    """The app refuses to start with this configuration."""


def create_app(overrides: Mapping[str, Any] | None = None) -> Flask:
    """Build the app: config, database, extensions, blueprints, CLI, error handlers."""
    from flask import Flask

    from quiz.config import Settings, flask_config

    app = Flask(
        __name__,
        instance_relative_config=True,
        template_folder=str(ROOT / "templates"),
        static_folder=str(ROOT / "static"),
    )
    from quiz.web.request import BoundedIntConverter

    # Before any route is added: each rule binds its converter when it is registered.
    app.url_map.converters["int"] = BoundedIntConverter
    app.config.from_mapping(flask_config(Settings()))
    if overrides:
        app.config.from_mapping(overrides)
    configure(app)
    register_extensions(app)
    register_blueprints(app)
    register_errorhandlers(app)
    register_hooks(app)
    from quiz.extensions import drop_idle_limiter_hook

    drop_idle_limiter_hook(app)
    from quiz.web.queue import install_outbox_nudge

    install_outbox_nudge()
    return app


def configure(app: Flask) -> None:
    """Fill in secrets and the database URL; refuse unsafe production settings."""
    from werkzeug.middleware.proxy_fix import ProxyFix

    from quiz.db import Database
    from quiz.privacy.protection import (
        Protector,
        load_or_create_instance_keys,
        private_dir,
        split_keys,
    )

    production = app.config["QUIZ_ENV"] == "production"
    needed = ("SECRET_KEY", "QUIZ_DATA_KEY", "QUIZ_HASH_KEY")
    missing = [name for name in needed if not app.config.get(name)]
    if missing and production:
        raise ConfigurationError(f"production needs {', '.join(missing)} in the environment")
    if missing:
        keys = load_or_create_instance_keys(app.instance_path)
        for name in missing:
            app.config[name] = keys[name]
    if not app.config.get("DATABASE_URL"):
        private_dir(app.instance_path, tighten=True)
        app.config["DATABASE_URL"] = f"sqlite:///{Path(app.instance_path) / 'quiz.sqlite3'}"
    workers = app.config.get("WEB_CONCURRENCY") or 1
    storage = app.config["RATELIMIT_STORAGE_URI"]
    if production and workers > 1 and storage.startswith("memory://"):
        raise ConfigurationError(
            "RATELIMIT_STORAGE_URI=memory:// keeps separate counts in each worker, so limits "
            "would be multiplied by the worker count; use redis://... with several workers"
        )
    if storage.startswith(("redis://", "rediss://")):
        # Never let a dead or black-holed Redis host hold a request for long.
        app.config.setdefault(
            "RATELIMIT_STORAGE_OPTIONS", {"socket_connect_timeout": 0.5, "socket_timeout": 0.5}
        )
    app.extensions["quiz.db"] = Database(app.config["DATABASE_URL"])
    from quiz.campaign.cache import CampaignCache
    from quiz.referrals.links import configure_thresholds, thresholds_from

    configure_thresholds(thresholds_from(app.config))
    app.extensions["quiz.campaign"] = CampaignCache(
        app.extensions["quiz.db"], float(app.config["QUIZ_CAMPAIGN_CACHE_SECONDS"])
    )
    from quiz.reports.counters import VisitBatch

    app.extensions["quiz.visits"] = VisitBatch(
        app.extensions["quiz.db"], float(app.config["QUIZ_VISIT_FLUSH_SECONDS"])
    )
    app.extensions["quiz.protector"] = Protector(
        split_keys(app.config["QUIZ_DATA_KEY"]), app.config["QUIZ_HASH_KEY"]
    )
    configure_sms(app, production)
    if app.config.get("TRUSTED_PROXIES"):
        n = int(app.config["TRUSTED_PROXIES"])
        app.wsgi_app = ProxyFix(app.wsgi_app, x_for=n, x_proto=n, x_host=n)  # type: ignore[method-assign]
    from quiz.web.logging_setup import setup_logging

    setup_logging(app.config.get("QUIZ_LOG_LEVEL", "INFO"))


def configure_sms(app: Flask, production: bool) -> None:
    """The SMS backend and sending limits (quiz.fraud); production refuses `console`."""
    from quiz.fraud.codes import SmsLimits
    from quiz.fraud.sms import SmsConfigError, SmsSettings, build_sender

    config = app.config
    settings = SmsSettings(
        backend=str(config.get("QUIZ_SMS_BACKEND") or "console"),
        sign_name=str(config.get("QUIZ_SMS_SIGN_NAME") or ""),
        template_id=str(config.get("QUIZ_SMS_TEMPLATE_ID") or ""),
        key_id=str(config.get("QUIZ_SMS_KEY_ID") or ""),
        key_secret=str(config.get("QUIZ_SMS_KEY_SECRET") or ""),
        app_id=str(config.get("QUIZ_SMS_APP_ID") or ""),
        region=str(config.get("QUIZ_SMS_REGION") or "ap-guangzhou"),
        endpoint=str(config.get("QUIZ_SMS_ENDPOINT") or ""),
    )
    try:
        app.extensions["quiz.sms"] = build_sender(settings, production=production)
    except SmsConfigError as exc:
        raise ConfigurationError(str(exc)) from exc
    app.extensions["quiz.sms_limits"] = SmsLimits(
        per_client_day=int(config.get("QUIZ_SMS_CLIENT_DAY_LIMIT") or 20),
        per_campaign_day=int(config.get("QUIZ_SMS_CAMPAIGN_DAY_BUDGET") or 20_000),
    )


def register_extensions(app: Flask) -> None:
    from quiz.extensions import csrf, limiter

    csrf.init_app(app)
    limiter.init_app(app)


def register_blueprints(app: Flask) -> None:
    from quiz import admin, public
    from quiz.public.draw_views import bp as draw_public_bp
    from quiz.web.health import bp as ops_bp

    public.load_views()
    app.register_blueprint(public.bp)
    admin.load_views()
    app.register_blueprint(admin.bp)
    app.register_blueprint(ops_bp)
    app.register_blueprint(draw_public_bp)


def register_errorhandlers(app: Flask) -> None:
    from quiz.web.errors import register

    register(app)


def register_hooks(app: Flask) -> None:
    from quiz.web.request import register as register_web

    register_web(app)
    register_static_caching(app)
    from quiz.web.compression import init_app as init_compression

    init_compression(app)


REGIONS_JSON = "regions.json"
REGIONS_MAX_AGE = 7 * 24 * 3600


def register_static_caching(app: Flask) -> None:
    """Cache the region data for a week: its URL carries ?v=<content hash>, so a refresh
    reaches browsers at once. Other static files keep Flask's default (revalidate)."""
    import hashlib

    default_max_age = app.get_send_file_max_age
    data = (Path(app.static_folder or "") / REGIONS_JSON).read_bytes()
    version = hashlib.sha256(data).hexdigest()[:12]

    def max_age(filename: str | None) -> int | None:
        return REGIONS_MAX_AGE if filename == REGIONS_JSON else default_max_age(filename)

    app.get_send_file_max_age = max_age  # type: ignore[method-assign]
    app.add_template_global(version, "regions_version")
