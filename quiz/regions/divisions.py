"""Official administrative divisions (province / prefecture / county), loaded lazily."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "regions" / "divisions.tsv"
MUNICIPALITIES = frozenset({"110000", "120000", "310000", "500000"})

PROVINCE, PREFECTURE, COUNTY = 1, 2, 3


@dataclass(frozen=True, slots=True)
class Division:
    """One official division: 6-digit code, name, level (1-3) and parent code ('' at level 1)."""

    code: str
    name: str
    level: int
    parent_code: str


@dataclass(frozen=True, slots=True)
class _Table:
    by_code: dict[str, Division]
    children: dict[str, tuple[Division, ...]]
    provenance: dict[str, str]


@cache
def _table() -> _Table:
    # Parsed once on first use; ~3,200 lines take a few milliseconds.
    by_code: dict[str, Division] = {}
    children: dict[str, list[Division]] = {}
    provenance: dict[str, str] = {}
    with DATA_FILE.open(encoding="utf-8") as stream:
        for line in stream:
            if line.startswith("#"):
                key, _, value = line[1:].partition(":")
                provenance[key.strip()] = value.strip()
                continue
            code, level, parent, name = line.rstrip("\n").split("\t")
            division = Division(code, name, int(level), parent)
            by_code[code] = division
            children.setdefault(parent, []).append(division)
    return _Table(by_code, {k: tuple(v) for k, v in children.items()}, provenance)


def get(code: str) -> Division | None:
    """Return the division with this 6-digit code, or None."""
    return _table().by_code.get(code)


def all_divisions() -> tuple[Division, ...]:
    """Return every division, provinces first, in official order."""
    return tuple(_table().by_code.values())


def provinces() -> tuple[Division, ...]:
    """Return the province-level divisions (provinces, municipalities, regions, SARs)."""
    return _table().children.get("", ())


def children(code: str) -> tuple[Division, ...]:
    """Return the divisions directly under `code` (counties under a municipality included)."""
    return _table().children.get(code, ())


def path(code: str) -> tuple[Division, ...]:
    """Return the chain from the province down to `code` (empty when unknown)."""
    chain: list[Division] = []
    division = get(code)
    while division is not None:
        chain.append(division)
        division = get(division.parent_code) if division.parent_code else None
    return tuple(reversed(chain))


def provenance() -> dict[str, str]:
    """Return the source and date recorded in the data file header."""
    return dict(_table().provenance)
