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
import random
import re
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import MetaData, select

from quiz.branches.routing import AddressInput, resolve_address
from quiz.campaign.lifecycle import current_campaign
from quiz.db import utcnow
from quiz.draw import service as draw_service
from quiz.engine.bank import question_bank
from quiz.engine.sheets import answer_on_sheet, sheet_of_participant
from quiz.entry.signup import Registration, prepare_registration, save_registration
from quiz.identity import validate_resident_id
from quiz.models import Campaign, Participant
from tests.conftest import PG_URL
from tests.factories import PLACES, consent, make_mobile, make_resident_id

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
    assert "pids" in data  # the entry of each campaign this browser takes part in
    assert found_in(cookie.value.encode()) == [] and found_in(repr(data).encode()) == []
    # Whatever the app logs (log records, and handlers writing to stdout/stderr).
    assert "path=/register" in registered, "expected the request log lines"
    assert found_in(registered.encode()) == []


# --- 1,000 entrants: nothing, alone or joined, gives back an ID number or a mobile ----------

ENTRANTS = 1000
# Ten of the county prefixes with their addresses and postal codes (tests/factories.PLACES).
MOBILE_PREFIXES = ("134", "135", "136", "137", "138", "139", "150", "151", "158", "188")
DATE_IN_TEXT = re.compile(r"(?<!\d)(\d{4})[-/.年](\d{1,2})[-/.月](\d{1,2})(?!\d)")
DIGIT_RUN = re.compile(r"[0-9]+")
NUMBER_RUN = re.compile(r"[0-9]+X?")
WINDOW_LENGTHS = (8, 11, 12, 17, 18)  # birth date, mobile, ID tail, ID less check digit, ID
# Keyed look-up hashes and digests: random hex whose digit runs mean nothing (a 64-digit
# hex string holds an 8-digit run one time in 50), so they are checked apart: none may be
# an unkeyed hash of a number, which a dictionary of all numbers would crack.
HEX_DIGEST = re.compile(r"[0-9a-f]{32,64}")


@dataclass(frozen=True)
class Entrant:
    id_number: str
    mobile: str

    @property
    def hidden_id(self) -> str:
        """Digits 7-14, the part id_masked hides (the birth date)."""
        return self.id_number[6:14]

    @property
    def hidden_mobile(self) -> str:
        """Digits 4-7, the part mobile_masked hides."""
        return self.mobile[3:7]


def generated_entrants(rng: random.Random) -> list[Entrant]:
    """Distinct valid ID numbers (born 1940-2007, all adults) and mobiles."""
    people: dict[str, Entrant] = {}
    mobiles: set[str] = set()
    while len(people) < ENTRANTS:
        prefix = PLACES[rng.randrange(len(PLACES))][0]
        born = date(1940, 1, 1) + timedelta(days=rng.randrange(68 * 365))
        number = make_resident_id(prefix, birth=born, seq=rng.randrange(1, 1000))
        mobile = rng.choice(MOBILE_PREFIXES) + f"{rng.randrange(10**8):08d}"
        if number not in people and mobile not in mobiles:
            people[number] = Entrant(number, mobile)
            mobiles.add(mobile)
    return list(people.values())


def register_all(app, entrants: list[Entrant], rng: random.Random) -> None:
    """Through the registration service as the web view calls it (the campaign and its
    questions read once, one committed transaction per entry); every other entrant
    answers every question; then the list is frozen and drawn."""
    database = app.extensions["quiz.db"]
    protector = app.extensions["quiz.protector"]
    with database.transaction(write=False) as s:
        campaign = current_campaign(s)
        bank = question_bank(s, campaign.id)
        s.expunge(campaign)
    for n, person in enumerate(entrants):
        _, address, postal = PLACES[n % len(PLACES)]
        reg = Registration(
            name=rng.choice("赵钱孙李周吴郑王") + rng.choice(["小明", "建国", "丽", "海燕"]),
            resident_id=validate_resident_id(person.id_number),
            mobile=person.mobile,
            landline=f"010-{rng.randrange(2 * 10**7, 9 * 10**7)}" if n % 5 == 0 else None,
            postal_code=postal,
            address=resolve_address(AddressInput(free_text=f"{address}{n % 50 + 1}室")),
        )
        with database.transaction() as s:
            prepared = prepare_registration(
                s, protector, campaign, reg, consent(), rng=rng, bank=bank
            )
            entry = save_registration(s, prepared)
            sheet = sheet_of_participant(s, entry.id)
            while n % 2 == 0 and sheet is not None and sheet.next is not None:
                item = sheet.next
                choice = rng.choice(bank.by_id[item.question_id].options)["key"]
                sheet = answer_on_sheet(s, campaign, bank, sheet, item.position, [choice])
    with database.transaction() as s:
        stored = s.get_one(Campaign, campaign.id)
        stored.closes_at = utcnow()
        draw = draw_service.freeze(s, stored, operator="t", now=utcnow() + timedelta(seconds=1))
        draw_service.run_draw(
            s, draw, "03 08 14 22 27 33 + 05", operator="t", now=stored.draw_at + timedelta(hours=1)
        )


def every_row(app) -> Iterator[tuple[str, dict[str, Any]]]:
    """(table name, {column: value}) of every row of every table, as the database returns."""
    engine = app.extensions["quiz.db"].engine
    meta = MetaData()
    meta.reflect(engine)
    with engine.connect() as conn:
        for table in meta.sorted_tables:
            for row in conn.execute(table.select()):
                yield table.name, dict(row._mapping)


def windows(text: str) -> set[str]:
    """Every run of 8, 11, 12, 17 or 18 characters inside a number in `text`."""
    found: set[str] = set()
    for run in NUMBER_RUN.findall(text):
        for size in WINDOW_LENGTHS:
            found.update(run[i : i + size] for i in range(len(run) - size + 1))
    return found


def eight_digit_candidates(value: Any) -> set[str]:
    """Every 8-digit string a value could stand for: a date as YYYYMMDD, a date written in
    text (1985-05-12, 1985/5/12, 1985年5月12日, 19850512), any 8 digits in a row."""
    if isinstance(value, datetime | date):
        return {f"{value:%Y%m%d}"}
    text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
    found = {f"{y}{int(m):02d}{int(d):02d}" for y, m, d in DATE_IN_TEXT.findall(text)}
    for run in DIGIT_RUN.findall(text):
        found.update(run[i : i + 8] for i in range(len(run) - 7))
    return found


def year_month_day_joins(row: dict[str, Any]) -> set[str]:
    """YYYYMMDD from a year, a month and a day kept in three columns of one row (a
    birth_year, birth_month, birth_day split, say)."""
    numbers = {
        str(v)
        for v in row.values()
        if not isinstance(v, bool | bytes | datetime | date) and str(v).isdecimal()
    }
    years = {n for n in numbers if len(n) == 4 and 1900 <= int(n) <= 2026}
    small = {int(n) for n in numbers if len(n) <= 2}
    months = {f"{m:02d}" for m in small if 1 <= m <= 12}
    days = {f"{d:02d}" for d in small if 1 <= d <= 31}
    return {y + m + d for y in years for m in months for d in days}


@pytest.mark.slow  # 1,000 entrants registered and answered
def test_a_thousand_entrants_leave_no_id_number_or_mobile_in_any_column_or_file(app):
    """The check of issue #19: every column of every table, and the bytes of the SQLite
    file and its -wal, after 1,000 registrations (half finished, then drawn). No full ID
    number or mobile anywhere, and nothing to join to the masked forms: id_masked shows
    digits 1-6 and 15-18, so no value (a date, a date in text, any 8 digits) nor any
    year/month/day columns of the entrant's row may give digits 7-14; mobile_masked shows
    3 + 4 digits, so no column may hold the 4 in between more often than chance."""
    rng = random.Random(19)
    entrants = generated_entrants(rng)
    register_all(app, entrants, rng)
    by_id_hash = {
        app.extensions["quiz.protector"].lookup_hash("rid", p.id_number): p for p in entrants
    }

    # A whole number, or one short of a part someone would recognise it by.
    whole = {n: p.id_number for p in entrants for n in (p.id_number, p.id_number[:17])}
    whole |= {p.id_number[6:]: p.id_number for p in entrants}  # birth date to check digit
    whole |= {m: p.mobile for p in entrants for m in (p.mobile, p.mobile[3:])}
    unkeyed = {
        digest(n.encode()).hexdigest()
        for p in entrants
        for n in (p.id_number, p.mobile)
        for digest in (hashlib.sha256, hashlib.md5, hashlib.sha1)
    }
    hidden_ids: dict[str, list[str]] = {}  # digits 7-14 -> the ID numbers they complete
    for p in entrants:
        hidden_ids.setdefault(p.hidden_id, []).append(p.id_number)
    eights: dict[str, str] = {}  # 8 digits a value or a join could stand for -> where
    found_whole: dict[str, str] = {}
    mobile_middle_hits: dict[str, int] = {}
    rows = 0
    for table, row in every_row(app):
        rows += 1
        for column, value in row.items():
            if value is None:
                continue
            where = f"{table}.{column}"
            text = value.decode("latin-1") if isinstance(value, bytes) else str(value)
            if HEX_DIGEST.fullmatch(text.removeprefix("anon-")):
                assert text not in unkeyed, where
                continue
            found_whole.update(dict.fromkeys(windows(text) & whole.keys(), where))
            eights.update(dict.fromkeys(eight_digit_candidates(value), where))
        if table == "participant":
            person = by_id_hash[row["id_hash"]]
            assert row["id_masked"] == person.id_number[:6] + "*" * 8 + person.id_number[-4:]
            assert row["mobile_masked"] == person.mobile[:3] + "****" + person.mobile[-4:]
            if person.hidden_id in year_month_day_joins(row):
                eights[person.hidden_id] = "a year, month and day of the entrant's row"
            for column, value in row.items():
                if (
                    value is not None
                    and not isinstance(value, bytes | datetime | date)
                    and person.hidden_mobile in DIGIT_RUN.findall(str(value))
                ):
                    mobile_middle_hits[column] = mobile_middle_hits.get(column, 0) + 1
    assert rows > ENTRANTS * 5  # entries, their questions, the draw: the data is there
    assert found_whole == {}
    rebuilt = {n: eights[c] for c in eights.keys() & hidden_ids.keys() for n in hidden_ids[c]}
    assert rebuilt == {}, f"{len(rebuilt)} ID numbers rebuilt from the masked form + a column"
    # Chance alone: a 4-digit column matches 1 entrant in 10,000.
    assert {c: n for c, n in mobile_middle_hits.items() if n > ENTRANTS // 100} == {}

    if PG_URL:
        return
    path = Path(app.extensions["quiz.db"].url.removeprefix("sqlite:///"))
    wal = Path(f"{path}-wal")
    assert wal.exists() and wal.stat().st_size > 0  # WAL mode, with recent pages in it
    blob = path.read_bytes() + wal.read_bytes()
    assert "湖北省".encode() in blob
    digests = set(re.findall(rb"[0-9a-f]{32,}", blob))
    assert {d.decode() for d in digests} & unkeyed == set()
    # Hex runs with a letter in them are digests (above); all-digit runs stay searched.
    text = re.sub(r"(?=[0-9]*[a-f])[0-9a-f]{32,}", " ", blob.decode("latin-1"))
    # A stored timestamp's date is searched as a date (raw_dates, below). Its digits are
    # cut out of the runs because a record's columns touch: microseconds followed by the
    # next column's "2026" made a birth-date-shaped window by chance in about 1 run in 4
    # (e.g. "...21.019911" + "2026-12-02" gives 19911202).
    raw = windows(re.sub(r"\d{4}-\d{2}-\d{2}[ T]\d{2}:\d{2}:\d{2}(?:\.\d{1,6})?", " ", text))
    raw_dates = {
        f"{y.decode()}{int(m):02d}{int(d):02d}"
        # No digit boundaries: in a record the columns' bytes touch (id_last4 + birth_date).
        for y, m, d in re.findall(rb"(\d{4})[-/.](\d{1,2})[-/.](\d{1,2})", blob)
    }
    # Columns touch in a record, so digit runs span them: among ~10,000 such 8-digit
    # windows, one matches one of 1,000 mobiles' last eight by chance in about 10 % of
    # runs. The bytes are searched for the 11-digit and longer forms; the 8-digit tails are
    # searched per column above, where a value has its own boundaries.
    assert {k for k in raw & whole.keys() if len(k) >= 11} == set()
    assert sorted((raw | raw_dates) & hidden_ids.keys()) == []
