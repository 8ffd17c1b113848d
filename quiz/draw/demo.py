"""Generated entrant lists: the demo list `quiz setup` imports, and the lists the tests
and the import benchmark use. Fictitious people (names from a few common characters,
mobiles in the 139/186 ranges), written as a CSV with the import's columns."""

from __future__ import annotations

import csv
import random
from collections.abc import Sequence
from datetime import date, timedelta
from pathlib import Path

HEADER = ("客户号", "姓名", "手机号码", "机构代码", "资格日期", "邮寄地址")
_SURNAMES = "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗"
_GIVEN = "伟芳娜敏静丽强磊军洋勇艳杰涛明超秀英华平刚桂兰"
_STREETS = ("人民路", "解放路", "建设路", "中山路", "和平路", "文化路")


def write_list(
    path: str | Path,
    rows: int,
    branch_codes: Sequence[str],
    first_day: date,
    last_day: date,
    *,
    seed: int = 2027,
    encoding: str = "utf-8",
) -> Path:
    """Write `rows` fictitious entrants to a CSV (distinct 客户号, mobiles and names)."""
    rng = random.Random(seed)  # noqa: S311 - made-up demo data, not a secret
    span = (last_day - first_day).days + 1
    path = Path(path)
    with path.open("w", encoding=encoding, newline="") as sink:
        writer = csv.writer(sink)
        writer.writerow(HEADER)
        for n in range(1, rows + 1):
            name = rng.choice(_SURNAMES) + "".join(rng.choices(_GIVEN, k=rng.choice((1, 2))))
            writer.writerow(
                (
                    f"C{n:09d}",
                    name,
                    f"{rng.choice(('139', '186'))}{n:08d}",
                    branch_codes[n % len(branch_codes)],
                    (first_day + timedelta(days=n % span)).isoformat(),
                    f"示例市示例区{rng.choice(_STREETS)}{n % 999 + 1}号",
                )
            )
    return path
