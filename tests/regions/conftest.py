"""Under the mutation check only: every test builds the parser's alias index itself.

The index is cached per process. mutmut records which tests reach a function while
running them all in one process, so only the first test would be recorded as reaching
the index builders (`_index`, `_short_forms`), and only that test would be run against
their mutants. Each mutant then runs in a fresh process, which builds it once.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from quiz.regions import parser


@pytest.fixture(autouse=True)
def _fresh_alias_index_under_mutmut() -> Iterator[None]:
    if os.environ.get("MUTANT_UNDER_TEST") == "stats":  # each mutant runs in a fresh process
        parser._index.cache_clear()
    yield
