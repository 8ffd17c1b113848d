"""Draw algorithm "v1": entrant file format, digest, seed derivation and the winner shuffle.

Everything here is pure standard-library code with no database or Flask dependency, so the
draw can be re-run by anyone from the published entrant file and randomness string.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass
from typing import BinaryIO, Final

ALGORITHM_VERSION: Final = "v1"

_U64_SPACE: Final = 1 << 64
_BOM: Final = b"\xef\xbb\xbf"
_HEX_DIGITS: Final = frozenset("0123456789abcdef")
# Characters that str.splitlines() treats as line breaks (plus TAB, our field separator):
# forbidden inside fields so that no verifier, however it splits lines, can misread the file.
_FORBIDDEN_FIELD_CHARS: Final = frozenset(
    "\t\n\r\x0b\x0c\x1c\x1d\x1e\x85\u2028\u2029",
)
_READ_CHUNK: Final = 1 << 20


class DrawError(ValueError):
    """A draw input (entrant file, randomness, counts, tiers) is invalid."""


@dataclass(frozen=True, slots=True)
class EntrantFileInfo:
    """Result of validating an entrant file: entrant count and SHA-256 digest (hex)."""

    n: int
    digest: str


# --------------------------------------------------------------------------------------
# Entrant file format
# --------------------------------------------------------------------------------------


def _field_problem(value: str) -> str | None:
    """Return why a masked field is not acceptable, or None if it is fine."""
    if not value:
        return "is empty"
    bad = _FORBIDDEN_FIELD_CHARS.intersection(value)
    if bad:
        return f"contains forbidden character(s) {sorted(bad)!r} (tab or line break)"
    try:
        value.encode("utf-8")
    except UnicodeEncodeError:
        # Lone surrogates cannot be written as UTF-8, so the digest would be undefined.
        return "is not encodable as UTF-8"
    return None


def entrant_line(entry_no: int, masked_name: str, masked_mobile: str) -> bytes:
    """Return one entrant line `{entry_no}\\t{masked_name}\\t{masked_mobile}\\n` as UTF-8."""
    if isinstance(entry_no, bool) or not isinstance(entry_no, int) or entry_no < 1:
        raise DrawError(f"entry_no must be a positive integer, got {entry_no!r}")
    for label, value in (("masked_name", masked_name), ("masked_mobile", masked_mobile)):
        if not isinstance(value, str):
            raise DrawError(f"{label} must be a str, got {type(value).__name__}")
        problem = _field_problem(value)
        if problem:
            raise DrawError(f"entry {entry_no}: {label} {problem}")
    return f"{entry_no}\t{masked_name}\t{masked_mobile}\n".encode()


class EntrantFileDigest:
    """Incrementally builds (and optionally writes) an entrant file while hashing it."""

    def __init__(self, sink: BinaryIO | None = None) -> None:
        """Start an empty file; every line is also written to `sink` when given."""
        self._hash = hashlib.sha256()
        self._sink = sink
        self._n = 0

    @property
    def n(self) -> int:
        """Number of entrants added so far."""
        return self._n

    def add(self, entry_no: int, masked_name: str, masked_mobile: str) -> bytes:
        """Append entrant `entry_no` (must be n + 1) and return the line bytes written."""
        expected = self._n + 1
        # Contiguous numbering is part of the format; catching gaps here beats a bad file.
        if entry_no != expected:
            raise DrawError(
                f"entry numbers must be contiguous: expected {expected}, got {entry_no!r}"
            )
        line = entrant_line(entry_no, masked_name, masked_mobile)
        self._hash.update(line)
        if self._sink is not None:
            self._sink.write(line)
        self._n = expected
        return line

    def hexdigest(self) -> str:
        """Lowercase hex SHA-256 of all lines added so far (the entrant digest)."""
        return self._hash.hexdigest()

    def info(self) -> EntrantFileInfo:
        """Snapshot of the entrant count and digest."""
        return EntrantFileInfo(n=self._n, digest=self.hexdigest())


def _iter_lines(fh: BinaryIO, on_chunk: Callable[[bytes], object]) -> Iterator[bytes]:
    """Yield LF-terminated lines (a final unterminated piece too), passing every chunk read."""
    pending = b""
    while chunk := fh.read(_READ_CHUNK):
        on_chunk(chunk)
        pending += chunk
        lines = pending.split(b"\n")
        pending = lines.pop()
        for line in lines:
            yield line + b"\n"
    if pending:
        yield pending


def read_entrant_file(path: str | os.PathLike[str]) -> EntrantFileInfo:
    """Strictly validate an entrant file and return its entrant count and digest."""
    hasher = hashlib.sha256()
    n = 0
    with open(path, "rb") as fh:
        for lineno, raw in enumerate(_iter_lines(fh, hasher.update), start=1):
            where = f"{os.fspath(path)}: line {lineno}"
            if lineno == 1 and raw.startswith(_BOM):
                raise DrawError(f"{where}: file starts with a UTF-8 BOM; BOMs are not allowed")
            if not raw.endswith(b"\n"):
                raise DrawError(f"{where}: last line is not terminated by LF")
            body = raw[:-1]
            if b"\r" in body:
                raise DrawError(f"{where}: contains CR; only LF line endings are allowed")
            try:
                text = body.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise DrawError(f"{where}: not valid UTF-8 ({exc.reason})") from None
            fields = text.split("\t")
            if len(fields) != 3:
                raise DrawError(f"{where}: expected 3 tab-separated fields, found {len(fields)}")
            number, masked_name, masked_mobile = fields
            expected = n + 1
            # Canonical decimal only ("7", never "07", "+7", " 7" or non-ASCII digits), so
            # one entrant list has exactly one byte representation and hence one digest.
            canonical = (
                0 < len(number) <= 20
                and number.isascii()
                and number.isdigit()
                and not number.startswith("0")
            )
            if not canonical:
                raise DrawError(f"{where}: entry number {number!r} is not a canonical integer")
            if int(number) != expected:
                raise DrawError(
                    f"{where}: entry number {number} out of sequence (expected {expected})"
                )
            for label, value in (("masked name", masked_name), ("masked mobile", masked_mobile)):
                problem = _field_problem(value)
                if problem:
                    raise DrawError(f"{where}: {label} {problem}")
            n = expected
    return EntrantFileInfo(n=n, digest=hasher.hexdigest())


# --------------------------------------------------------------------------------------
# Seed and random stream
# --------------------------------------------------------------------------------------


def derive_seed(entrant_digest_hex: str, randomness: str) -> bytes:
    """Return seed = SHA-256(utf8(entrant_digest_hex + "|" + randomness)), 32 bytes."""
    if (
        not isinstance(entrant_digest_hex, str)
        or len(entrant_digest_hex) != 64
        or not _HEX_DIGITS.issuperset(entrant_digest_hex)
    ):
        # Upper-case or short hex would silently produce a different seed, so refuse it.
        raise DrawError("entrant digest must be 64 lowercase hex characters (SHA-256)")
    if not isinstance(randomness, str) or randomness == "":
        raise DrawError("randomness string must be a non-empty str")
    # The randomness string is used exactly as given: no trimming, no Unicode normalisation.
    try:
        material = (entrant_digest_hex + "|" + randomness).encode("utf-8")
    except UnicodeEncodeError:
        raise DrawError("randomness string is not encodable as UTF-8") from None
    return hashlib.sha256(material).digest()


class RandomStream:
    """The v1 integer stream: SHA-256(seed || i) blocks split into four big-endian u64s."""

    def __init__(self, seed: bytes) -> None:
        """Start the stream at block 0 for a 32-byte seed."""
        if not isinstance(seed, bytes) or len(seed) != 32:
            raise DrawError("seed must be 32 bytes")
        self._seed = seed
        self._ints = self._generate()

    def _generate(self) -> Iterator[int]:
        """Yield the unbounded sequence of 64-bit integers."""
        block_index = 0
        while True:
            block = hashlib.sha256(self._seed + block_index.to_bytes(8, "big")).digest()
            for offset in (0, 8, 16, 24):
                yield int.from_bytes(block[offset : offset + 8], "big")
            block_index += 1

    def next_u64(self) -> int:
        """Return the next raw unsigned 64-bit integer."""
        return next(self._ints)

    def uniform(self, m: int) -> int:
        """Return an unbiased integer in [0, m) by rejection sampling."""
        if isinstance(m, bool) or not isinstance(m, int) or not 1 <= m <= _U64_SPACE:
            raise DrawError(f"uniform() bound must be in 1..2**64, got {m!r}")
        # Values at or above the largest multiple of m would bias the modulo; skip them.
        limit = _U64_SPACE - (_U64_SPACE % m)
        while True:
            x = self.next_u64()
            if x < limit:
                return x % m


# --------------------------------------------------------------------------------------
# Draw and prize tiers
# --------------------------------------------------------------------------------------


def _check_count(name: str, value: int, minimum: int) -> None:
    """Raise DrawError unless value is an int (not bool) >= minimum."""
    if isinstance(value, bool) or not isinstance(value, int):
        raise DrawError(f"{name} must be an integer, got {value!r}")
    if value < minimum:
        raise DrawError(f"{name} must be >= {minimum}, got {value}")


def draw_v1(entrant_digest_hex: str, randomness: str, n: int, k: int) -> list[int]:
    """Return the min(k, n) winning entry numbers (1-based), in draw order."""
    _check_count("number of prizes k", k, 0)
    _check_count("number of entrants n", n, 0)
    if n == 0:
        raise DrawError("cannot draw: the entrant file has no entrants (N = 0)")
    stream = RandomStream(derive_seed(entrant_digest_hex, randomness))
    # Sparse partial Fisher-Yates: `moved` holds only positions whose value differs from the
    # identity a[p] = p + 1, so memory is O(K) instead of O(N). Exactly equivalent to
    # swapping in a full list a = [1..N].
    moved: dict[int, int] = {}
    winners: list[int] = []
    for j in range(min(k, n)):
        t = j + stream.uniform(n - j)
        value_j = moved.pop(j, j + 1)  # position j is never read again after this step
        value_t = moved.get(t, t + 1) if t != j else value_j
        winners.append(value_t)
        if t != j:
            moved[t] = value_j
    return winners


def assign_tiers(winners: list[int], tiers: Sequence[tuple[str, int]]) -> list[tuple[int, str]]:
    """Pair winners with tier names, filling tiers in declared order; returns (entry_no, tier)."""
    seen_names: set[str] = set()
    total = 0
    for name, count in tiers:
        if not isinstance(name, str) or not name:
            raise DrawError(f"tier name must be a non-empty str, got {name!r}")
        if name in seen_names:
            raise DrawError(f"duplicate tier name {name!r}")
        seen_names.add(name)
        _check_count(f"count of tier {name!r}", count, 0)
        total += count
    if len(winners) > total:
        raise DrawError(f"{len(winners)} winners but the tiers only hold {total} prizes")
    if len(set(winners)) != len(winners):
        raise DrawError("winner list contains duplicate entry numbers")
    result: list[tuple[int, str]] = []
    remaining = iter(winners)
    for name, count in tiers:
        for _ in range(count):
            entry_no = next(remaining, None)
            if entry_no is None:
                return result  # fewer entrants than prizes: later tiers stay (partly) empty
            result.append((entry_no, name))
    return result
