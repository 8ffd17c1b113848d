"""Compact JSON feeding the cascading province -> city -> district selects."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from quiz.regions import divisions

STATIC_FILE = Path(__file__).resolve().parents[2] / "static" / "regions.json"


def build_cascade() -> dict[str, Any]:
    """Return {"v": data date, "p": [[code, name, [[code, name, [[code, name], ...]], ...]], ...]}.

    For the four municipalities the single city entry is the municipality itself, and
    county-level cities directly under a province are cities with no districts, matching
    parse_address().
    """
    provinces = []
    for province in divisions.provinces():
        cities: list[list[Any]] = []
        if province.code in divisions.MUNICIPALITIES:
            districts = [[d.code, d.name] for d in divisions.children(province.code)]
            cities.append([province.code, province.name, districts])
        else:
            for city in divisions.children(province.code):
                districts = [[d.code, d.name] for d in divisions.children(city.code)]
                cities.append([city.code, city.name, districts])
        provinces.append([province.code, province.name, cities])
    return {"v": divisions.provenance().get("data_as_of", ""), "p": provinces}


def write_cascade(target: Path = STATIC_FILE) -> Path:
    """Write the cascade JSON (compact, UTF-8) to `target` and return the path."""
    target.parent.mkdir(parents=True, exist_ok=True)
    text = json.dumps(build_cascade(), ensure_ascii=False, separators=(",", ":"))
    target.write_text(text, encoding="utf-8")
    return target


if __name__ == "__main__":
    print(write_cascade())
