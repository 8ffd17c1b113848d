"""Nothing stores a participant's full ID number or mobile in plain form.

A participant registers through the public form and answers every question; the raw
bytes of the SQLite file and its -wal, every text value of every table, the session
cookie and the app's log output are then searched for the numbers in every form
someone could recognise: whole, without the check digit, grouped with spaces or
dashes, as UTF-16, and as an unkeyed hash (which a dictionary of all IDs would crack).
"""

from __future__ import annotations

import hashlib
import logging
import re
from pathlib import Path

import pytest
from sqlalchemy import MetaData, select

from quiz.models import Participant
from tests.conftest import PG_URL
from tests.factories import make_mobile, make_resident_id

RID = make_resident_id("420102", seq=777)
MOBILE = make_mobile(87654321)  # 13987654321
LANDLINE_LOCAL = "66778899"
FORM = {
    "name": "王小明",
    "resident_id": RID,
    "address": "湖北省武汉市江岸区沿江大道100号",
    "postal_code": "430014",
    "mobile": MOBILE,
    "landline": f"027-{LANDLINE_LOCAL}",
}


def needles() -> dict[str, bytes]:
    """Every recognisable form of the two numbers, as bytes."""
    texts = {
        "id": RID,
        "id lowercase": RID.lower(),
        "id without check digit": RID[:17],
        "id region+birth": RID[:14],
        "id birth+sequence+check": RID[6:],
        "id spaced 6-8-4": f"{RID[:6]} {RID[6:14]} {RID[14:]}",
        "id dashed 6-8-4": f"{RID[:6]}-{RID[6:14]}-{RID[14:]}",
        "mobile": MOBILE,
        "mobile without prefix": MOBILE[3:],
        "mobile +86": f"+86{MOBILE}",
        "mobile spaced 3-4-4": f"{MOBILE[:3]} {MOBILE[3:7]} {MOBILE[7:]}",
        "mobile dashed 3-4-4": f"{MOBILE[:3]}-{MOBILE[3:7]}-{MOBILE[7:]}",
        "landline": LANDLINE_LOCAL,
    }
    out = {k: v.encode() for k, v in texts.items()}
    for k in ("id", "id without check digit", "mobile"):
        out[f"{k} utf-16-le"] = texts[k].encode("utf-16-le")
        out[f"{k} utf-16-be"] = texts[k].encode("utf-16-be")
    for value, label in ((RID, "id"), (MOBILE, "mobile")):
        out[f"{label} sha256"] = hashlib.sha256(value.encode()).hexdigest().encode()
        out[f"{label} md5"] = hashlib.md5(value.encode()).hexdigest().encode()  # noqa: S324
    return out


def found_in(blob: bytes) -> list[str]:
    lowered = blob.lower()
    return [name for name, needle in needles().items() if needle.lower() in lowered]


@pytest.fixture
def registered(app, client, caplog, capfd):
    """A participant registered and finished through the public pages; returns the log text."""
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger="quiz")
    assert (
        client.post("/consent", data={"agree_rules": "y", "agree_sensitive": "y"}).status_code
        == 302
    )
    resp = client.post("/register", data=FORM)
    assert resp.status_code == 302, resp.get_data(as_text=True)
    # A second attempt with the same numbers exercises the duplicate path too.
    assert client.post("/register", data=FORM).status_code == 409
    resp = client.post("/resume", data={"resident_id": RID, "mobile": MOBILE})
    assert resp.status_code == 302
    for _ in range(30):
        html = client.get("/quiz").get_data(as_text=True)
        m = re.search(r'name="position"[^>]*value="(\d+)"', html) or re.search(
            r'value="(\d+)"[^>]*name="position"', html
        )
        if not m:
            break
        key = re.search(r'name="choice" id="choice-([A-Z])"', html).group(1)
        client.post("/quiz", data={"position": m.group(1), "choice": key})
    database = app.extensions["quiz.db"]
    with database.transaction(write=False) as s:
        participant = s.scalars(select(Participant)).one()
        assert participant.status == "completed"
        assert participant.id_last4 == RID[-4:]  # the test would be void if nothing was stored
    out, err = capfd.readouterr()
    return "\n".join([caplog.text, out, err])


@pytest.mark.skipif(bool(PG_URL), reason="reads the SQLite file itself")
def test_sqlite_file_and_wal_hold_neither_number(app, registered):
    path = Path(app.extensions["quiz.db"].url.removeprefix("sqlite:///"))
    files = [p for p in (path, Path(f"{path}-wal"), Path(f"{path}-shm")) if p.exists()]
    assert Path(f"{path}-wal") in files  # WAL mode: recent pages live in the -wal file
    blob = b"".join(p.read_bytes() for p in files)
    assert b"\xe6\xb9\x96\xe5\x8c\x97" in blob  # 湖北 of the address: the data is there
    assert found_in(blob) == []


def test_no_table_holds_either_number_in_any_column(app, registered):
    """The same search over every value the database returns (both backends)."""
    database = app.extensions["quiz.db"]
    meta = MetaData()
    meta.reflect(database.engine)
    chunks = []
    with database.engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                chunks += [v if isinstance(v, bytes) else str(v).encode() for v in row]
    assert found_in(b"\x00".join(chunks)) == []


def test_session_cookie_and_logs_hold_neither_number(app, client, registered):
    cookie = client.get_cookie("quiz_session")
    assert cookie is not None
    data = app.session_interface.get_signing_serializer(app).loads(cookie.value)
    assert "pid" in data
    assert found_in(cookie.value.encode()) == [] and found_in(repr(data).encode()) == []
    # Whatever the app logs (log records, and handlers writing to stdout/stderr).
    assert "path=/register" in registered, "expected the request log lines"
    assert found_in(registered.encode()) == []
