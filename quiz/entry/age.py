"""The campaign's age rule: entrants are 年满18周岁 on the day they register.

Age counts in whole years (周岁) on the entry's date in Beijing, the date the
participant sees: someone born on 2008-12-02 may enter from 2026-12-02 00:00 Beijing
time. Born on 29 February, the birthday in other years is 1 March. Pure functions, no
Flask; the registration form, the registration service and the migration that
replaced the stored birth date (0007) use them.
"""

from __future__ import annotations

from datetime import UTC, date, datetime, timedelta, timezone

ADULT_AGE = 18
BEIJING = timezone(timedelta(hours=8))
UNDERAGE_MESSAGE = "本活动仅限年满18周岁的成年人参加(按报名当日计算周岁),未成年人不能报名。"


def entry_day(moment: datetime) -> date:
    """The Beijing date of a moment (a naive moment is taken as UTC)."""
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=UTC)
    return moment.astimezone(BEIJING).date()


def age_on(birth: date, day: date) -> int:
    """Whole years (周岁) from `birth` to `day`."""
    return day.year - birth.year - ((day.month, day.day) < (birth.month, birth.day))


def is_adult(birth: date, day: date) -> bool:
    """18 or older on `day`."""
    return age_on(birth, day) >= ADULT_AGE
