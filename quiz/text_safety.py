"""Invisible and direction-changing characters, stripped from every text a person types.

U+202E (right-to-left override) makes 北京市朝阳区 read backwards in a staff page or a
spreadsheet, U+200B..U+200D and U+FEFF hide inside a name or an address so that two
values that look the same differ, U+2028 breaks a CSV line. None has a use in names,
addresses, notes or branch and agent names, so they are removed, in one place: the
base form of every web form (quiz/web/forms.py) and the services that take text from
CSV files and the command line. Pure functions, no Flask.

Removed: the Unicode categories Cc (controls, but tab, line feed and carriage return
stay for text areas), Cf (format: bidi embeddings, overrides and isolates, zero-width
space/joiners, word joiner, BOM, soft hyphen, tags ...), Zl and Zp (line and paragraph
separators), and characters of other categories that show as nothing: the combining
grapheme joiner, Hangul fillers, Khmer inherent vowels, Mongolian variation selectors,
the braille blank and the variation selectors. Private-use and unassigned code points
stay: rare characters in Chinese names are written with them (GB 18030 private-use
mappings, CJK extensions newer than this Python's Unicode tables).
"""

from __future__ import annotations

import re
import unicodedata
from typing import Any

KEPT_CONTROLS = frozenset("\t\n\r")
STRIPPED_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})
# Invisible characters outside those categories.
INVISIBLE_EXTRAS = (
    (0x034F, 0x034F),  # combining grapheme joiner
    (0x115F, 0x1160),  # Hangul choseong/jungseong fillers
    (0x17B4, 0x17B5),  # Khmer inherent vowels
    (0x180B, 0x180F),  # Mongolian free variation selectors (180E is Cf)
    (0x2800, 0x2800),  # braille pattern blank
    (0x3164, 0x3164),  # Hangul filler
    (0xFE00, 0xFE0F),  # variation selectors
    (0xFFA0, 0xFFA0),  # halfwidth Hangul filler
    (0xE0100, 0xE01EF),  # variation selectors supplement
)


def is_invisible(char: str) -> bool:
    """Whether `char` is one of the characters strip_invisible removes."""
    if char in KEPT_CONTROLS:
        return False
    if unicodedata.category(char) in STRIPPED_CATEGORIES:
        return True
    code = ord(char)
    return any(low <= code <= high for low, high in INVISIBLE_EXTRAS)


# Every code point the rule above removes, as ranges: the rule evaluated over all of
# Unicode once (this Python's tables), written out so that importing costs nothing.
# tests/test_text_safety.py checks it against the rule for every code point, so a Python
# with newer Unicode tables fails there until the table is extended.
REMOVED_RANGES = (
    (0x0000, 0x0008),
    (0x000B, 0x000C),
    (0x000E, 0x001F),
    (0x007F, 0x009F),
    (0x00AD, 0x00AD),
    (0x034F, 0x034F),
    (0x0600, 0x0605),
    (0x061C, 0x061C),
    (0x06DD, 0x06DD),
    (0x070F, 0x070F),
    (0x0890, 0x0891),
    (0x08E2, 0x08E2),
    (0x115F, 0x1160),
    (0x17B4, 0x17B5),
    (0x180B, 0x180F),
    (0x200B, 0x200F),
    (0x2028, 0x202E),
    (0x2060, 0x2064),
    (0x2066, 0x206F),
    (0x2800, 0x2800),
    (0x3164, 0x3164),
    (0xFE00, 0xFE0F),
    (0xFEFF, 0xFEFF),
    (0xFFA0, 0xFFA0),
    (0xFFF9, 0xFFFB),
    (0x110BD, 0x110BD),
    (0x110CD, 0x110CD),
    (0x13430, 0x13438),
    (0x1BCA0, 0x1BCA3),
    (0x1D173, 0x1D17A),
    (0xE0001, 0xE0001),
    (0xE0020, 0xE007F),
    (0xE0100, 0xE01EF),
)
INVISIBLE = re.compile(
    "["
    + "".join(
        re.escape(chr(low)) if low == high else f"{re.escape(chr(low))}-{re.escape(chr(high))}"
        for low, high in REMOVED_RANGES
    )
    + "]"
)


# Of those, the ones that separate words (vertical tab, form feed, information separators,
# NEL, line and paragraph separators) become a space, so 李\x0b四 stays two words.
SEPARATORS = re.compile("[\x0b\x0c\x1c-\x1f\x85\u2028\u2029]")


def strip_invisible(value: str) -> str:
    """`value` without its invisible and direction-changing characters (word-separating
    controls become a space)."""
    return INVISIBLE.sub("", SEPARATORS.sub(" ", value))


def text_filter(value: Any) -> Any:
    """A WTForms filter: strings cleaned, anything else (None, a list) as it came."""
    return strip_invisible(value) if isinstance(value, str) else value
