"""Reading uploaded XLSX workbooks row by row without a 500 on a broken file.

openpyxl in read-only mode parses a sheet lazily: a workbook that opens may still fail
on a later row (a number cell holding text, an impossible cell reference) with whatever
exception its parser raises. Every reader of uploads wraps its rows in `safe_rows`, so
such a file gets the same Chinese refusal as one that does not open at all.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from typing import TypeVar

Row = TypeVar("Row")


def safe_rows(rows: Iterable[Row], refusal: Callable[[], Exception]) -> Iterator[Row]:
    """The rows as they are read; `refusal()` is raised in place of a parser error."""
    iterator = iter(rows)
    while True:
        try:
            row = next(iterator)
        except StopIteration:
            return
        except Exception:  # noqa: BLE001 - openpyxl raises many kinds on a broken sheet
            raise refusal() from None
        yield row
