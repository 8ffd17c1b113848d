"""Bulk address location: lines in, TSV rows out (the click command wraps this)."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from quiz.regions.parser import Location, parse_address

HEADER = ("address", "province", "city", "district", "division_code", "branch_code")
BranchFor = Callable[[Location], str | None]


def _clean(value: str | None) -> str:
    # TSV has no quoting: tabs and line breaks inside a field would shift columns.
    if not value:
        return ""
    return value.replace("\t", " ").replace("\r", " ").replace("\n", " ")


def locate_row(address: str, branch_for: BranchFor) -> str:
    """Return one TSV row (no newline) for one address; empty fields when unresolved."""
    location = parse_address(address)
    if location.province_code is None:
        return "\t".join((_clean(address), "", "", "", "", ""))
    branch = branch_for(location)
    return "\t".join(
        (
            _clean(address),
            location.province or "",
            location.city or "",
            location.district or "",
            location.code or "",
            _clean(branch),
        )
    )


def locate_lines(
    lines: Iterable[str], branch_for: BranchFor, *, header: bool = False
) -> Iterator[str]:
    """Yield a TSV row (ending in a newline) for each non-blank input line."""
    if header:
        yield "\t".join(HEADER) + "\n"
    for line in lines:
        address = line.strip().lstrip("\ufeff")
        if address:
            yield locate_row(address, branch_for) + "\n"
