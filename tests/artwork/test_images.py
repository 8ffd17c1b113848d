"""Photographs of drawings: hostile uploads are refused in Chinese, good ones re-encoded bare."""

from __future__ import annotations

import io
import subprocess
import sys
import textwrap
from pathlib import Path

import pillow_heif
import pytest
from PIL import Image

from quiz.artwork import images
from quiz.artwork.images import ImageRefused, MediaStore, process, read_limited
from tests.artwork.pictures import HTML, SVG, jpeg_with_gps, png_bomb, zip_file

ROOT = Path(__file__).resolve().parents[2]


def _refused(data: bytes) -> str:
    with pytest.raises(ImageRefused) as caught:
        process(data)
    return str(caught.value)


def test_a_phone_jpeg_loses_its_exif_and_gps_and_is_turned_upright() -> None:
    original = jpeg_with_gps((1200, 900), orientation=6)  # 6: rotate 90° to show
    assert b"PhoneMaker" in original
    assert Image.open(io.BytesIO(original)).getexif().get_ifd(images_gps()) != {}

    result = process(original)

    for data, side in ((result.judging, 1200), (result.thumb, images.THUMB_SIDE)):
        served = Image.open(io.BytesIO(data))
        assert served.format == "JPEG"
        assert "exif" not in served.info
        assert dict(served.getexif()) == {}
        assert b"PhoneMaker" not in data
        # Orientation 6 was applied: the landscape photograph is now portrait.
        assert served.height == side and served.width < served.height
    assert (result.width, result.height) == (900, 1200)


def images_gps() -> int:
    return 0x8825


def test_a_large_photograph_is_scaled_to_the_judging_size() -> None:
    result = process(jpeg_with_gps((4000, 3000)))
    judging = Image.open(io.BytesIO(result.judging))
    assert max(judging.size) == images.JUDGING_SIDE


def test_a_transparent_png_becomes_white_not_black() -> None:
    picture = Image.new("RGBA", (50, 50), (0, 0, 0, 0))
    out = io.BytesIO()
    picture.save(out, "PNG")
    judging = Image.open(io.BytesIO(process(out.getvalue()).judging))
    assert judging.getpixel((25, 25)) >= (250, 250, 250)


def test_a_heic_photograph_is_accepted() -> None:
    heif = pillow_heif.from_pillow(Image.new("RGB", (640, 480), (10, 120, 60)))
    out = io.BytesIO()
    heif.save(out, quality=70)
    result = process(out.getvalue())
    assert Image.open(io.BytesIO(result.judging)).size == (640, 480)


@pytest.mark.parametrize(
    "data",
    [HTML, SVG, zip_file(), b"GIF89a" + b"\x00" * 64, b"%PDF-1.4 \n"],
    ids=["html-renamed-jpg", "svg-renamed-jpg", "zip", "gif", "pdf"],
)
def test_files_that_are_not_photographs_are_refused(data: bytes) -> None:
    assert _refused(data) == images.NOT_AN_IMAGE


def test_a_truncated_jpeg_is_refused() -> None:
    whole = jpeg_with_gps((800, 600))
    assert _refused(whole[: len(whole) // 2]) == images.BROKEN


def test_a_jpeg_signature_with_garbage_after_it_is_refused() -> None:
    assert _refused(b"\xff\xd8\xff\xe0" + b"<html>" * 100) == images.BROKEN


def test_a_50_mb_upload_is_refused_after_reading_15_mb_and_one_byte() -> None:
    stream = io.BytesIO(b"\xff\xd8\xff" + b"\x00" * (50 * 1024 * 1024))
    with pytest.raises(ImageRefused) as caught:
        read_limited(stream)
    assert str(caught.value) == images.TOO_LARGE
    assert stream.tell() == images.MAX_BYTES + 1
    with pytest.raises(ImageRefused):
        read_limited(io.BytesIO(b""))


def test_a_30000_square_png_is_refused_from_its_header_within_200_mb(tmp_path: Path) -> None:
    bomb = tmp_path / "bomb.png"
    bomb.write_bytes(png_bomb(30_000))
    # Measured in a fresh interpreter: the peak resident memory of the whole process.
    script = textwrap.dedent(
        f"""
        import re, sys
        from quiz.artwork.images import ImageRefused, process
        data = open({str(bomb)!r}, "rb").read()
        try:
            process(data)
        except ImageRefused as exc:
            print("refused", exc)
        # VmHWM: this interpreter's peak (ru_maxrss would count the forking parent's).
        status = open("/proc/self/status").read()
        print("maxrss_kb", re.search(r"VmHWM:\\s+(\\d+)", status)[1])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    assert lines["refused"] == images.TOO_MANY_PIXELS
    assert int(lines["maxrss_kb"]) < 200 * 1024, done.stdout


def _peak_kb(path: Path) -> tuple[str, int]:
    """Process a file in a fresh interpreter: (outcome, peak resident memory in kB)."""
    script = textwrap.dedent(
        f"""
        import re
        from quiz.artwork.images import ImageRefused, process
        data = open({str(path)!r}, "rb").read()
        try:
            process(data)
            print("outcome accepted")
        except ImageRefused as exc:
            print("outcome", exc)
        # VmHWM: this interpreter's peak (ru_maxrss would count the forking parent's).
        status = open("/proc/self/status").read()
        print("peak", re.search(r"VmHWM:\\s+(\\d+)", status)[1])
        """
    )
    done = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, cwd=ROOT, check=True
    )
    lines = dict(line.split(" ", 1) for line in done.stdout.splitlines())
    return lines["outcome"], int(lines["peak"])


@pytest.mark.slow  # about 4 s: a 23.5-megapixel PNG is decoded whole
def test_the_largest_accepted_png_stays_under_200_mb(tmp_path: Path) -> None:
    big = tmp_path / "big.png"
    Image.new("RGB", (5600, 4200), (10, 200, 30)).save(big)
    outcome, peak = _peak_kb(big)
    assert outcome == "accepted"
    assert peak < 200 * 1024, peak


def test_just_over_the_pixel_limit_is_refused_before_decoding() -> None:
    # 8000 × 6300 = 50.4 MP: under Pillow's own bomb limit, over ours (a JPEG's, too).
    assert _refused(png_bomb_header(8000, 6300)) == images.TOO_MANY_PIXELS
    # 5000 × 5000 = 25 MP: a JPEG may be that large (decoded at half scale), a PNG not.
    assert _refused(png_bomb_header(5000, 5000)) == images.TOO_MANY_PIXELS


def png_bomb_header(width: int, height: int) -> bytes:
    import struct
    import zlib

    def chunk(kind: bytes, body: bytes) -> bytes:
        return (
            struct.pack(">I", len(body))
            + kind
            + body
            + struct.pack(">I", zlib.crc32(kind + body) & 0xFFFFFFFF)
        )

    ihdr = struct.pack(">IIBBBBB", width, height, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0"))


def test_the_store_writes_both_sizes_and_erases_them(tmp_path: Path) -> None:
    store = MediaStore(tmp_path / "media")
    key = store.save(process(jpeg_with_gps((600, 400))))
    judging, thumb = store.path(key, "judging"), store.path(key, "thumb")
    assert judging.read_bytes()[:3] == b"\xff\xd8\xff" and thumb.exists()
    assert judging.parent.stat().st_mode & 0o077 == 0
    with pytest.raises(KeyError):
        store.path("../../etc/passwd", "judging")
    assert store.delete(key) == 2
    assert not judging.exists() and not thumb.exists()
