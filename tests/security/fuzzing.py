"""Shared pieces of the hostile-input tests: strategies, one app per module, invariants."""

from __future__ import annotations

import hashlib
import json
import os
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote_from_bytes

from flask import Flask
from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from sqlalchemy import select, text
from werkzeug.datastructures import MultiDict

from quiz.db import Base
from quiz.models import Participant, QuizItem
from tests.conftest import PG_URL, _drop_pg_database, _pg_database, make_app
from tests.factories import install_test_campaign, make_mobile, make_resident_id

# 1,000 per form in CI; QUIZ_FUZZ_EXAMPLES=100 makes a local run quicker.
EXAMPLES = int(os.environ.get("QUIZ_FUZZ_EXAMPLES", "1000"))
FUZZ = settings(
    max_examples=EXAMPLES,
    deadline=None,
    suppress_health_check=[
        HealthCheck.too_slow,
        HealthCheck.function_scoped_fixture,
        HealthCheck.data_too_large,
        HealthCheck.large_base_example,
    ],
    database=None,  # no example files left in the work tree; CI starts fresh anyway
)
MAX_BODY = 2 * 1024 * 1024
CJK = re.compile(r"[\u4e00-\u9fff]")

PAYLOADS = [
    # SQL
    "' OR '1'='1",
    "1; DROP TABLE participant;--",
    '" OR 1=1 --',
    "admin'--",
    "%' UNION SELECT id_enc FROM participant--",
    "1) OR (1=1",
    "\\'; SELECT pg_sleep(1);--",
    # HTML / templates / scripts
    "<script>alert(1)</script>",
    '"><img src=x onerror=alert(1)>',
    "javascript:alert(1)",
    "{{7*7}}",
    "{% for x in () %}",
    "${7*7}",
    "<!--",
    "]]>",
    "&lt;&#x3C;",
    # spreadsheet formulas
    '=HYPERLINK("http://x.invalid","点我")',
    "+cmd|' /C calc'!A0",
    "-2+3+cmd|' /C calc'!A0",
    "@SUM(1+1)*cmd|' /C calc'!A0",
    "\t=1+1",
    "\r=1+1",
    # control and odd characters
    "\x00",
    "a\x00b",
    "\x1b[31m",
    "\u202e\u0644\u0627",
    "\ufeff",
    "\u200b\u200d",
    "\uffff",
    "😀",
    "𠀀𪚥𰻞",
    "👨\u200d👩\u200d👧\u200d👦",
    "𝔥𝔢𝔩𝔩𝔬",
    "ﾃｽﾄ",
    "１１０１０５１９８５０６１５００１Ｘ",
    "１３９１２３４５６７８",
    # numbers and formats
    "",
    " ",
    "0",
    "-1",
    "99999999999999999999999",
    "1e309",
    "NaN",
    "inf",
    "0x10",
    "1_000",
    "../../etc/passwd",
    "%00",
    "%s%s%n",
    "\\",
    "\n\r\n",
    "\r\n\r\nX-Injected: 1",
    # plausible values, so that valid paths are reached too
    make_resident_id("110105", seq=901),
    make_resident_id("420102", seq=902),
    "11010519850615901x",
    make_mobile(9001),
    "+86 139 0000 9001",
    "010-12345678",
    "100022",
    "430014",
    "湖北省武汉市江岸区沿江大道100号",
    "北京市朝阳区建国路88号",
    "420100",
    "420102",
    "110000",
    "张三",
    "欧阳小明",
    "李·四",
    "A",
    "B",
    "C",
    "D",
    "1",
    "2",
    "3",
    "y",
    "on",
    "true",
    "false",
]


def hostile_text() -> st.SearchStrategy[str]:
    """Strings of every kind that can reach a form field (no lone surrogates: see raw bodies)."""
    long = st.builds(
        lambda unit, n: unit * n,
        st.sampled_from(["A", "张", "😀", "\x00", "<", "'", "9"]),
        st.integers(min_value=200, max_value=60_000),
    )
    return st.one_of(
        st.sampled_from(PAYLOADS),
        st.text(max_size=40),
        st.text(alphabet=st.characters(codec="utf-8", min_codepoint=0x10000), max_size=10),
        st.text(alphabet=st.characters(categories=["Cc", "Cf", "Zs", "Zl", "Zp"]), max_size=10),
        long,
        st.builds(lambda a, b: a + b, st.sampled_from(PAYLOADS), st.text(max_size=10)),
    )


def form_data(fields: list[str]) -> st.SearchStrategy[MultiDict[str, str]]:
    """Each known field missing, given once or duplicated; sometimes unknown extra fields."""
    value = hostile_text()
    entry = st.one_of(st.none(), value, st.lists(value, min_size=2, max_size=3))
    known = st.fixed_dictionaries({name: entry for name in fields})
    extra = st.dictionaries(st.text(min_size=1, max_size=12), value, max_size=2)

    def build(given: dict[str, Any], more: dict[str, str]) -> MultiDict[str, str]:
        out: MultiDict[str, str] = MultiDict()
        for name, v in [*given.items(), *more.items()]:
            if v is None:
                continue
            for item in v if isinstance(v, list) else [v]:
                out.add(name, item)
        return out

    return st.builds(build, known, extra)


def _percent(raw: bytes) -> bytes:
    return quote_from_bytes(raw, safe=b"").encode()


def _surrogates() -> st.SearchStrategy[bytes]:
    """Lone surrogates as a careless client would send them (invalid UTF-8)."""
    return st.text(alphabet=st.characters(categories=["Cs"]), min_size=1, max_size=4).map(
        lambda s: s.encode("utf-8", "surrogatepass")
    )


def raw_bodies(fields: list[str]) -> st.SearchStrategy[tuple[bytes, str | None]]:
    """(body, content type): broken encodings, wrong types, malformed multipart."""
    name = st.one_of(st.sampled_from(fields), st.binary(max_size=8))
    raw_value = st.one_of(st.binary(max_size=60), _surrogates(), hostile_text().map(str.encode))
    pairs = st.lists(st.tuples(name, raw_value), max_size=6)

    def urlencoded(items: list[tuple[bytes | str, bytes]], escape: bool) -> bytes:
        enc = _percent if escape else (lambda b: b)
        return b"&".join(
            enc(k.encode() if isinstance(k, str) else k) + b"=" + enc(v) for k, v in items
        )

    def multipart(items: list[tuple[bytes | str, bytes]], boundary: bytes, close: bool) -> bytes:
        out = b""
        for k, v in items:
            key = k.encode() if isinstance(k, str) else k
            out += b"--" + boundary + b"\r\n"
            out += b'Content-Disposition: form-data; name="' + key + b'"\r\n\r\n' + v + b"\r\n"
        return out + (b"--" + boundary + b"--\r\n" if close else b"")

    def as_json(items: list[tuple[bytes | str, bytes]]) -> bytes:
        return json.dumps(
            {str(k): v.decode("utf-8", "replace") for k, v in items}, ensure_ascii=False
        ).encode()

    form_types = st.sampled_from(
        [
            "application/x-www-form-urlencoded",
            "application/x-www-form-urlencoded; charset=utf-8",
            "application/x-www-form-urlencoded; charset=gbk",
            "application/x-www-form-urlencoded; charset=no-such-charset",
        ]
    )
    return st.one_of(
        st.tuples(st.builds(urlencoded, pairs, st.booleans()), form_types),
        st.builds(
            lambda items, b, close, ct: (multipart(items, b, close), ct.format(b.decode())),
            pairs,
            st.sampled_from([b"xYzZy", b"----WebKitFormBoundary7MA4YWxk", b"a"]),
            st.booleans(),
            st.sampled_from(
                [
                    "multipart/form-data; boundary={}",
                    "multipart/form-data",  # no boundary
                    "multipart/form-data; boundary=other",
                    "multipart/mixed; boundary={}",
                ]
            ),
        ),
        st.tuples(st.builds(as_json, pairs), st.sampled_from(["application/json", "text/json"])),
        st.tuples(
            st.one_of(st.binary(max_size=200), st.builds(urlencoded, pairs, st.just(True))),
            st.sampled_from([None, "text/plain", "application/octet-stream", "text/html", "*/*"]),
        ),
    )


@dataclass(frozen=True)
class Snapshot:
    """Row counts and a checksum of everything stored about participants and answers."""

    participants: int
    items: int
    digest: str
    answers: dict[int, Any]


def snapshot(app: Flask) -> Snapshot:
    database = app.extensions["quiz.db"]
    digest = hashlib.sha256()
    with database.transaction(write=False) as s:
        people = s.execute(select(Participant.__table__).order_by(Participant.id)).all()
        items = s.execute(select(QuizItem.__table__).order_by(QuizItem.id)).all()
    for row in [*people, *items]:
        digest.update(repr(tuple(row)).encode())
    answers = {row.id: row.answer for row in items if row.answer is not None}
    return Snapshot(len(people), len(items), digest.hexdigest(), answers)


def check_response(resp: Any, before: Snapshot, app: Flask) -> None:
    """Never a 500; a refusal is a 4xx with a Chinese message and changes nothing;
    an answer once stored never changes."""
    status = resp.status_code
    body = resp.get_data(as_text=True)
    assert status < 500, body[:2000]
    if status < 400 and not before.answers:
        return
    after = snapshot(app)
    if status >= 400:
        assert CJK.search(body), f"{status} without a message: {body[:500]!r}"
        assert after == before, f"a refused request ({status}) changed stored data"
    assert {k: after.answers.get(k) for k in before.answers} == before.answers


def fuzz_app(tmp: Path, **overrides: Any) -> Iterator[Flask]:
    """An app with its own database for a whole test module."""
    name = f"quiz_fuzz_{uuid.uuid4().hex[:12]}"
    url = _pg_database(name) if PG_URL else f"sqlite:///{tmp / 'quiz.sqlite3'}"
    app = make_app(url, tmp / "instance", **overrides)
    database = app.extensions["quiz.db"]
    Base.metadata.create_all(database.engine)
    with database.transaction() as session:
        install_test_campaign(session)
    yield app
    database.dispose()
    if PG_URL:
        _drop_pg_database(name)


def post_raw(client: Any, path: str, body: bytes, content_type: str | None) -> Any:
    headers = {} if content_type is None else {"Content-Type": content_type}
    return client.open(path, method="POST", data=body, headers=headers)


__all__ = ["MAX_BODY", "text"]
