"""Sending a verification code by SMS: one interface, three backends.

`console` (development, tests, the load harness) writes the code to the log as one line
`sms-code mobile=<mobile> code=<code>` and keeps the last code per mobile in memory;
`aliyun` and `tencent` go through the vendors' official SDKs. The backend is chosen by
QUIZ_SMS_BACKEND; production refuses `console` (see `build_sender`).
"""

from __future__ import annotations

import json
import logging
import threading
from dataclasses import dataclass
from typing import Protocol

log = logging.getLogger("quiz.sms")

BACKENDS = ("console", "aliyun", "tencent")


class SmsError(RuntimeError):
    """The provider refused or did not answer; the message is for the operator's log."""


class SmsConfigError(ValueError):
    """The SMS settings are missing or unsafe (stops the app at start)."""


class SmsSender(Protocol):
    """Sends one verification code to one mainland mobile (11 digits, no +86)."""

    name: str

    def send_code(self, mobile: str, code: str) -> None: ...


@dataclass(frozen=True)
class SmsSettings:
    """What the backends need; read from the environment by quiz.config."""

    backend: str = "console"
    sign_name: str = ""  # 短信签名 approved by the provider
    template_id: str = ""  # Alibaba: TemplateCode (SMS_123...); Tencent: numeric TemplateId
    key_id: str = ""  # Alibaba AccessKey ID / Tencent SecretId
    key_secret: str = ""  # Alibaba AccessKey Secret / Tencent SecretKey
    app_id: str = ""  # Tencent SmsSdkAppId (unused by Alibaba)
    region: str = "ap-guangzhou"  # Tencent region (Alibaba's SMS is central)
    endpoint: str = ""  # empty: the vendor's public endpoint; tests point it at loopback


class ConsoleSender:
    """Development and tests: the code goes to the log and to `last_code` (this process)."""

    name = "console"

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._last: dict[str, str] = {}

    def send_code(self, mobile: str, code: str) -> None:
        # mobile and code are validated digits (codes.py), safe as bare log fields.
        log.warning("sms-code mobile=%s code=%s", mobile, code)
        with self._lock:
            self._last[mobile] = code

    def last_code(self, mobile: str) -> str | None:
        """Test hook: the last code sent to this mobile by this process."""
        with self._lock:
            return self._last.get(mobile)


def codes_in_log(text: str) -> dict[str, str]:
    """Test hook for another process (a load harness reading the server's stderr): the last
    code logged for each mobile."""
    found: dict[str, str] = {}
    for line in text.splitlines():
        _, marker, rest = line.partition("sms-code mobile=")
        if not marker:
            continue
        mobile, _, code_part = rest.partition(" code=")
        code = code_part.split()[0] if code_part.split() else ""
        if mobile.isdigit() and code.isdigit():
            found[mobile] = code
    return found


def _split_endpoint(endpoint: str) -> tuple[str, str]:
    """('http'|'https', host[:port]) from an endpoint setting with or without a scheme."""
    if endpoint.startswith("http://"):
        return "http", endpoint.removeprefix("http://").rstrip("/")
    return "https", endpoint.removeprefix("https://").rstrip("/")


class AliyunSender:
    """Alibaba Cloud SMS (dysmsapi 2017-05-25) through `alibabacloud-dysmsapi20170525`."""

    name = "aliyun"

    def __init__(self, settings: SmsSettings) -> None:
        from alibabacloud_dysmsapi20170525.client import Client
        from alibabacloud_tea_openapi import models as open_api_models

        scheme, host = _split_endpoint(settings.endpoint or "dysmsapi.aliyuncs.com")
        config = open_api_models.Config(
            access_key_id=settings.key_id,
            access_key_secret=settings.key_secret,
            endpoint=host,
            protocol=scheme,
        )
        self._client = Client(config)
        self._settings = settings

    def send_code(self, mobile: str, code: str) -> None:
        from alibabacloud_dysmsapi20170525 import models
        from alibabacloud_tea_util import models as util_models

        request = models.SendSmsRequest(
            phone_numbers=mobile,
            sign_name=self._settings.sign_name,
            template_code=self._settings.template_id,
            template_param=json.dumps({"code": code}),
        )
        # Short timeouts: the person waits on this page (milliseconds, the SDK's unit).
        runtime = util_models.RuntimeOptions(connect_timeout=3000, read_timeout=5000)
        try:
            response = self._client.send_sms_with_options(request, runtime)
        except Exception as exc:  # the SDK raises its own error types, or network errors
            raise SmsError(f"aliyun: {type(exc).__name__}: {exc}") from exc
        body = response.body
        if body is None or body.code != "OK":
            code_, message = (body.code, body.message) if body is not None else ("", "")
            raise SmsError(f"aliyun refused: {code_} {message}")


class TencentSender:
    """Tencent Cloud SMS (2021-01-11) through `tencentcloud-sdk-python-sms`."""

    name = "tencent"

    def __init__(self, settings: SmsSettings) -> None:
        from tencentcloud.common import credential
        from tencentcloud.common.profile.client_profile import ClientProfile
        from tencentcloud.common.profile.http_profile import HttpProfile
        from tencentcloud.sms.v20210111 import sms_client

        scheme, host = _split_endpoint(settings.endpoint or "sms.tencentcloudapi.com")
        http = HttpProfile(protocol=scheme, endpoint=host, reqTimeout=5)
        profile = ClientProfile(httpProfile=http)
        cred = credential.Credential(settings.key_id, settings.key_secret)
        self._client = sms_client.SmsClient(cred, settings.region, profile)
        self._settings = settings

    def send_code(self, mobile: str, code: str) -> None:
        from tencentcloud.common.exception.tencent_cloud_sdk_exception import (
            TencentCloudSDKException,
        )
        from tencentcloud.sms.v20210111 import models

        request = models.SendSmsRequest()
        request.PhoneNumberSet = ["+86" + mobile]
        request.SmsSdkAppId = self._settings.app_id
        request.SignName = self._settings.sign_name
        request.TemplateId = self._settings.template_id
        request.TemplateParamSet = [code]
        try:
            response = self._client.SendSms(request)
        except TencentCloudSDKException as exc:
            raise SmsError(f"tencent: {exc.get_code()} {exc.get_message()}") from exc
        except Exception as exc:  # network errors surface as other types
            raise SmsError(f"tencent: {type(exc).__name__}: {exc}") from exc
        statuses = response.SendStatusSet or []
        if not statuses or statuses[0].Code != "Ok":
            detail = f"{statuses[0].Code} {statuses[0].Message}" if statuses else "no status"
            raise SmsError(f"tencent refused: {detail}")


_REQUIRED = {
    "aliyun": ("sign_name", "template_id", "key_id", "key_secret"),
    "tencent": ("sign_name", "template_id", "key_id", "key_secret", "app_id"),
}


def build_sender(settings: SmsSettings, *, production: bool) -> SmsSender:
    """The configured backend; SmsConfigError for an unknown backend, a missing setting,
    or `console` in production (codes would go to a log instead of a phone)."""
    backend = settings.backend
    if backend not in BACKENDS:
        raise SmsConfigError(f"QUIZ_SMS_BACKEND must be one of {', '.join(BACKENDS)}")
    if backend == "console":
        if production:
            raise SmsConfigError(
                "QUIZ_SMS_BACKEND=console writes codes to the log; production needs "
                "aliyun or tencent"
            )
        return ConsoleSender()
    missing = [name for name in _REQUIRED[backend] if not getattr(settings, name)]
    if missing:
        names = ", ".join("QUIZ_SMS_" + name.upper() for name in missing)
        raise SmsConfigError(f"QUIZ_SMS_BACKEND={backend} needs {names}")
    return AliyunSender(settings) if backend == "aliyun" else TencentSender(settings)
