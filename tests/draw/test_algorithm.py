"""Tests for the v1 draw algorithm against an independent, literal reference implementation."""

from __future__ import annotations

import hashlib
import struct
import time
import tracemalloc
import unicodedata
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from quiz.draw import algorithm
from quiz.draw.algorithm import (
    ALGORITHM_VERSION,
    DrawError,
    EntrantFileDigest,
    EntrantFileInfo,
    RandomStream,
    assign_tiers,
    derive_seed,
    draw_v1,
    entrant_line,
    read_entrant_file,
)

# ---------------------------------------------------------------------------------------
# Independent reference: a literal reading of the spec, sharing no code with production.
# ---------------------------------------------------------------------------------------


def ref_ints(seed: bytes) -> Iterator[int]:
    """Yield the four big-endian u64s of SHA-256(seed || i) for i = 0, 1, 2, ..."""
    i = 0
    while True:
        block = hashlib.sha256(seed + struct.pack(">Q", i)).digest()
        yield from struct.unpack(">4Q", block)
        i += 1


def ref_uniform(m: int, ints: Iterator[int]) -> int:
    """Rejection-sample an integer in [0, m) from the stream."""
    while True:
        x = next(ints)
        if x >= 2**64 - (2**64 % m):
            continue
        return x % m


def ref_draw(digest_hex: str, randomness: str, n: int, k: int) -> list[int]:
    """Full-list partial Fisher-Yates over a = [1..N]."""
    seed = hashlib.sha256((digest_hex + "|" + randomness).encode("utf-8")).digest()
    ints = ref_ints(seed)
    a = list(range(1, n + 1))
    count = min(k, n)
    for j in range(count):
        r = ref_uniform(n - j, ints)
        a[j], a[j + r] = a[j + r], a[j]
    return a[:count]


# ---------------------------------------------------------------------------------------
# Fixtures and constants
# ---------------------------------------------------------------------------------------

EMPTY_SHA256 = "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
EXAMPLE_RANDOMNESS = "2026-10-09 福利彩票双色球 03 07 12 19 25 31 + 09"
EXAMPLE_NAMES = [
    "张*三",
    "李*四",
    "王*五",
    "赵*六",
    "钱*七",
    "孙*八",
    "周*九",
    "吴*十",
    "郑*明",
    "冯*华",
]
EXAMPLE_FILE = "".join(
    f"{i}\t{name}\t138****{i:04d}\n" for i, name in enumerate(EXAMPLE_NAMES, start=1)
).encode("utf-8")
EXAMPLE_DIGEST = "67db7a6e5e768e926f7f0fcadf6d2411826e7c298be3cd5038deb95b1b404765"
EXAMPLE_SEED = "16437164c4146fa554adc7a2ed8a02da8f79b8c46cd02ba24a024c1f9cda4cef"
EXAMPLE_WINNERS = [10, 4, 3]

digests = st.binary(min_size=32, max_size=32).map(lambda b: b.hex())


def write(tmp_path: Path, data: bytes, name: str = "entrants.tsv") -> Path:
    """Write raw bytes to a file under tmp_path and return its path."""
    path = tmp_path / name
    path.write_bytes(data)
    return path


# ---------------------------------------------------------------------------------------
# Equivalence with the reference
# ---------------------------------------------------------------------------------------


@st.composite
def draw_params(draw: st.DrawFn) -> tuple[str, str, int, int]:
    """Generate (digest, randomness, N, K) with N in 1..2000 and K in 0..N+5."""
    n = draw(st.integers(min_value=1, max_value=2000))
    k = draw(st.integers(min_value=0, max_value=n + 5))
    return draw(digests), draw(st.text(min_size=1)), n, k


@settings(max_examples=200, deadline=None)
@given(draw_params())
def test_draw_matches_reference(params: tuple[str, str, int, int]) -> None:
    """The sparse production draw equals the full-list reference for any input."""
    digest, randomness, n, k = params
    winners = draw_v1(digest, randomness, n, k)
    assert winners == ref_draw(digest, randomness, n, k)
    assert len(winners) == min(k, n)
    assert len(set(winners)) == len(winners)
    assert all(1 <= w <= n for w in winners)


@settings(max_examples=200, deadline=None)
@given(
    st.binary(min_size=32, max_size=32),
    st.lists(
        st.one_of(
            st.integers(min_value=1, max_value=50),
            # Bounds near 2**63..2**64 reject up to ~half of all draws, exercising rejection.
            st.integers(min_value=2**63 - 5, max_value=2**64),
        ),
        min_size=1,
        max_size=30,
    ),
)
def test_uniform_matches_reference(seed: bytes, bounds: list[int]) -> None:
    """RandomStream.uniform consumes the stream exactly like the reference, rejections included."""
    stream = RandomStream(seed)
    ints = ref_ints(seed)
    for m in bounds:
        assert stream.uniform(m) == ref_uniform(m, ints)
    assert stream.next_u64() == next(ints)  # both consumed the same number of integers


def test_uniform_rejection_known_answer() -> None:
    """With m = 2**63 + 1 the first two integers of this seed are rejected, the third is used."""
    seed = hashlib.sha256(b"rejection-23").digest()
    m = 2**63 + 1
    limit = 2**64 - (2**64 % m)
    assert limit == 2**63 + 1
    raw = RandomStream(seed)
    first = [raw.next_u64() for _ in range(4)]
    assert first == [
        0xBD479D82700DFFD6,
        0xDD48BE6412049DCC,
        0x27B8491CB072B7A8,
        0x20AFC77B55D2192B,
    ]
    assert first[0] >= limit and first[1] >= limit and first[2] < limit
    stream = RandomStream(seed)
    assert stream.uniform(m) == 0x27B8491CB072B7A8  # two rejections, then accepted
    assert stream.uniform(m) == 0x20AFC77B55D2192B  # stream continues after the accepted one


def test_stream_block_layout() -> None:
    """Block 0's four integers come first, then block 1's, all big-endian."""
    seed = bytes(range(32))
    stream = RandomStream(seed)
    got = [stream.next_u64() for _ in range(8)]
    blocks = (
        hashlib.sha256(seed + bytes(8)).digest()
        + hashlib.sha256(seed + b"\x00" * 7 + b"\x01").digest()
    )
    assert got == [int.from_bytes(blocks[i : i + 8], "big") for i in range(0, 64, 8)]


def test_uniform_rejects_bad_bounds() -> None:
    """uniform() refuses bounds outside 1..2**64."""
    stream = RandomStream(bytes(32))
    for bad in (0, -1, 2**64 + 1, True):
        with pytest.raises(DrawError):
            stream.uniform(bad)
    assert stream.uniform(1) == 0


# ---------------------------------------------------------------------------------------
# Known answers (computed once with ref_draw, hardcoded)
# ---------------------------------------------------------------------------------------


def test_version() -> None:
    """The algorithm identifier is stable."""
    assert ALGORITHM_VERSION == "v1"


def test_known_answer_small() -> None:
    """Fixed inputs give fixed winners."""
    assert draw_v1(EMPTY_SHA256, "test", 100, 10) == [22, 40, 59, 82, 78, 7, 79, 18, 19, 39]


def test_known_answer_everyone_wins() -> None:
    """N < K: all N entrants win, in shuffled order."""
    assert draw_v1(EMPTY_SHA256, "test", 5, 8) == [2, 5, 4, 3, 1]


def test_known_answer_large() -> None:
    """N = 5,000,000 and K = 8,888: spot values and a digest of the full winner list."""
    digest = hashlib.sha256(b"benchmark").hexdigest()
    winners = draw_v1(digest, EXAMPLE_RANDOMNESS, 5_000_000, 8888)
    assert len(winners) == 8888 and len(set(winners)) == 8888
    assert winners[:10] == [
        1437010,
        3170995,
        1706691,
        2158393,
        2961618,
        734446,
        433785,
        2165850,
        700880,
        3551877,
    ]
    assert winners[-5:] == [2788349, 4738359, 4775732, 3759731, 767167]
    joined = "\n".join(map(str, winners)).encode()
    assert (
        hashlib.sha256(joined).hexdigest()
        == "ab4cf175cb2e075a83b7dd00a39f468e4a32abdb2b2ccba9498a71b930797e13"
    )


def test_worked_example(tmp_path: Path) -> None:
    """The README worked example: N = 10, K = 3."""
    path = write(tmp_path, EXAMPLE_FILE)
    info = read_entrant_file(path)
    assert info == EntrantFileInfo(n=10, digest=EXAMPLE_DIGEST)
    assert hashlib.sha256(EXAMPLE_FILE).hexdigest() == EXAMPLE_DIGEST
    assert derive_seed(info.digest, EXAMPLE_RANDOMNESS).hex() == EXAMPLE_SEED
    assert draw_v1(info.digest, EXAMPLE_RANDOMNESS, info.n, 3) == EXAMPLE_WINNERS
    assert ref_draw(info.digest, EXAMPLE_RANDOMNESS, info.n, 3) == EXAMPLE_WINNERS
    assert draw_v1(info.digest, EXAMPLE_RANDOMNESS, 10, 10) == [10, 4, 3, 5, 1, 7, 6, 8, 2, 9]


def test_readme_section_numbers_match() -> None:
    """The README section quotes the same digest, seed and winners as these tests."""
    text = (Path(algorithm.__file__).parent / "README_SECTION.md").read_text("utf-8")
    assert EXAMPLE_DIGEST in text
    assert EXAMPLE_SEED in text
    assert EXAMPLE_RANDOMNESS in text
    assert EXAMPLE_FILE.decode().replace("\t", "→") in text  # the README shows TAB as →
    assert f"entries **{', '.join(map(str, EXAMPLE_WINNERS))}**" in text


# ---------------------------------------------------------------------------------------
# draw_v1 edge cases
# ---------------------------------------------------------------------------------------


def test_n_zero_refused() -> None:
    """An empty entrant list is refused with a clear error."""
    with pytest.raises(DrawError, match="no entrants"):
        draw_v1(EMPTY_SHA256, "x", 0, 8888)


@pytest.mark.parametrize(("n", "k"), [(-1, 1), (1, -1), (True, 1), (1, 1.0), ("3", 1)])
def test_bad_counts_refused(n: object, k: object) -> None:
    """Negative or non-integer N/K are refused."""
    with pytest.raises(DrawError):
        draw_v1(EMPTY_SHA256, "x", n, k)  # type: ignore[arg-type]


def test_k_zero_gives_no_winners() -> None:
    """K = 0 is a valid (empty) draw."""
    assert draw_v1(EMPTY_SHA256, "x", 10, 0) == []


@pytest.mark.parametrize("digest", ["", EMPTY_SHA256.upper(), EMPTY_SHA256[:-1], "g" * 64])
def test_bad_digest_refused(digest: str) -> None:
    """Only 64 lowercase hex characters are accepted as the entrant digest."""
    with pytest.raises(DrawError, match="lowercase hex"):
        draw_v1(digest, "x", 10, 3)


def test_bad_randomness_refused() -> None:
    """Empty or non-UTF-8-encodable randomness strings are refused."""
    with pytest.raises(DrawError, match="non-empty"):
        draw_v1(EMPTY_SHA256, "", 10, 3)
    with pytest.raises(DrawError, match="UTF-8"):
        draw_v1(EMPTY_SHA256, "lone \ud800 surrogate", 10, 3)


def test_randomness_used_verbatim() -> None:
    """No trimming and no Unicode normalisation: visually equal strings may differ."""
    base = draw_v1(EMPTY_SHA256, "Café 03", 1000, 20)
    assert draw_v1(EMPTY_SHA256, "Café 03 ", 1000, 20) != base
    assert draw_v1(EMPTY_SHA256, " Café 03", 1000, 20) != base
    nfd = unicodedata.normalize("NFD", "Café 03")
    assert nfd != "Café 03"
    assert draw_v1(EMPTY_SHA256, nfd, 1000, 20) == ref_draw(EMPTY_SHA256, nfd, 1000, 20)
    assert draw_v1(EMPTY_SHA256, nfd, 1000, 20) != base


def test_seed_formula() -> None:
    """seed = SHA-256(utf8(digest + '|' + randomness))."""
    expected = hashlib.sha256(f"{EMPTY_SHA256}|福 09".encode()).digest()
    assert derive_seed(EMPTY_SHA256, "福 09") == expected


@pytest.mark.slow  # a wall-clock budget: meaningful only on an unloaded machine
def test_large_draw_is_fast_and_small() -> None:
    """N = 5,000,000 / K = 8,888 runs quickly without materialising N integers."""
    digest = hashlib.sha256(b"perf").hexdigest()
    tracemalloc.start()
    try:
        started = time.perf_counter()
        winners = draw_v1(digest, "perf", 5_000_000, 8888)
        elapsed = time.perf_counter() - started
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(winners) == 8888
    assert elapsed < 5.0  # generous for slow CI; typically ~0.02 s under tracemalloc
    assert peak < 8 * 1024 * 1024  # a full list of 5M ints would need > 150 MiB


# ---------------------------------------------------------------------------------------
# assign_tiers
# ---------------------------------------------------------------------------------------


def test_assign_tiers_in_declared_order() -> None:
    """First tier's count is filled first."""
    got = assign_tiers([5, 9, 1, 7], [("一等奖", 1), ("二等奖", 2), ("三等奖", 1)])
    assert got == [(5, "一等奖"), (9, "二等奖"), (1, "二等奖"), (7, "三等奖")]


def test_assign_tiers_fewer_winners_than_prizes() -> None:
    """N < K: tiers are filled in order until the winners run out."""
    got = assign_tiers([3, 1, 2], [("一等奖", 2), ("二等奖", 5), ("三等奖", 10)])
    assert got == [(3, "一等奖"), (1, "一等奖"), (2, "二等奖")]


def test_assign_tiers_zero_count_tier() -> None:
    """A tier with zero prizes is skipped."""
    assert assign_tiers([4, 2], [("a", 0), ("b", 1), ("c", 1)]) == [(4, "b"), (2, "c")]


@pytest.mark.parametrize(
    ("winners", "tiers"),
    [
        ([1, 2, 3], [("a", 2)]),  # more winners than prizes
        ([1, 1], [("a", 2)]),  # duplicate winners
        ([1], [("a", 1), ("a", 1)]),  # duplicate tier names
        ([1], [("", 1)]),  # empty tier name
        ([1], [("a", -1), ("b", 2)]),  # negative count
    ],
)
def test_assign_tiers_errors(winners: list[int], tiers: list[tuple[str, int]]) -> None:
    """Inconsistent tiers or winner lists are refused."""
    with pytest.raises(DrawError):
        assign_tiers(winners, tiers)


def test_end_to_end_tiers() -> None:
    """Draw K = total prizes and map them to tiers."""
    tiers = [("一等奖", 1), ("二等奖", 2)]
    winners = draw_v1(EXAMPLE_DIGEST, EXAMPLE_RANDOMNESS, 10, sum(c for _, c in tiers))
    assert assign_tiers(winners, tiers) == [(10, "一等奖"), (4, "二等奖"), (3, "二等奖")]


# ---------------------------------------------------------------------------------------
# Entrant lines, incremental digest, file validation
# ---------------------------------------------------------------------------------------


def test_entrant_line_bytes() -> None:
    """Lines are UTF-8 with tab separators and a trailing LF."""
    assert entrant_line(7, "张*三", "138****1234") == "7\t张*三\t138****1234\n".encode()


@pytest.mark.parametrize(
    ("entry_no", "name", "mobile"),
    [
        (1, "张\t三", "138****1234"),
        (1, "张*三", "138****1234\n"),
        (1, "张*三\r", "138****1234"),
        (1, "张\u2028三", "138****1234"),
        (1, "", "138****1234"),
        (1, "张*三", ""),
        (1, "\udc80", "138****1234"),
        (0, "张*三", "138****1234"),
        (-3, "张*三", "138****1234"),
        (True, "张*三", "138****1234"),
    ],
)
def test_entrant_line_rejects(entry_no: int, name: str, mobile: str) -> None:
    """Tabs, line breaks, empty fields and non-positive numbers are refused."""
    with pytest.raises(DrawError):
        entrant_line(entry_no, name, mobile)


def test_entrant_file_digest_streams(tmp_path: Path) -> None:
    """The incremental digest equals the digest of the written file."""
    path = tmp_path / "out.tsv"
    with path.open("wb") as fh:
        builder = EntrantFileDigest(fh)
        for i, name in enumerate(EXAMPLE_NAMES, start=1):
            builder.add(i, name, f"138****{i:04d}")
    assert builder.n == 10
    assert builder.hexdigest() == EXAMPLE_DIGEST
    assert builder.info() == EntrantFileInfo(10, EXAMPLE_DIGEST)
    assert path.read_bytes() == EXAMPLE_FILE
    assert read_entrant_file(path) == builder.info()


def test_entrant_file_digest_without_sink() -> None:
    """Hash-only mode; numbering must be contiguous."""
    builder = EntrantFileDigest()
    assert builder.hexdigest() == EMPTY_SHA256
    builder.add(1, "张*三", "138****0001")
    with pytest.raises(DrawError, match="contiguous"):
        builder.add(3, "李*四", "138****0002")
    assert builder.n == 1


def test_read_empty_file(tmp_path: Path) -> None:
    """An empty file is well-formed with N = 0 (the draw itself then refuses it)."""
    assert read_entrant_file(write(tmp_path, b"")) == EntrantFileInfo(0, EMPTY_SHA256)


def test_read_across_chunk_boundaries(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Lines and multi-byte characters split across read chunks are handled."""
    monkeypatch.setattr(algorithm, "_READ_CHUNK", 5)
    assert read_entrant_file(write(tmp_path, EXAMPLE_FILE)) == EntrantFileInfo(10, EXAMPLE_DIGEST)


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b"\xef\xbb\xbf" + EXAMPLE_FILE, r"line 1: .*BOM"),
        (EXAMPLE_FILE[:-1], r"line 10: .*not terminated by LF"),
        (EXAMPLE_FILE.replace(b"\n", b"\r\n"), r"line 1: .*CR"),
        (EXAMPLE_FILE + b"11\t\xe5\xbc\xa0*\r\t138****0011\n", r"line 11: .*CR"),
        (EXAMPLE_FILE + b"11\t\xff\t138****0011\n", r"line 11: not valid UTF-8"),
        (EXAMPLE_FILE + b"11\tx\n", r"line 11: expected 3 tab-separated fields, found 2"),
        (EXAMPLE_FILE + b"11\tx\ty\tz\n", r"line 11: expected 3 .* found 4"),
        (EXAMPLE_FILE + b"\n", r"line 11: expected 3 .* found 1"),
        (EXAMPLE_FILE + b"12\tx\ty\n", r"line 11: .*out of sequence \(expected 11\)"),
        (EXAMPLE_FILE + b"10\tx\ty\n", r"line 11: .*out of sequence"),
        (b"0\tx\ty\n", r"line 1: .*not a canonical"),
        (b"2\tx\ty\n", r"line 1: .*out of sequence \(expected 1\)"),
        (b"01\tx\ty\n", r"line 1: .*not a canonical"),
        (b"+1\tx\ty\n", r"line 1: .*not a canonical"),
        (b" 1\tx\ty\n", r"line 1: .*not a canonical"),
        ("１\tx\ty\n".encode(), r"line 1: .*not a canonical"),
        (b"9" * 5000 + b"\tx\ty\n", r"line 1: .*not a canonical"),
        (b"1\t\ty\n", r"line 1: masked name is empty"),
        (b"1\tx\t\n", r"line 1: masked mobile is empty"),
        ("1\tx\u2028y\tz\n".encode(), r"line 1: masked name contains forbidden"),
        ("1\tx\ty\x85\n".encode(), r"line 1: masked mobile contains forbidden"),
    ],
)
def test_read_entrant_file_errors(tmp_path: Path, data: bytes, message: str) -> None:
    """Every format violation is reported with its line number."""
    path = write(tmp_path, data)
    with pytest.raises(DrawError, match=message) as excinfo:
        read_entrant_file(path)
    assert str(path) in str(excinfo.value)


def test_missing_file(tmp_path: Path) -> None:
    """A missing file surfaces as the usual OSError, not a DrawError."""
    with pytest.raises(FileNotFoundError):
        read_entrant_file(tmp_path / "nope.tsv")


# The operator reads these messages in `quiz draw` output: each is pinned in full.

DIGEST = "a" * 64


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: entrant_line(0, "张*", "138****1234"),
            "entry_no must be a positive integer, got 0",
        ),
        (lambda: entrant_line(1, None, "x"), "masked_name must be a str, got NoneType"),
        (lambda: entrant_line(1, "x", 5), "masked_mobile must be a str, got int"),
        (lambda: entrant_line(2, "", "x"), "entry 2: masked_name is empty"),
        (
            lambda: entrant_line(3, "x", "a\tb"),
            "entry 3: masked_mobile contains forbidden character(s) ['\\t'] (tab or line break)",
        ),
        (lambda: entrant_line(4, "\ud800", "x"), "entry 4: masked_name is not encodable as UTF-8"),
        (
            lambda: derive_seed("A" * 64, "r"),
            "entrant digest must be 64 lowercase hex characters (SHA-256)",
        ),
        (lambda: derive_seed(DIGEST, ""), "randomness string must be a non-empty str"),
        (lambda: derive_seed(DIGEST, "\udc00"), "randomness string is not encodable as UTF-8"),
        (lambda: RandomStream(b"x" * 31), "seed must be 32 bytes"),
        (lambda: RandomStream("x" * 32), "seed must be 32 bytes"),
        (lambda: RandomStream(b"x" * 32).uniform(0), "uniform() bound must be in 1..2**64, got 0"),
        (lambda: draw_v1(DIGEST, "r", 5, -1), "number of prizes k must be >= 0, got -1"),
        (lambda: draw_v1(DIGEST, "r", 5, True), "number of prizes k must be an integer, got True"),
        (lambda: draw_v1(DIGEST, "r", -1, 3), "number of entrants n must be >= 0, got -1"),
        (
            lambda: draw_v1(DIGEST, "r", 0, 3),
            "cannot draw: the entrant file has no entrants (N = 0)",
        ),
        (lambda: assign_tiers([1], [("", 1)]), "tier name must be a non-empty str, got ''"),
        (lambda: assign_tiers([1], [("一等奖", 1), ("一等奖", 1)]), "duplicate tier name '一等奖'"),
        (
            lambda: assign_tiers([1], [("一等奖", -1)]),
            "count of tier '一等奖' must be >= 0, got -1",
        ),
        (
            lambda: assign_tiers([1, 2], [("一等奖", 1)]),
            "2 winners but the tiers only hold 1 prizes",
        ),
        (
            lambda: assign_tiers([1, 1], [("一等奖", 2)]),
            "winner list contains duplicate entry numbers",
        ),
    ],
)
def test_error_messages_in_full(call, message):
    with pytest.raises(DrawError) as refused:
        call()
    assert str(refused.value) == message


class _Scripted(RandomStream):
    """A stream that returns given raw values, to hit the rejection boundary exactly."""

    def __init__(self, values: list[int]) -> None:
        super().__init__(b"\0" * 32)
        self._values = iter(values)

    def next_u64(self) -> int:
        return next(self._values)


def test_uniform_rejects_exactly_the_values_at_or_above_the_last_multiple():
    m = 3
    limit = 2**64 - (2**64 % m)
    assert _Scripted([limit, 7]).uniform(m) == 7 % m  # limit itself would bias: skipped
    assert _Scripted([limit - 1]).uniform(m) == (limit - 1) % m
    assert _Scripted([2**64 - 1, 4]).uniform(m) == 1  # 2**64 - 1 is the limit for m = 3


def test_stream_blocks_are_big_endian():
    seed = bytes(range(32))
    block = hashlib.sha256(seed + (0).to_bytes(8, "big")).digest()
    stream = RandomStream(seed)
    assert [stream.next_u64() for _ in range(4)] == [
        int.from_bytes(block[i : i + 8], "big") for i in (0, 8, 16, 24)
    ]
    second = hashlib.sha256(seed + (1).to_bytes(8, "big")).digest()
    assert stream.next_u64() == int.from_bytes(second[:8], "big")


@pytest.mark.parametrize(
    ("number", "ok"), [("1" + "0" * 19, True), ("1" + "0" * 20, False), ("", False)]
)
def test_entry_numbers_up_to_20_digits(tmp_path, monkeypatch, number, ok):
    # A file whose only line carries this number: only "1" is in sequence, so a canonical
    # but out-of-sequence number says so, and a non-canonical one says that instead.
    path = tmp_path / "entrants.tsv"
    path.write_bytes(f"{number}\t张*\t138****1234\n".encode())
    with pytest.raises(DrawError) as refused:
        read_entrant_file(path)
    reason = "out of sequence" if ok else "is not a canonical integer"
    assert reason in str(refused.value)
