"""Campaign file loading and validation: the TOML file head office edits, and its install.

The file is TOML (parsed with the standard-library ``tomllib``). Times are local times in
Asia/Shanghai and are converted to aware UTC datetimes. Every problem is reported with the
line of the offending key, so an operator can fix the file without reading Python. Schema::

    [campaign]    slug, name, kind (optional, default prize_quiz), opens_at, closes_at, draw_at
    [organiser]   name, contact
    [[prizes]]    tier, count, prize, value_yuan            (one table per prize tier)
    [rules]       version, entry_conditions, draw_method, prize_claim, paragraphs
    [privacy]     version, notice, follow_up_retention_days, winner_retention_days
    [quiz]        questions_per_participant = 5, min_score (optional),
                  referral_rule = "address" | "referral",
                  sms_verification = "off" | "required" (SMS code proves the mobile),
                  bot_challenge = "off" | "altcha" (proof of work at registration),
                  risk_address_limit = 3 (entries one address may have before they are
                  a risk cluster)
    [draw]        randomness_source, randomness_format + randomness_example and
                  freeze_deadline (optional here; the draw refuses to freeze without them),
                  one_winner_per_address = false (同一邮寄地址限一人获奖, applied before the
                  freeze as an exclusion)
    [[leaderboard_tiers]] name, from, to      (optional: the leaderboard's reward bands)
    [[draws]]     number (2, 3 ...), name, draw_at, freeze_deadline, randomness_source,
                  randomness_format, randomness_example, closes_at (optional),
                  exclude_earlier_winners (optional), [[draws.prizes]] (optional:
                  further draws of the campaign, each with its own tiers; quiz.draw.plans)
    [[questions]] key, kind ("knowledge" | "intent"), text, options (list of texts,
                  lettered A, B, C ... in order), correct ("B" or ["A", "C"]; knowledge
                  only), explanation (optional), multiple = false
"""

from __future__ import annotations

import hashlib
import re
import tomllib
from collections.abc import Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, date, datetime
from pathlib import Path
from typing import Any, Literal, cast
from zoneinfo import ZoneInfo

from sqlalchemy import select
from sqlalchemy.orm import Session

from quiz.campaign import artwork_settings
from quiz.campaign.contest_spec import check_contest
from quiz.campaign.race_spec import check_race
from quiz.campaign.toml_values import tagged
from quiz.db import utcnow
from quiz.models import CAMPAIGN_KINDS, Campaign, ContestAnswer, Question, QuizItem

LOCAL_TZ = ZoneInfo("Asia/Shanghai")
OPTION_KEYS = "ABCDEFGHIJ"
KINDS = ("knowledge", "intent")
REFERRAL_RULES = ("address", "referral")
SMS_VERIFICATION = ("off", "required")
BOT_CHALLENGES = ("off", "altcha")

_SLUG = re.compile(r"[a-z0-9][a-z0-9-]{0,63}")
_QUESTION_KEY = re.compile(r"[A-Za-z0-9_-]{1,32}")
_TOML_LINE = re.compile(r"at line (\d+)")

# table -> (allowed keys, required keys)
_TABLES: dict[str, tuple[frozenset[str], frozenset[str]]] = {
    "campaign": (
        frozenset({"slug", "name", "kind", "opens_at", "closes_at", "draw_at"}),
        frozenset({"slug", "name", "opens_at", "closes_at", "draw_at"}),
    ),
    "organiser": (frozenset({"name", "contact"}), frozenset({"name", "contact"})),
    "rules": (
        frozenset({"version", "entry_conditions", "draw_method", "prize_claim", "paragraphs"}),
        frozenset({"version", "entry_conditions", "draw_method", "prize_claim", "paragraphs"}),
    ),
    "privacy": (
        frozenset({"version", "notice", "follow_up_retention_days", "winner_retention_days"}),
        frozenset({"version", "notice", "follow_up_retention_days", "winner_retention_days"}),
    ),
    "quiz": (
        frozenset(
            {
                "questions_per_participant",
                "min_score",
                "referral_rule",
                "sms_verification",
                "bot_challenge",
                "risk_address_limit",
            }
        ),
        frozenset(),
    ),
    "draw": (
        frozenset(
            {
                "randomness_source",
                "randomness_format",
                "randomness_example",
                "freeze_deadline",
                "one_winner_per_address",
            }
        ),
        frozenset({"randomness_source"}),
    ),
}
_PRIZE_KEYS = frozenset({"tier", "count", "prize", "value_yuan"})
_QUESTION_KEYS = frozenset(
    {"key", "kind", "text", "options", "correct", "explanation", "multiple", "category"}
)
# A knowledge question shows at most six options (one phone screen); intent questions,
# being checklists of products, may list up to ten.
MAX_KNOWLEDGE_OPTIONS = 6
MAX_OPTION_LENGTH = 200
_QUESTION_REQUIRED = frozenset({"key", "kind", "text", "options"})
_TOP_LEVEL = frozenset(_TABLES) | {
    "prizes",
    "questions",
    "leaderboard_tiers",
    "artwork",
    "contest",
    "race",
    "draws",
}
_DRAW_KEYS = frozenset(
    {
        "number",
        "name",
        "draw_at",
        "closes_at",
        "freeze_deadline",
        "randomness_source",
        "randomness_format",
        "randomness_example",
        "exclude_earlier_winners",
        "prizes",
    }
)
_DRAW_REQUIRED = _DRAW_KEYS - {"closes_at", "exclude_earlier_winners", "name"}
_RANK_TIER_KEYS = frozenset({"name", "from", "to"})
# Tables whose checked form differs from what the file says; kept as written as well.
SOURCE_TABLES = ("artwork", "race", "draws")

Path_ = tuple[str | int, ...]
# Campaign times and retention periods, within reason (and within date arithmetic).
YEARS = (2000, 2100)
MAX_DAYS = 3650


class CampaignFileError(ValueError):
    """The campaign file is not valid; ``line`` is 1-based, or None when unknown.

    ``message`` is the text without the line prefix; ``path`` the key path such as
    ``questions[3].correct`` (array indexes are 0-based); ``errors`` every problem found,
    in file order, this one first.
    """

    def __init__(self, message: str, line: int | None = None, path: str | None = None) -> None:
        self.message = f"{path}: {message}" if path else message
        # The same problem in Chinese, for the browser editor (which shows it by field).
        self.chinese = chinese_message(message)
        self.line = line
        self.path = path
        self.errors: list[CampaignFileError] = [self]
        super().__init__(f"line {line}: {self.message}" if line is not None else self.message)


@dataclass(frozen=True)
class PrizeTier:
    """One prize tier: how many winners, what they get and its value in yuan."""

    tier: str
    count: int
    prize: str
    value_yuan: int


@dataclass(frozen=True)
class QuestionSpec:
    """A question as written in the campaign file."""

    key: str
    kind: Literal["knowledge", "intent"]
    text: str
    options: list[tuple[str, str]]
    correct: list[str] | None
    explanation: str | None
    multiple: bool
    category: str | None = None


@dataclass(frozen=True)
class CampaignSpec:
    """A validated campaign file; datetimes are aware and in UTC."""

    slug: str
    name: str
    opens_at: datetime
    closes_at: datetime
    draw_at: datetime
    organiser_name: str
    organiser_contact: str
    prizes: list[PrizeTier]
    entry_conditions: str
    draw_method: str
    prize_claim: str
    rules: list[str]
    privacy_notice: list[str]
    rules_version: str
    privacy_version: str
    randomness_source: str
    follow_up_retention_days: int
    winner_retention_days: int
    questions: list[QuestionSpec]
    questions_per_participant: int = 5
    min_score: int | None = None
    referral_rule: Literal["referral", "address"] = "address"
    # "required": registration asks for an SMS code sent to the mobile (quiz.fraud.codes).
    sms_verification: Literal["off", "required"] = "off"
    # "altcha": registration carries a solved proof-of-work challenge (quiz.fraud.challenge).
    bot_challenge: Literal["off", "altcha"] = "off"
    # More entries than this to one mailing address form a risk cluster (quiz.fraud.signals).
    risk_address_limit: int = 3
    # 同一邮寄地址限一人获奖: applied before the freeze as an exclusion (quiz.fraud.review).
    one_winner_per_address: bool = False
    source_sha256: str = field(default="")
    # The one way to write the result (a regular expression it must match in full), with
    # an example, and the latest time to freeze the list: announced before the lottery, so
    # that nobody can pick a writing, or a list, that favours someone once the result is out.
    randomness_format: str | None = None
    randomness_example: str | None = None
    freeze_deadline: datetime | None = None
    # The leaderboard's reward bands ({name, from, to}); empty: 第一名 to 第三名.
    leaderboard_tiers: list[dict[str, Any]] = field(default_factory=list)
    # The campaign's kind (quiz.campaign.kinds); a file without one is a prize quiz.
    kind: str = "prize_quiz"
    # The drawing contest's [artwork] table (quiz.campaign.artwork_settings); empty otherwise.
    artwork: dict[str, Any] = field(default_factory=dict)
    # staff_contest only: the [contest] table checked (quiz.campaign.contest_spec).
    contest: dict[str, Any] | None = None
    # The branch race (quiz.campaign.race_spec, quiz.race); None: no race.
    race: dict[str, Any] | None = None
    # Further draws ([[draws]], quiz.draw.plans), as stored: times as ISO text.
    draws: list[dict[str, Any]] = field(default_factory=list)
    # The tables of SOURCE_TABLES as the file wrote them (quiz.campaign.toml_values tags
    # their dates): the editor and `quiz campaign export` write these back unchanged.
    source_tables: dict[str, Any] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# Source map: where each table and key sits in the text
# --------------------------------------------------------------------------------------

_HEADER = re.compile(r"\s*(\[\[?)\s*([A-Za-z0-9_.\- ]+?)\s*(\]\]?)\s*(?:#.*)?$")
_KEY = re.compile(r"""\s*("(?:[^"\\]|\\.)*"|'[^']*'|[A-Za-z0-9_-]+)\s*[.=]""")


@dataclass
class _Block:
    """A table (or one element of an array of tables) and the lines of its keys."""

    name: str
    index: int | None
    line: int | None
    keys: dict[str, int] = field(default_factory=dict)


class _SourceMap:
    """Finds the line of a key path in TOML text without a full parser."""

    def __init__(self, text: str) -> None:
        self.blocks: list[_Block] = [_Block("", None, None)]
        counts: dict[str, int] = {}
        in_multiline: str | None = None
        depth = 0
        # TOML counts lines by "\n" only (str.splitlines would also split on \x0b etc.).
        for lineno, line in enumerate(text.split("\n"), 1):
            if in_multiline is None and depth == 0:
                header = _HEADER.match(line)
                if header and len(header[1]) == len(header[3]):
                    name = header[2].replace(" ", "")
                    index = None
                    if header[1] == "[[":
                        index = counts.get(name, 0)
                        counts[name] = index + 1
                    self.blocks.append(_Block(name, index, lineno))
                    continue
                key = _KEY.match(line)
                if key:
                    self.blocks[-1].keys.setdefault(key[1].strip("\"'"), lineno)
            in_multiline, depth = _scan_line(line, in_multiline, depth)

    def _block(self, name: str, index: int | None) -> _Block | None:
        for block in self.blocks:
            if block.name == name and block.index == index:
                return block
        return None

    def line_of(self, path: Path_) -> int | None:
        """Line of the deepest key of ``path`` that can be found, or None."""
        if not path or not isinstance(path[0], str):
            return None
        name = path[0]
        index = path[1] if len(path) > 1 and isinstance(path[1], int) else None
        rest = path[2:] if index is not None else path[1:]
        block = self._block(name, index)
        if block is None and index is None and not rest:
            # A whole array of tables: point at its first element.
            block = self._block(name, 0)
        if block is None:
            return self.blocks[0].keys.get(name)
        if rest and isinstance(rest[0], str) and rest[0] in block.keys:
            return block.keys[rest[0]]
        return block.line


def _scan_line(line: str, in_multiline: str | None, depth: int) -> tuple[str | None, int]:
    """Advance the string and bracket state over one line."""
    i = 0
    while i < len(line):
        if in_multiline is not None:
            j = line.find(in_multiline, i)
            if j < 0:
                return in_multiline, depth
            if in_multiline == '"""' and _escaped(line, j):
                i = j + 1
                continue
            i = j + 3
            while i < len(line) and line[i] == in_multiline[0]:
                i += 1
            in_multiline = None
            continue
        c = line[i]
        if c == "#":
            break
        if line.startswith('"""', i) or line.startswith("'''", i):
            in_multiline = line[i : i + 3]
            i += 3
            continue
        if c in "\"'":
            j = i + 1
            while j < len(line) and (line[j] != c or (c == '"' and _escaped(line, j))):
                j += 1
            i = j + 1
            continue
        if c in "[{":
            depth += 1
        elif c in "]}":
            depth = max(0, depth - 1)
        i += 1
    return in_multiline, depth


def _escaped(line: str, j: int) -> bool:
    """Whether the character at ``j`` is preceded by an odd number of backslashes."""
    n = 0
    while j - n - 1 >= 0 and line[j - n - 1] == "\\":
        n += 1
    return n % 2 == 1


# --------------------------------------------------------------------------------------
# Validation
# --------------------------------------------------------------------------------------


def _fmt(path: Path_) -> str:
    out = ""
    for part in path:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else part)
    return out


class _Checker:
    """Collects problems with their lines and reads typed values from tables."""

    def __init__(self, source: _SourceMap) -> None:
        self.source = source
        self.errors: list[CampaignFileError] = []

    def fail(self, path: Path_, message: str) -> None:
        self.errors.append(CampaignFileError(message, self.source.line_of(path), _fmt(path)))

    def keys(
        self,
        table: Mapping[str, Any],
        path: Path_,
        allowed: frozenset[str],
        required: frozenset[str],
    ) -> None:
        for key in table:
            if key not in allowed:
                hint = ", ".join(sorted(allowed))
                self.fail((*path, key), f"unknown key (allowed: {hint})")
        for key in sorted(required - table.keys()):
            self.fail((*path, key), "required key is missing")

    def text(
        self, table: Mapping[str, Any], path: Path_, key: str, max_len: int | None = None
    ) -> str | None:
        if key not in table:
            return None  # reported by keys()
        value = table[key]
        if not isinstance(value, str) or not value.strip():
            self.fail((*path, key), "must be a non-empty string")
            return None
        value = value.strip()
        if max_len is not None and len(value) > max_len:
            self.fail((*path, key), f"is {len(value)} characters long; at most {max_len}")
            return None
        return value

    def paragraphs(self, table: Mapping[str, Any], path: Path_, key: str) -> list[str] | None:
        if key not in table:
            return None
        value = table[key]
        if (
            not isinstance(value, list)
            or not value
            or not all(isinstance(p, str) and p.strip() for p in value)
        ):
            self.fail((*path, key), "must be a non-empty list of non-empty strings")
            return None
        return [p.strip() for p in value]

    def integer(
        self,
        table: Mapping[str, Any],
        path: Path_,
        key: str,
        minimum: int,
        maximum: int = 1_000_000_000,
    ) -> int | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, int) or isinstance(value, bool):
            self.fail((*path, key), f"must be an integer, not {value!r}")
            return None
        if value < minimum:
            self.fail((*path, key), f"must be at least {minimum}, not {value}")
            return None
        if value > maximum:
            self.fail((*path, key), f"must be at most {maximum}, not {value}")
            return None
        return value

    def when(self, table: Mapping[str, Any], path: Path_, key: str) -> datetime | None:
        if key not in table:
            return None
        value = table[key]
        if not isinstance(value, datetime):
            kind = "a date without a time" if isinstance(value, date) else repr(value)
            self.fail(
                (*path, key),
                f"must be a local date-time such as 2026-11-01T00:00:00, not {kind}",
            )
            return None
        if not YEARS[0] <= value.year <= YEARS[1]:
            # Far dates overflow the date arithmetic of retention and the draw.
            self.fail((*path, key), f"must be in the years {YEARS[0]} to {YEARS[1]}")
            return None
        if value.tzinfo is None:
            value = value.replace(tzinfo=LOCAL_TZ)
        return value.astimezone(UTC)

    def table(self, data: Mapping[str, Any], name: str) -> Mapping[str, Any]:
        value = data.get(name)
        if value is None:
            self.fail((name,), f"required table [{name}] is missing")
            return {}
        if not isinstance(value, dict):
            self.fail((name,), f"must be a table [{name}]")
            return {}
        allowed, required = _TABLES[name]
        self.keys(value, (name,), allowed, required)
        return value

    def array_of_tables(
        self, data: Mapping[str, Any], name: str, base: Path_ = ()
    ) -> list[Mapping[str, Any]]:
        value = data.get(name)
        if value is None:
            self.fail((*base, name), f"required array of tables [[{name}]] is missing")
            return []
        if not isinstance(value, list) or not all(isinstance(v, dict) for v in value):
            self.fail((*base, name), f"must be written as [[{name}]] tables")
            return []
        return value


def _check_rank_tiers(c: _Checker, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Optional [[leaderboard_tiers]] (name, from, to ranks): the branch leaderboard's
    reward bands, in order, not overlapping; none means 第一名 to 第三名."""
    tiers: list[dict[str, Any]] = []
    if "leaderboard_tiers" not in data:
        return tiers
    last_to = 0
    for i, table in enumerate(c.array_of_tables(data, "leaderboard_tiers")):
        path: Path_ = ("leaderboard_tiers", i)
        c.keys(table, path, _RANK_TIER_KEYS, _RANK_TIER_KEYS)
        name = c.text(table, path, "name", 32)
        low = c.integer(table, path, "from", 1, 100_000)
        high = c.integer(table, path, "to", 1, 100_000)
        if low is not None and high is not None:
            if high < low:
                c.fail((*path, "to"), f"must be at least from ({low}), not {high}")
            elif low <= last_to:
                c.fail((*path, "from"), f"overlaps the tier before it (ranks up to {last_to})")
            else:
                last_to = high
                if name is not None:
                    tiers.append({"name": name, "from": low, "to": high})
    return tiers


def _check_prizes(c: _Checker, data: Mapping[str, Any], base: Path_ = ()) -> list[PrizeTier]:
    """The [[prizes]] tiers of `data` (the file's, or a [[draws]] table's at `base`)."""
    prizes: list[PrizeTier] = []
    seen: set[str] = set()
    tables = c.array_of_tables(data, "prizes", base)
    if "prizes" in data and not tables and isinstance(data["prizes"], list):
        c.fail((*base, "prizes"), "at least one [[prizes]] tier is required")
    for i, table in enumerate(tables):
        path: Path_ = (*base, "prizes", i)
        c.keys(table, path, _PRIZE_KEYS, _PRIZE_KEYS)
        tier = c.text(table, path, "tier", 32)
        prize = c.text(table, path, "prize", 200)
        count = c.integer(table, path, "count", 1, 1_000_000)
        value = c.integer(table, path, "value_yuan", 0, 100_000_000)
        if tier is not None and tier in seen:
            c.fail((*path, "tier"), f"duplicate prize tier {tier!r}")
        if tier is not None:
            seen.add(tier)
        if tier is not None and prize is not None and count is not None and value is not None:
            prizes.append(PrizeTier(tier, count, prize, value))
    return prizes


def _check_draws(c: _Checker, data: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Optional [[draws]]: draws 2, 3 ... of the campaign, each stated in full before any
    freeze (its own tiers, randomness source, written format, deadline, draw time)."""
    draws: list[dict[str, Any]] = []
    if "draws" not in data:
        return draws
    seen = {1}
    for i, table in enumerate(c.array_of_tables(data, "draws")):
        path: Path_ = ("draws", i)
        c.keys(table, path, _DRAW_KEYS, _DRAW_REQUIRED)
        number = c.integer(table, path, "number", 2, 1000)
        if number is not None and number in seen:
            c.fail((*path, "number"), f"draw number {number} is used twice (1 is [draw])")
        seen.add(number or 0)
        prizes = _check_prizes(c, table, path)
        when = {k: c.when(table, path, k) for k in ("draw_at", "closes_at", "freeze_deadline")}
        fmt = c.text(table, path, "randomness_format", 200)
        example = c.text(table, path, "randomness_example", 200)
        if fmt is not None and example is not None:
            try:
                if not re.fullmatch(fmt, example):
                    c.fail((*path, "randomness_example"), "does not match randomness_format")
            except re.error as exc:
                c.fail((*path, "randomness_format"), f"is not a valid regular expression: {exc}")
        if (
            when["draw_at"]
            and when["freeze_deadline"]
            and when["freeze_deadline"] >= when["draw_at"]
        ):
            c.fail((*path, "freeze_deadline"), "must be earlier than draw_at")
        draws.append(
            {
                "number": number,
                "name": c.text(table, path, "name", 100) or f"第{number}次抽奖",
                "prizes": [asdict(p) for p in prizes],
                "randomness_source": c.text(table, path, "randomness_source"),
                "randomness_format": fmt,
                "randomness_example": example,
                "exclude_earlier_winners": bool(table.get("exclude_earlier_winners", False)),
                **{k: v.isoformat() if v else None for k, v in when.items()},
            }
        )
    return draws


def _check_question(c: _Checker, table: Mapping[str, Any], i: int) -> QuestionSpec | None:
    path: Path_ = ("questions", i)
    c.keys(table, path, _QUESTION_KEYS, _QUESTION_REQUIRED)
    key = c.text(table, path, "key")
    if key is not None and not _QUESTION_KEY.fullmatch(key):
        c.fail((*path, "key"), f"{key!r} must be 1-32 letters, digits, '_' or '-'")
        key = None
    kind = table.get("kind")
    if "kind" in table and kind not in KINDS:
        c.fail((*path, "kind"), f"{kind!r} must be 'knowledge' or 'intent'")
        kind = None
    text = c.text(table, path, "text", 500)
    explanation = c.text(table, path, "explanation", 1000) if "explanation" in table else None
    category = c.text(table, path, "category", 32) if "category" in table else None
    multiple = table.get("multiple", False)
    if not isinstance(multiple, bool):
        c.fail((*path, "multiple"), "must be true or false")
        multiple = False

    options: list[tuple[str, str]] | None = None
    raw = table.get("options")
    most = MAX_KNOWLEDGE_OPTIONS if kind == "knowledge" else len(OPTION_KEYS)
    if "options" in table:
        if not isinstance(raw, list) or not all(isinstance(o, str) and o.strip() for o in raw):
            c.fail((*path, "options"), "must be a list of non-empty strings")
        elif not 2 <= len(raw) <= most:
            c.fail((*path, "options"), f"has {len(raw)} options; need 2 to {most}")
        elif any(len(o.strip()) > MAX_OPTION_LENGTH for o in raw):
            c.fail((*path, "options"), f"an option is longer than {MAX_OPTION_LENGTH} characters")
        elif len({o.strip() for o in raw}) != len(raw):
            c.fail((*path, "options"), "two options have the same text")
        else:
            options = [(OPTION_KEYS[n], o.strip()) for n, o in enumerate(raw)]

    correct: list[str] | None = None
    if kind == "intent" and "correct" in table:
        c.fail((*path, "correct"), "intent questions have no correct answer; remove it")
    elif kind == "knowledge" and "correct" not in table:
        c.fail((*path, "correct"), "knowledge questions need a correct answer")
    elif kind == "knowledge":
        raw_correct = table["correct"]
        picked = [raw_correct] if isinstance(raw_correct, str) else raw_correct
        if (
            not isinstance(picked, list)
            or not picked
            or not all(isinstance(p, str) for p in picked)
        ):
            c.fail((*path, "correct"), 'must be an option letter such as "B" or a list of them')
        elif len(set(picked)) != len(picked):
            c.fail((*path, "correct"), "lists the same option twice")
        elif not multiple and len(picked) != 1:
            c.fail((*path, "correct"), "single-choice questions have exactly one correct option")
        elif options is not None:
            letters = [k for k, _ in options]
            bad = [p for p in picked if p not in letters]
            if bad:
                c.fail(
                    (*path, "correct"),
                    f"{bad[0]!r} is not one of the options {letters[0]}-{letters[-1]}",
                )
            else:
                correct = sorted(picked)

    if key is None or kind is None or text is None or options is None:
        return None
    if kind == "knowledge" and correct is None:
        return None
    return QuestionSpec(
        key,
        cast(Literal["knowledge", "intent"], kind),
        text,
        options,
        correct,
        explanation,
        multiple,
        category,
    )


def _check_questions(c: _Checker, data: Mapping[str, Any]) -> list[QuestionSpec]:
    questions: list[QuestionSpec] = []
    first_seen: dict[str, int] = {}
    for i, table in enumerate(c.array_of_tables(data, "questions")):
        spec = _check_question(c, table, i)
        key = table.get("key")
        if isinstance(key, str):
            if key.strip() in first_seen:
                c.fail(
                    ("questions", i, "key"),
                    f"duplicate question key {key!r} (first used by questions"
                    f"[{first_seen[key.strip()]}])",
                )
                continue
            first_seen[key.strip()] = i
        if spec is not None:
            questions.append(spec)
    return questions


def parse_campaign(text: str) -> CampaignSpec:
    """Parse and validate campaign TOML text; raise CampaignFileError naming the line."""
    try:
        data = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        match = _TOML_LINE.search(str(exc))
        if match:
            line = int(match[1])
        elif "end of document" in str(exc):
            line = text.count("\n") + 1
        else:
            line = None
        raise CampaignFileError(f"TOML syntax error: {exc}", line) from None

    c = _Checker(_SourceMap(text))
    for name in data:
        if name not in _TOP_LEVEL:
            c.fail((name,), f"unknown table or key (allowed: {', '.join(sorted(_TOP_LEVEL))})")

    campaign = c.table(data, "campaign")
    slug = c.text(campaign, ("campaign",), "slug")
    if slug is not None and not _SLUG.fullmatch(slug):
        c.fail(("campaign", "slug"), f"{slug!r} must be lowercase letters, digits and '-'")
    name = c.text(campaign, ("campaign",), "name", 200)
    kind = c.text(campaign, ("campaign",), "kind") or "prize_quiz"
    if kind not in CAMPAIGN_KINDS:
        c.fail(("campaign", "kind"), f"{kind!r} must be one of {', '.join(CAMPAIGN_KINDS)}")
    opens_at = c.when(campaign, ("campaign",), "opens_at")
    closes_at = c.when(campaign, ("campaign",), "closes_at")
    draw_at = c.when(campaign, ("campaign",), "draw_at")
    if opens_at and closes_at and closes_at <= opens_at:
        c.fail(("campaign", "closes_at"), "must be later than opens_at")
    # The entrant list is frozen at closing time and must exist before the draw.
    if closes_at and draw_at and draw_at <= closes_at:
        c.fail(("campaign", "draw_at"), "must be later than closes_at")

    organiser = c.table(data, "organiser")
    organiser_name = c.text(organiser, ("organiser",), "name", 200)
    organiser_contact = c.text(organiser, ("organiser",), "contact")

    prizes = _check_prizes(c, data)
    leaderboard_tiers = _check_rank_tiers(c, data)
    race = check_race(data, c.fail)

    rules = c.table(data, "rules")
    rules_version = c.text(rules, ("rules",), "version", 64)
    entry_conditions = c.text(rules, ("rules",), "entry_conditions")
    draw_method = c.text(rules, ("rules",), "draw_method")
    prize_claim = c.text(rules, ("rules",), "prize_claim")
    paragraphs = c.paragraphs(rules, ("rules",), "paragraphs")

    privacy = c.table(data, "privacy")
    privacy_version = c.text(privacy, ("privacy",), "version", 64)
    notice = c.paragraphs(privacy, ("privacy",), "notice")
    follow_up_days = c.integer(privacy, ("privacy",), "follow_up_retention_days", 1, MAX_DAYS)
    winner_days = c.integer(privacy, ("privacy",), "winner_retention_days", 1, MAX_DAYS)

    quiz = c.table(data, "quiz") if "quiz" in data else {}
    per_participant = c.integer(quiz, ("quiz",), "questions_per_participant", 1)
    per_participant = 5 if "questions_per_participant" not in quiz else per_participant
    min_score = c.integer(quiz, ("quiz",), "min_score", 0)
    if min_score is not None and per_participant is not None and min_score > per_participant:
        c.fail(
            ("quiz", "min_score"),
            f"{min_score} is more than questions_per_participant ({per_participant})",
        )
    referral_rule = quiz.get("referral_rule", "address")
    if referral_rule not in REFERRAL_RULES:
        c.fail(("quiz", "referral_rule"), f"{referral_rule!r} must be 'address' or 'referral'")
    sms_verification = quiz.get("sms_verification", "off")
    if sms_verification not in SMS_VERIFICATION:
        c.fail(("quiz", "sms_verification"), f"{sms_verification!r} must be 'off' or 'required'")

    bot_challenge = quiz.get("bot_challenge", "off")
    if bot_challenge not in BOT_CHALLENGES:
        c.fail(("quiz", "bot_challenge"), f"{bot_challenge!r} must be 'off' or 'altcha'")
    risk_address_limit = c.integer(quiz, ("quiz",), "risk_address_limit", 1)
    risk_address_limit = 3 if "risk_address_limit" not in quiz else risk_address_limit

    draw = c.table(data, "draw")
    one_winner_per_address = draw.get("one_winner_per_address", False)
    if not isinstance(one_winner_per_address, bool):
        c.fail(("draw", "one_winner_per_address"), "must be true or false")
    randomness_source = c.text(draw, ("draw",), "randomness_source")
    randomness_format = c.text(draw, ("draw",), "randomness_format", 200)
    randomness_example = c.text(draw, ("draw",), "randomness_example", 200)
    if randomness_format is not None:
        try:
            pattern = re.compile(randomness_format)
        except re.error as exc:
            c.fail(("draw", "randomness_format"), f"is not a valid regular expression: {exc}")
        else:
            if randomness_example is None:
                c.fail(("draw", "randomness_format"), "needs randomness_example beside it")
            elif not pattern.fullmatch(randomness_example):
                c.fail(("draw", "randomness_example"), "does not match randomness_format")
    freeze_deadline = c.when(draw, ("draw",), "freeze_deadline")
    if freeze_deadline and closes_at and freeze_deadline <= closes_at:
        c.fail(("draw", "freeze_deadline"), "must be later than closes_at")

    artwork: dict[str, Any] = {}
    if "artwork" in data or kind == "artwork_contest":
        artwork, problems = artwork_settings.parse(data.get("artwork"))
        for key, problem in problems:
            c.fail(("artwork", key) if key else ("artwork",), problem)

    # A list draw has no quiz: its file may leave the questions out.
    quizless = kind == "list_draw" and "questions" not in data
    questions = [] if quizless else _check_questions(c, data)
    draws = _check_draws(c, data)
    raw_questions = data.get("questions")
    if isinstance(raw_questions, list):
        # Count by declared kind so that one broken question is reported once, not twice.
        kinds = [q.get("kind") for q in raw_questions if isinstance(q, dict)]
        knowledge = kinds.count("knowledge")
        intent = kinds.count("intent")
        if per_participant is not None and knowledge < per_participant:
            c.fail(
                ("quiz", "questions_per_participant") if "quiz" in data else ("questions",),
                f"{per_participant} knowledge questions per participant but the file has"
                f" only {knowledge}",
            )
        # A staff contest ranks knowledge; it asks no purchase intent.
        if intent < 1 and kind != "staff_contest":
            c.fail(("questions",), "the file needs at least one intent question")

    contest: dict[str, Any] | None = None
    if kind == "staff_contest" or "contest" in data:
        by_category: dict[str, int] = {}
        for q in questions:
            if q.kind == "knowledge":
                by_category[q.category or ""] = by_category.get(q.category or "", 0) + 1
        contest, contest_problems = check_contest(data, by_category)
        for path, message in contest_problems:
            c.fail(path, message)

    if c.errors:
        errors = sorted(c.errors, key=lambda e: (e.line is None, e.line or 0))
        first = errors[0]
        first.errors = errors
        raise first

    assert slug and name and opens_at and closes_at and draw_at
    assert organiser_name and organiser_contact and rules_version and privacy_version
    assert entry_conditions and draw_method and prize_claim and paragraphs and notice
    assert randomness_source and follow_up_days and winner_days and per_participant
    return CampaignSpec(
        slug=slug,
        name=name,
        kind=kind,
        artwork=artwork,
        contest=contest,
        draws=draws,
        source_tables={name: tagged(data[name]) for name in SOURCE_TABLES if name in data},
        opens_at=opens_at,
        closes_at=closes_at,
        draw_at=draw_at,
        organiser_name=organiser_name,
        organiser_contact=organiser_contact,
        prizes=prizes,
        entry_conditions=entry_conditions,
        draw_method=draw_method,
        prize_claim=prize_claim,
        rules=paragraphs,
        privacy_notice=notice,
        rules_version=rules_version,
        privacy_version=privacy_version,
        randomness_source=randomness_source,
        follow_up_retention_days=follow_up_days,
        winner_retention_days=winner_days,
        questions=questions,
        questions_per_participant=per_participant,
        randomness_format=randomness_format,
        randomness_example=randomness_example,
        freeze_deadline=freeze_deadline,
        leaderboard_tiers=leaderboard_tiers,
        race=race,
        min_score=min_score,
        referral_rule=cast(Literal["referral", "address"], referral_rule),
        sms_verification=cast(Literal["off", "required"], sms_verification),
        bot_challenge=cast(Literal["off", "altcha"], bot_challenge),
        risk_address_limit=risk_address_limit or 3,
        one_winner_per_address=bool(one_winner_per_address),
        source_sha256=hashlib.sha256(text.encode("utf-8")).hexdigest(),
    )


def load_campaign_file(path: str | Path) -> CampaignSpec:
    """Read and validate a campaign file (UTF-8, a leading BOM is tolerated)."""
    try:
        text = Path(path).read_bytes().decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        line = exc.object[: exc.start].count(b"\n") + 1
        raise CampaignFileError(f"{path}: not valid UTF-8", line) from None
    return parse_campaign(text)


def default_campaign_path() -> Path:
    """The campaign file shipped with the application."""
    return Path(__file__).parent.parent / "data" / "campaign" / "default.toml"


# --------------------------------------------------------------------------------------
# Install into the database
# --------------------------------------------------------------------------------------


def _content(spec: CampaignSpec) -> dict[str, Any]:
    """The spec minus questions, as JSON-serialisable data."""
    content = asdict(spec)
    del content["questions"]
    for key in ("opens_at", "closes_at", "draw_at", "freeze_deadline"):
        if content[key] is not None:
            content[key] = content[key].isoformat()
    return content


def _frozen_fields(question: Question) -> tuple[Any, ...]:
    return (question.kind, question.multiple, question.options, question.correct)


def _option_dicts(options: Sequence[tuple[str, str]]) -> list[dict[str, str]]:
    return [{"key": key, "text": text} for key, text in options]


def _assigned(session: Session, question_ids: Sequence[int]) -> set[int]:
    if not question_ids:
        return set()
    rows = session.scalars(
        select(QuizItem.question_id).where(QuizItem.question_id.in_(question_ids)).distinct()
    )
    # A contest paper holds questions too: their scoring must not change under it.
    papers = session.scalars(
        select(ContestAnswer.question_id)
        .where(ContestAnswer.question_id.in_(question_ids))
        .distinct()
    )
    return set(rows) | set(papers)


def install_campaign(session: Session, spec: CampaignSpec) -> Campaign:
    """Insert or update (by slug) the campaign and its questions; flush, never commit.

    ``Campaign.content`` holds every spec field except questions, with datetimes as ISO
    8601 UTC strings: slug, name, opens_at, closes_at, draw_at, organiser_name,
    organiser_contact, prizes (list of {tier, count, prize, value_yuan}),
    entry_conditions, draw_method, prize_claim, rules (list of paragraphs),
    privacy_notice (list of paragraphs), rules_version, privacy_version,
    randomness_source, follow_up_retention_days, winner_retention_days,
    questions_per_participant, min_score (int or None), referral_rule, sms_verification,
    source_sha256,
    randomness_format, randomness_example, freeze_deadline (None when not set),
    leaderboard_tiers (list of {name, from, to}; empty for the default 1st-3rd).

    Questions are matched by key: new ones are added, existing ones updated, and those no
    longer in the file set inactive (participants may hold them). The kind, options,
    correct answer and multiple flag of a question already assigned to a participant
    cannot change (stored answers refer to them): CampaignFileError; use a new key.
    """
    campaign = session.scalar(select(Campaign).where(Campaign.slug == spec.slug))
    existing: dict[str, Question] = {}
    if campaign is not None:
        rows = session.scalars(select(Question).where(Question.campaign_id == campaign.id))
        existing = {q.key: q for q in rows}
    # Check before changing anything, so a refused install leaves the session untouched.
    assigned = _assigned(session, [q.id for q in existing.values()])
    for position, qs in enumerate(spec.questions):
        old = existing.get(qs.key)
        new = (qs.kind, qs.multiple, _option_dicts(qs.options), qs.correct)
        if old is not None and old.id in assigned and _frozen_fields(old) != new:
            raise CampaignFileError(
                "kind, options, correct or multiple changed, but the question is already"
                " assigned to participants; give the changed question a new key",
                path=f"questions[{position}] (key {qs.key!r})",
            )

    if campaign is None:
        campaign = Campaign(slug=spec.slug)
        session.add(campaign)
    campaign.name = spec.name
    campaign.kind = spec.kind
    campaign.opens_at = spec.opens_at
    campaign.closes_at = spec.closes_at
    campaign.draw_at = spec.draw_at
    campaign.content = _content(spec)
    campaign.content_sha256 = spec.source_sha256
    campaign.loaded_at = utcnow()
    session.flush()

    for position, qs in enumerate(spec.questions):
        question = existing.pop(qs.key, None)
        if question is None:
            question = Question(campaign_id=campaign.id, key=qs.key)
            session.add(question)
        question.kind = qs.kind
        question.multiple = qs.multiple
        question.position = position
        question.text = qs.text
        question.options = _option_dicts(qs.options)
        question.correct = list(qs.correct) if qs.correct is not None else None
        question.explanation = qs.explanation
        question.category = qs.category
        question.active = True
    for question in existing.values():
        question.active = False
    session.flush()
    session.expire(campaign, ["questions"])
    return campaign


# The validator's messages in Chinese, for the browser editor: one table beside the checks
# so that the CLI (English, with lines) and the editor (Chinese, by field) say the same.
_CHINESE: tuple[tuple[re.Pattern[str], str], ...] = tuple(
    (re.compile(pattern), chinese)
    for pattern, chinese in (
        (r"unknown key", "不认识的设置项"),
        (r"must be one of prize_quiz", "活动类型无效"),
        (r"required key is missing", "必填项,不能为空"),
        (r"must be a non-empty string", "必填项,不能为空"),
        (r"is (\d+) characters long; at most (\d+)", r"共 \1 个字,最多 \2 个字"),
        (r"must be a non-empty list of non-empty strings", "至少填写一段,每段不能为空"),
        (r"must be an integer", "请填写整数"),
        (r"must be at least from \((\d+)\)", r"结束名次不能小于起始名次(\1)"),
        (r"must be at least (\d+)", r"不能小于 \1"),
        (r"must be at most (\d+)", r"不能大于 \1"),
        (r"must be in the years (\d+) to (\d+)", r"年份应在 \1 至 \2 之间"),
        (r"must be a local date-time", "请填写日期和时间(北京时间)"),
        (r"required table", "缺少这一部分"),
        (r"must be a table(?! of)", "格式不正确"),
        (r"required array of tables \[\[questions", "题库不能为空"),
        (r"required array of tables \[\[prizes", "至少设置一个奖项"),
        (r"must be written as", "格式不正确"),
        (r"overlaps the tier before it", "与上一档名次重叠"),
        (r"at least one \[\[prizes\]\] tier", "至少设置一个奖项"),
        (r"duplicate prize tier", "奖项名称重复"),
        (r"must be 1-32 letters", "题目编号只能由 1-32 个字母、数字、“_”或“-”组成"),
        (r"must be 'knowledge' or 'intent'", "题型只能是知识题或投保意向题"),
        (r"must be true or false", "只能是“是”或“否”"),
        (r"must be 'off' or 'altcha'", "只能是 off(不启用)或 altcha(工作量证明)"),
        (r"must be a list of non-empty strings", "选项不能为空"),
        (r"has (\d+) options; need 2 to (\d+)", r"共 \1 个选项,需要 2 至 \2 个"),
        (r"an option is longer than (\d+)", r"每个选项最多 \1 个字"),
        (r"two options have the same text", "有两个选项的文字相同"),
        (r"intent questions have no correct answer", "投保意向题没有正确答案"),
        (r"knowledge questions need a correct answer", "知识题需要指定正确答案"),
        (r"must be an option letter", "正确答案应为选项字母"),
        (r"lists the same option twice", "正确答案重复列出了同一选项"),
        (r"exactly one correct option", "单选题只能有一个正确答案"),
        (r"is not one of the options", "正确答案不在选项之中"),
        (r"duplicate question key", "题目编号重复"),
        (r"TOML syntax error", "活动文件格式错误"),
        (
            r"must be lowercase letters, digits and '-'",
            "活动地址只能由小写英文字母、数字和“-”组成,不能有空格",
        ),
        (r"must be later than opens_at", "结束时间必须晚于开始时间"),
        (r"must be later than closes_at", "必须晚于活动结束时间"),
        (r"is more than questions_per_participant", "最低分不能超过每人答题数"),
        (r"must be 'address' or 'referral'", "线索归属规则只能是按地址或按推广链接"),
        (r"is not a valid regular expression", "不是有效的正则表达式"),
        (r"needs randomness_example", "请同时填写开奖结果示例"),
        (r"does not match randomness_format", "示例与开奖结果格式不符"),
        (
            r"(\d+) knowledge questions per participant but the file has only (\d+)",
            r"每人抽取 \1 道知识题,但题库只有 \2 道",
        ),
        (r"at least one intent question", "至少需要一道投保意向题"),
        (r"not valid UTF-8", "文件不是 UTF-8 编码"),
        (r"draw number (\d+) is used twice", r"抽奖序号 \1 重复(第 1 次是上面的抽奖设置)"),
        (r"must be earlier than draw_at", "必须早于这次的抽奖时间"),
        # The staff contest's [contest] table (quiz.campaign.contest_spec).
        (r"must be a whole number from (\d+) to (\d+)", r"请填写 \1 至 \2 之间的整数"),
        (
            r"must be 'partial' or 'all_or_nothing'",
            "只能是 partial(按比例得分)或 all_or_nothing(全对才得分)",
        ),
        (r"adding up to 100", "参赛率和平均分的权重应为整数,两者之和为 100"),
        (r"must be a list of \{ name, count \} tables", "至少设置一个奖项"),
        (
            r"each award needs a name and a count from 1 to (\d+)",
            r"每个奖项需要名称和 1 至 \1 个名额",
        ),
        (r"needs at least one \[\[contest.groups\]\]", "至少设置一个组别"),
        (
            r"must be 1-16 lowercase letters, digits or _",
            "组别代码只能由 1-16 个小写英文字母、数字或“_”组成",
        ),
        (r"two groups share a code or a name", "两个组别的代码或名称相同"),
        (r"must be a table of category = number", "请按“分类=题数”填写各分类的抽题数"),
        (r"'(.+?)': the number must be 1 or more", r"“\1”的题数至少为 1"),
        (
            r"'(.+?)': (\d+) questions asked but the bank has (\d+)",
            r"“\1”要抽 \2 道题,但题库中这个分类只有 \3 道知识题",
        ),
        (r"needs a \[contest\] table", "缺少竞赛设置"),
    )
)


def chinese_message(message: str) -> str:
    """The Chinese wording of one validator message (the English one if none fits)."""
    for pattern, chinese in _CHINESE:
        match = pattern.search(message)
        if match:
            return match.expand(chinese)
    return message


def iter_problems(error: CampaignFileError) -> Iterator[str]:
    """Every problem of a failed load, one line each, in file order (for the CLI)."""
    for problem in error.errors:
        yield str(problem)
