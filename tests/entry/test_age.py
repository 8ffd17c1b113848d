"""The age rule (年满18周岁 on the Beijing date of entry), as plain values."""

from __future__ import annotations

from datetime import UTC, date, datetime

import pytest

from quiz.entry.age import age_on, entry_day, is_adult


@pytest.mark.parametrize(
    ("birth", "day", "adult"),
    [
        (date(2008, 12, 2), date(2026, 12, 2), True),  # the 18th birthday itself
        (date(2008, 12, 3), date(2026, 12, 2), False),  # one day short
        (date(2008, 2, 29), date(2026, 2, 28), False),  # born on 29 February ...
        (date(2008, 2, 29), date(2026, 3, 1), True),  # ... is 18 on 1 March
        (date(1950, 1, 1), date(2026, 12, 2), True),
        (date(2020, 5, 1), date(2026, 12, 2), False),
    ],
)
def test_adult_in_whole_years(birth, day, adult):
    assert is_adult(birth, day) is adult
    assert (age_on(birth, day) >= 18) is adult


def test_the_entry_day_is_the_date_in_beijing():
    """23:30 UTC on 1 December is already 2 December in Beijing, the date the entrant sees."""
    assert entry_day(datetime(2026, 12, 1, 23, 30, tzinfo=UTC)) == date(2026, 12, 2)
    assert entry_day(datetime(2026, 12, 1, 15, 59, tzinfo=UTC)) == date(2026, 12, 1)
