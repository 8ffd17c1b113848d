"""Option order per participant: each entrant sees a question's options in their own
order, the same every time they load the page, so tapping the first option scores
nothing in particular.

The order is a pure function of the entry's public id and the question key (no state to
store before the answer); the order shown is stored with the answer (QuizItem.option_order)
and answers keep naming options by their key, so scoring and exports do not change.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping, Sequence
from typing import Any

# The letters shown in front of options, by position on the page.
SHOWN_LETTERS = "ABCDEFGHIJ"


def option_order(public_id: str, question_key: str, keys: Sequence[str]) -> list[str]:
    """The option keys in the order this entrant sees them (stable for the entrant)."""
    seed = hashlib.sha256(f"{public_id}\x1f{question_key}".encode()).digest()
    order = list(keys)
    random.Random(seed).shuffle(order)  # noqa: S311 - an order, not a secret
    return order


def shown_options(
    public_id: str, question_key: str, options: Sequence[Mapping[str, Any]]
) -> list[dict[str, str]]:
    """The question's options as this entrant sees them: {key, text, letter}, where
    `letter` is the position letter on the page (A for the first shown) and `key` the
    option's own key that the answer stores."""
    by_key = {opt["key"]: opt for opt in options}
    order = option_order(public_id, question_key, [opt["key"] for opt in options])
    return [
        {"key": key, "text": str(by_key[key]["text"]), "letter": SHOWN_LETTERS[n]}
        for n, key in enumerate(order)
    ]


def letter_spread(correct_positions: Sequence[str]) -> tuple[str, int] | None:
    """The letter holding most correct answers when it holds more than half of them
    (the editor's warning: tapping that letter would pass), else None."""
    if not correct_positions:
        return None
    counts: dict[str, int] = {}
    for letter in correct_positions:
        counts[letter] = counts.get(letter, 0) + 1
    letter, count = max(counts.items(), key=lambda kv: (kv[1], kv[0]))
    return (letter, count) if count * 2 > len(correct_positions) else None
