"""Configuration: the only module that reads os.environ."""

from __future__ import annotations

import os
from dataclasses import dataclass, field
from typing import Any

TRUE_WORDS = {"1", "true", "yes", "on"}


def _env(name: str, default: str | None = None) -> str | None:
    value = os.environ.get(name)
    return value if value not in (None, "") else default


def _env_bool(name: str, default: bool) -> bool:
    value = _env(name)
    return default if value is None else value.lower() in TRUE_WORDS


def _env_int(name: str, default: int) -> int:
    value = _env(name)
    return default if value is None else int(value)


def _env_optional_int(name: str) -> int | None:
    # Parsed here so a bad value stops the app at start, not each request that reads it.
    value = _env(name)
    return None if value is None else int(value)


@dataclass
class Settings:
    """Settings read from the environment, with safe defaults for the embedded setup."""

    env: str = field(default_factory=lambda: _env("QUIZ_ENV", "development") or "development")
    secret_key: str | None = field(default_factory=lambda: _env("SECRET_KEY"))
    database_url: str | None = field(default_factory=lambda: _env("DATABASE_URL"))
    data_key: str | None = field(default_factory=lambda: _env("QUIZ_DATA_KEY"))
    hash_key: str | None = field(default_factory=lambda: _env("QUIZ_HASH_KEY"))
    ratelimit_storage_uri: str = field(
        default_factory=lambda: _env("RATELIMIT_STORAGE_URI", "memory://") or "memory://"
    )
    trusted_proxies: int = field(default_factory=lambda: _env_int("TRUSTED_PROXIES", 0))
    https: bool = field(default_factory=lambda: _env_bool("QUIZ_HTTPS", False))
    campaign_file: str | None = field(default_factory=lambda: _env("QUIZ_CAMPAIGN_FILE"))
    campaign_cache_seconds: int = field(
        default_factory=lambda: _env_int("QUIZ_CAMPAIGN_CACHE_SECONDS", 5)
    )
    register_limit: str = field(
        default_factory=lambda: _env("QUIZ_REGISTER_LIMIT", "30/minute;300/hour") or ""
    )
    answer_limit: str = field(default_factory=lambda: _env("QUIZ_ANSWER_LIMIT", "240/minute") or "")
    login_limit: str = field(
        default_factory=lambda: _env("QUIZ_LOGIN_LIMIT", "10/minute;50/hour") or ""
    )
    web_concurrency: int | None = field(
        default_factory=lambda: int(v) if (v := _env("WEB_CONCURRENCY")) else None
    )
    branch_totp_required: bool = field(default_factory=lambda: _env_bool("QUIZ_BRANCH_TOTP", False))
    log_level: str = field(default_factory=lambda: _env("QUIZ_LOG_LEVEL", "INFO") or "INFO")
    ratelimit_fallback: bool = field(
        default_factory=lambda: _env_bool("QUIZ_RATELIMIT_FALLBACK", True)
    )
    # Unset, these leave the default to the code that uses them (None: not in the config).
    lookup_limit: str | None = field(default_factory=lambda: _env("QUIZ_LOOKUP_LIMIT"))
    last4_limit: str | None = field(default_factory=lambda: _env("QUIZ_LAST4_LIMIT"))
    export_dir: str | None = field(default_factory=lambda: _env("QUIZ_EXPORT_DIR"))
    # Drawing-contest pictures (quiz.artwork.images); default: the instance folder's media/.
    media_dir: str | None = field(default_factory=lambda: _env("QUIZ_MEDIA_DIR"))
    referral_burst_limit: int | None = field(
        default_factory=lambda: _env_optional_int("QUIZ_REFERRAL_BURST_LIMIT")
    )
    referral_burst_window_minutes: int | None = field(
        default_factory=lambda: _env_optional_int("QUIZ_REFERRAL_BURST_WINDOW_MINUTES")
    )
    ratelimit_default: str | None = field(default_factory=lambda: _env("RATELIMIT_DEFAULT"))
    # Sites sharing one Redis (e.g. staging beside production) keep their counts apart.
    ratelimit_key_prefix: str | None = field(default_factory=lambda: _env("RATELIMIT_KEY_PREFIX"))
    # The task queue (quiz.tasks; README "Task queue") and the CRM webhooks' timing.
    queue_url: str | None = field(default_factory=lambda: _env("QUIZ_QUEUE_URL"))
    queue_name: str | None = field(default_factory=lambda: _env("QUIZ_QUEUE_NAME"))
    webhook_backoff_seconds: str | None = field(
        default_factory=lambda: _env("QUIZ_WEBHOOK_BACKOFF_SECONDS")
    )
    webhook_claim_seconds: str | None = field(
        default_factory=lambda: _env("QUIZ_WEBHOOK_CLAIM_SECONDS")
    )
    # The daily digest's mail server (quiz.digest); unset host: no digest is sent.
    smtp_host: str | None = field(default_factory=lambda: _env("QUIZ_SMTP_HOST"))
    smtp_port: int = field(default_factory=lambda: _env_int("QUIZ_SMTP_PORT", 25))
    smtp_user: str | None = field(default_factory=lambda: _env("QUIZ_SMTP_USER"))
    smtp_password: str | None = field(default_factory=lambda: _env("QUIZ_SMTP_PASSWORD"))
    smtp_from: str | None = field(default_factory=lambda: _env("QUIZ_SMTP_FROM"))
    smtp_starttls: bool = field(default_factory=lambda: _env_bool("QUIZ_SMTP_STARTTLS", False))
    public_url: str | None = field(default_factory=lambda: _env("QUIZ_PUBLIC_URL"))
    visit_flush_seconds: int = field(
        default_factory=lambda: _env_int("QUIZ_VISIT_FLUSH_SECONDS", 10)
    )

    # SMS verification codes (quiz.fraud; README "SMS verification").
    sms_backend: str = field(
        default_factory=lambda: _env("QUIZ_SMS_BACKEND", "console") or "console"
    )
    sms_sign_name: str = field(default_factory=lambda: _env("QUIZ_SMS_SIGN_NAME", "") or "")
    sms_template_id: str = field(default_factory=lambda: _env("QUIZ_SMS_TEMPLATE_ID", "") or "")
    sms_key_id: str = field(default_factory=lambda: _env("QUIZ_SMS_KEY_ID", "") or "")
    sms_key_secret: str = field(default_factory=lambda: _env("QUIZ_SMS_KEY_SECRET", "") or "")
    sms_app_id: str = field(default_factory=lambda: _env("QUIZ_SMS_APP_ID", "") or "")
    sms_region: str = field(
        default_factory=lambda: _env("QUIZ_SMS_REGION", "ap-guangzhou") or "ap-guangzhou"
    )
    sms_endpoint: str = field(default_factory=lambda: _env("QUIZ_SMS_ENDPOINT", "") or "")
    sms_client_day_limit: int = field(
        default_factory=lambda: _env_int("QUIZ_SMS_CLIENT_DAY_LIMIT", 20)
    )
    sms_campaign_day_budget: int = field(
        default_factory=lambda: _env_int("QUIZ_SMS_CAMPAIGN_DAY_BUDGET", 20_000)
    )

    @property
    def production(self) -> bool:
        return self.env == "production"


def flask_config(settings: Settings) -> dict[str, Any]:
    """Translate settings into the Flask config mapping."""
    optional = {
        "QUIZ_LOOKUP_LIMIT": settings.lookup_limit,
        "QUIZ_LAST4_LIMIT": settings.last4_limit,
        "QUIZ_EXPORT_DIR": settings.export_dir,
        "QUIZ_MEDIA_DIR": settings.media_dir,
        "QUIZ_REFERRAL_BURST_LIMIT": settings.referral_burst_limit,
        "QUIZ_REFERRAL_BURST_WINDOW_MINUTES": settings.referral_burst_window_minutes,
        "RATELIMIT_DEFAULT": settings.ratelimit_default,
        "RATELIMIT_KEY_PREFIX": settings.ratelimit_key_prefix,
        "QUIZ_QUEUE_URL": settings.queue_url,
        "QUIZ_QUEUE_NAME": settings.queue_name,
        "QUIZ_WEBHOOK_BACKOFF_SECONDS": settings.webhook_backoff_seconds,
        "QUIZ_WEBHOOK_CLAIM_SECONDS": settings.webhook_claim_seconds,
        "QUIZ_SMTP_HOST": settings.smtp_host,
        "QUIZ_SMTP_USER": settings.smtp_user,
        "QUIZ_SMTP_PASSWORD": settings.smtp_password,
        "QUIZ_SMTP_FROM": settings.smtp_from,
        "QUIZ_PUBLIC_URL": settings.public_url,
    }
    return {key: value for key, value in optional.items() if value is not None} | {
        "QUIZ_ENV": settings.env,
        "SECRET_KEY": settings.secret_key,
        "DATABASE_URL": settings.database_url,
        "QUIZ_DATA_KEY": settings.data_key,
        "QUIZ_HASH_KEY": settings.hash_key,
        "RATELIMIT_STORAGE_URI": settings.ratelimit_storage_uri,
        # No X-RateLimit-* headers: they cost a second Redis round trip on every limited
        # request, and the 429 page already tells the person to try again later.
        "RATELIMIT_HEADERS_ENABLED": False,
        "RATELIMIT_STRATEGY": "moving-window",
        "RATELIMIT_SWALLOW_ERRORS": True,
        # Redis down: keep enforcing the same limits per worker in memory and re-check
        # Redis with back-off (see README "When Redis is down").
        "RATELIMIT_IN_MEMORY_FALLBACK_ENABLED": settings.ratelimit_fallback,
        "TRUSTED_PROXIES": settings.trusted_proxies,
        "QUIZ_HTTPS": settings.https,
        "QUIZ_CAMPAIGN_FILE": settings.campaign_file,
        "QUIZ_CAMPAIGN_CACHE_SECONDS": settings.campaign_cache_seconds,
        "QUIZ_REGISTER_LIMIT": settings.register_limit,
        "QUIZ_ANSWER_LIMIT": settings.answer_limit,
        "QUIZ_LOGIN_LIMIT": settings.login_limit,
        "QUIZ_BRANCH_TOTP": settings.branch_totp_required,
        "WEB_CONCURRENCY": settings.web_concurrency,
        "QUIZ_LOG_LEVEL": settings.log_level,
        "QUIZ_VISIT_FLUSH_SECONDS": settings.visit_flush_seconds,
        "QUIZ_SMTP_PORT": settings.smtp_port,
        "QUIZ_SMTP_STARTTLS": settings.smtp_starttls,
        "QUIZ_SMS_BACKEND": settings.sms_backend,
        "QUIZ_SMS_SIGN_NAME": settings.sms_sign_name,
        "QUIZ_SMS_TEMPLATE_ID": settings.sms_template_id,
        "QUIZ_SMS_KEY_ID": settings.sms_key_id,
        "QUIZ_SMS_KEY_SECRET": settings.sms_key_secret,
        "QUIZ_SMS_APP_ID": settings.sms_app_id,
        "QUIZ_SMS_REGION": settings.sms_region,
        "QUIZ_SMS_ENDPOINT": settings.sms_endpoint,
        "QUIZ_SMS_CLIENT_DAY_LIMIT": settings.sms_client_day_limit,
        "QUIZ_SMS_CAMPAIGN_DAY_BUDGET": settings.sms_campaign_day_budget,
        "SESSION_COOKIE_HTTPONLY": True,
        "SESSION_COOKIE_SAMESITE": "Lax",
        "SESSION_COOKIE_SECURE": settings.https,
        "SESSION_COOKIE_NAME": "quiz_session",
        "PERMANENT_SESSION_LIFETIME": 8 * 3600,
        # Re-sign the cookie only when the session changes, not on every page.
        "SESSION_REFRESH_EACH_REQUEST": False,
        "WTF_CSRF_TIME_LIMIT": 8 * 3600,
        "MAX_CONTENT_LENGTH": 2 * 1024 * 1024,
        "JSON_AS_ASCII": False,
    }
