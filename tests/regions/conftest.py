"""Under the mutation check only: every test builds the parser's alias index itself.

The index is cached per process. mutmut records which tests reach a function while
running them all in one process, so only the first test would be recorded as reaching
the index builders (`_index`, `_short_forms`), and only that test would be run against
their mutants.
"""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest

from quiz.regions import parser


@pytest.fixture(autouse=True)
def _fresh_alias_index_under_mutmut() -> Iterator[None]:
    if "MUTANT_UNDER_TEST" in os.environ:
        parser._index.cache_clear()
    yield
