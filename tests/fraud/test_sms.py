"""The SMS backends: the vendors' real SDK clients against a local HTTP endpoint.

A tiny threaded HTTP server stands in for the provider: it records each request, and the
tests recompute the request signature with the secret (so signing is exercised, not
mocked away), check the parameters, and answer with the provider's JSON.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import logging
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qsl, quote, urlsplit

import pytest

from quiz import ConfigurationError
from quiz.fraud.sms import (
    AliyunSender,
    ConsoleSender,
    SmsConfigError,
    SmsError,
    SmsSettings,
    TencentSender,
    build_sender,
    codes_in_log,
)
from tests.conftest import make_app

SECRET = "test-secret-key"
MOBILE = "13912345678"

ALIYUN_OK = {"Code": "OK", "Message": "OK", "BizId": "900619746936498440^0", "RequestId": "A1"}
ALIYUN_LIMITED = {
    "Code": "isv.BUSINESS_LIMIT_CONTROL",
    "Message": "触发小时级流控Permits:5",
    "RequestId": "A2",
}
TENCENT_OK = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "5000:1045710669157053657849499619",
                "PhoneNumber": "+8613912345678",
                "Fee": 1,
                "SessionContext": "",
                "Code": "Ok",
                "Message": "send success",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "T1",
    }
}
TENCENT_REFUSED = {
    "Response": {
        "SendStatusSet": [
            {
                "SerialNo": "",
                "PhoneNumber": "+8613912345678",
                "Fee": 0,
                "SessionContext": "",
                "Code": "LimitExceeded.PhoneNumberThirtySecondLimit",
                "Message": "too many sms messages to one number within 30 seconds",
                "IsoCode": "CN",
            }
        ],
        "RequestId": "T2",
    }
}


@dataclass
class Recorded:
    method: str
    path: str
    headers: dict[str, str]
    body: bytes


@dataclass
class FakeProvider:
    """What the endpoint received and what it answers next."""

    url: str
    answer: dict[str, Any] = field(default_factory=dict)
    requests: list[Recorded] = field(default_factory=list)


@pytest.fixture
def provider() -> Iterator[FakeProvider]:
    fake = FakeProvider(url="")

    class Handler(BaseHTTPRequestHandler):
        def _handle(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length)
            headers = {k.lower(): v for k, v in self.headers.items()}
            fake.requests.append(Recorded(self.command, self.path, headers, body))
            data = json.dumps(fake.answer).encode()
            self.send_response(200)
            self.send_header("Content-Type", "application/json;charset=utf-8")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_POST = _handle

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    fake.url = f"http://127.0.0.1:{server.server_port}"
    yield fake
    server.shutdown()
    server.server_close()


def _settings(backend: str, endpoint: str) -> SmsSettings:
    return SmsSettings(
        backend=backend,
        sign_name="保险竞答",
        template_id="SMS_154950909" if backend == "aliyun" else "1234567",
        key_id="LTAI-test-id",
        key_secret=SECRET,
        app_id="1400006666",
        endpoint=endpoint,
    )


def _sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def _acs3_signature(request: Recorded) -> str:
    """Alibaba Cloud's ACS3-HMAC-SHA256 signature of a recorded request, recomputed."""
    parts = urlsplit(request.path)
    pairs = sorted(parse_qsl(parts.query, keep_blank_values=True))
    query = "&".join(f"{quote(k, safe='-_.~')}={quote(v, safe='-_.~')}" for k, v in pairs)
    auth = request.headers["authorization"]
    signed = auth.split("SignedHeaders=")[1].split(",")[0].split(";")
    canonical_headers = "".join(f"{name}:{request.headers[name].strip()}\n" for name in signed)
    canonical = "\n".join(
        [
            request.method,
            parts.path or "/",
            query,
            canonical_headers,
            ";".join(signed),
            request.headers["x-acs-content-sha256"],
        ]
    )
    to_sign = "ACS3-HMAC-SHA256\n" + _sha256(canonical.encode())
    return hmac.new(SECRET.encode(), to_sign.encode(), hashlib.sha256).hexdigest()


def _tc3_signature(request: Recorded) -> str:
    """Tencent Cloud's TC3-HMAC-SHA256 signature of a recorded request, recomputed."""
    timestamp = request.headers["x-tc-timestamp"]
    day = datetime.fromtimestamp(int(timestamp), UTC).strftime("%Y-%m-%d")
    canonical = "\n".join(
        [
            request.method,
            "/",
            "",
            f"content-type:{request.headers['content-type']}\nhost:{request.headers['host']}\n",
            "content-type;host",
            _sha256(request.body),
        ]
    )
    scope = f"{day}/sms/tc3_request"
    to_sign = f"TC3-HMAC-SHA256\n{timestamp}\n{scope}\n{_sha256(canonical.encode())}"

    def mac(key: bytes, text: str) -> bytes:
        return hmac.new(key, text.encode(), hashlib.sha256).digest()

    key = mac(mac(mac(("TC3" + SECRET).encode(), day), "sms"), "tc3_request")
    return hmac.new(key, to_sign.encode(), hashlib.sha256).hexdigest()


def test_aliyun_sends_a_signed_sendsms_with_the_code_in_the_template(provider):
    provider.answer = ALIYUN_OK
    sender = build_sender(_settings("aliyun", provider.url), production=True)
    assert isinstance(sender, AliyunSender)
    sender.send_code(MOBILE, "042917")
    (request,) = provider.requests
    assert request.headers["x-acs-action"] == "SendSms"
    assert request.headers["x-acs-version"] == "2017-05-25"
    params = dict(parse_qsl(urlsplit(request.path).query))
    assert params["PhoneNumbers"] == MOBILE
    assert params["SignName"] == "保险竞答"
    assert params["TemplateCode"] == "SMS_154950909"
    assert json.loads(params["TemplateParam"]) == {"code": "042917"}
    auth = request.headers["authorization"]
    assert auth.startswith("ACS3-HMAC-SHA256 Credential=LTAI-test-id,")
    assert auth.endswith("Signature=" + _acs3_signature(request))


def test_aliyun_refusal_is_an_sms_error_with_the_providers_code(provider):
    provider.answer = ALIYUN_LIMITED
    sender = build_sender(_settings("aliyun", provider.url), production=True)
    with pytest.raises(SmsError, match="BUSINESS_LIMIT_CONTROL"):
        sender.send_code(MOBILE, "111111")


def test_tencent_sends_a_signed_sendsms_with_the_code_as_template_parameter(provider):
    provider.answer = TENCENT_OK
    sender = build_sender(_settings("tencent", provider.url), production=True)
    assert isinstance(sender, TencentSender)
    sender.send_code(MOBILE, "042917")
    (request,) = provider.requests
    assert request.headers["x-tc-action"] == "SendSms"
    assert request.headers["x-tc-version"] == "2021-01-11"
    assert request.headers["x-tc-region"] == "ap-guangzhou"
    body = json.loads(request.body)
    assert body == {
        "PhoneNumberSet": ["+8613912345678"],
        "SmsSdkAppId": "1400006666",
        "SignName": "保险竞答",
        "TemplateId": "1234567",
        "TemplateParamSet": ["042917"],
    }
    auth = request.headers["authorization"]
    assert auth.startswith("TC3-HMAC-SHA256 Credential=LTAI-test-id/")
    assert auth.endswith("Signature=" + _tc3_signature(request))


def test_tencent_refusal_per_number_is_an_sms_error(provider):
    provider.answer = TENCENT_REFUSED
    sender = build_sender(_settings("tencent", provider.url), production=True)
    with pytest.raises(SmsError, match="PhoneNumberThirtySecondLimit"):
        sender.send_code(MOBILE, "111111")


def test_an_unreachable_provider_is_an_sms_error_not_a_crash():
    # A port nothing listens on (bound then closed).
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port = sock.getsockname()[1]
    for backend in ("aliyun", "tencent"):
        sender = build_sender(_settings(backend, f"http://127.0.0.1:{port}"), production=True)
        with pytest.raises(SmsError):
            sender.send_code(MOBILE, "111111")


def test_console_logs_one_line_and_keeps_the_last_code(caplog):
    sender = build_sender(SmsSettings(), production=False)
    assert isinstance(sender, ConsoleSender)
    with caplog.at_level(logging.INFO, logger="quiz.sms"):
        sender.send_code(MOBILE, "000123")
        sender.send_code(MOBILE, "654321")
    assert f"sms-code mobile={MOBILE} code=000123" in caplog.text
    assert sender.last_code(MOBILE) == "654321"
    assert sender.last_code("13800000000") is None
    assert codes_in_log(caplog.text) == {MOBILE: "654321"}


def test_production_refuses_console_and_incomplete_vendor_settings():
    with pytest.raises(SmsConfigError, match="production"):
        build_sender(SmsSettings(backend="console"), production=True)
    with pytest.raises(SmsConfigError, match="QUIZ_SMS_APP_ID"):
        build_sender(
            SmsSettings(
                backend="tencent", sign_name="x", template_id="1", key_id="a", key_secret="b"
            ),
            production=True,
        )
    with pytest.raises(SmsConfigError, match="one of"):
        build_sender(SmsSettings(backend="carrier-pigeon"), production=False)


def test_the_app_will_not_start_in_production_with_the_console_backend(database_url, tmp_path):
    with pytest.raises(ConfigurationError, match="QUIZ_SMS_BACKEND=console"):
        make_app(database_url, tmp_path / "instance", QUIZ_ENV="production")
    app = make_app(database_url, tmp_path / "instance")
    assert isinstance(app.extensions["quiz.sms"], ConsoleSender)
