"""Uploaded photographs of drawings: checked, decoded once, re-encoded, never served raw.

An upload is refused before Pillow decodes a pixel unless it is at most 15 MB, starts
with the signature of a JPEG, PNG or HEIC file, opens with that format's plugin only
(no other Pillow plugin ever sees the bytes) and declares at most MAX_PIXELS (JPEG, which
decodes at a reduced scale) or MAX_PIXELS_DECODED (PNG, HEIC: decoded whole) pixels in
its header: a 30,000 × 30,000 PNG of 4 MB is refused from its header,
without allocating its 900 million pixels. What passes is decoded (JPEG through draft
mode, which decodes at a reduced scale), turned upright by its EXIF orientation and
written again as two fresh JPEGs (judging size and thumbnail) without any metadata: no
EXIF, no GPS, no camera serial. The upload itself is not kept.

Files live under the media folder (the instance folder's media/ or QUIZ_MEDIA_DIR, which
several hosts may share), named by a random key; the views serve them after a
permission check.
"""

from __future__ import annotations

import io
import os
import secrets
import warnings
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pillow_heif
from PIL import Image, ImageFile, ImageOps

from quiz.privacy.protection import private_dir

pillow_heif.register_heif_opener()
# A truncated file is an error, never a half-grey picture.
ImageFile.LOAD_TRUNCATED_IMAGES = False

MAX_BYTES = 15 * 1024 * 1024
# A 48-megapixel phone (8064 × 6048) fits; anything larger is refused from its header.
MAX_PIXELS = 50_000_000
MAX_PIXELS_DECODED = 24_000_000
MAX_SIDE = 12_000
JUDGING_SIDE = 1600
THUMB_SIDE = 360
JPEG_QUALITY = 85
FORMATS = ("JPEG", "PNG", "HEIF")
_HEIF_BRANDS = {b"heic", b"heix", b"hevc", b"hevx", b"heim", b"heis", b"mif1", b"msf1"}

TOO_LARGE = "照片不能超过 15 MB,请重新拍摄或压缩后再上传。"
NOT_AN_IMAGE = "只能上传 JPEG、PNG 或 HEIC 格式的照片(文件内容不是这几种图片)。"
BROKEN = "照片文件不完整或已损坏,请重新拍摄后上传。"
TOO_MANY_PIXELS = "照片尺寸过大(像素过多),请用手机正常拍摄后上传。"
EMPTY = "请选择要上传的作品照片。"


class ImageRefused(ValueError):
    """The upload is not an acceptable photograph; the message is for the uploader."""


@dataclass(frozen=True)
class Processed:
    """The two re-encoded JPEGs and the size the picture was decoded at (before turning)."""

    judging: bytes
    thumb: bytes
    width: int
    height: int


def read_limited(stream: BinaryIO, limit: int = MAX_BYTES) -> bytes:
    """Read at most `limit` bytes; one byte more means the file is too large."""
    data = stream.read(limit + 1)
    if len(data) > limit:
        raise ImageRefused(TOO_LARGE)
    if not data:
        raise ImageRefused(EMPTY)
    return data


def sniff(head: bytes) -> str | None:
    """The format the first bytes announce (JPEG, PNG, HEIF), or None."""
    if head.startswith(b"\xff\xd8\xff"):
        return "JPEG"
    if head.startswith(b"\x89PNG\r\n\x1a\n"):
        return "PNG"
    if head[4:8] == b"ftyp" and head[8:12] in _HEIF_BRANDS:
        return "HEIF"
    return None


def _open(data: bytes, fmt: str) -> Image.Image:
    # Pillow warns above MAX_IMAGE_PIXELS and raises above twice that: both are refusals
    # here, and our own, lower limit is checked right after from the header.
    with warnings.catch_warnings():
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        return Image.open(io.BytesIO(data), formats=[fmt])


def _check_header(image: Image.Image) -> None:
    width, height = image.size
    if width < 1 or height < 1:
        raise ImageRefused(BROKEN)
    # JPEG decodes at a reduced scale (draft); PNG and HEIC decode whole, so their limit is
    # lower: 24 MP is 72 MB of RGB, and the whole check stays well under 200 MB.
    limit = MAX_PIXELS if image.format == "JPEG" else MAX_PIXELS_DECODED
    if width * height > limit or max(width, height) > MAX_SIDE:
        raise ImageRefused(TOO_MANY_PIXELS)


def _encode(image: Image.Image, side: int) -> bytes:
    copy = image.copy()
    copy.thumbnail((side, side), Image.Resampling.LANCZOS)
    out = io.BytesIO()
    # No exif=, no icc_profile=: the new file carries pixels only.
    copy.save(out, "JPEG", quality=JPEG_QUALITY, optimize=True)
    return out.getvalue()


def process(data: bytes) -> Processed:
    """Check and re-encode an upload, or raise ImageRefused with a Chinese message."""
    if len(data) > MAX_BYTES:
        raise ImageRefused(TOO_LARGE)
    if not data:
        raise ImageRefused(EMPTY)
    fmt = sniff(data[:16])
    if fmt is None:
        raise ImageRefused(NOT_AN_IMAGE)
    try:
        # First pass: the header and a structural check, without decoding pixels.
        with _open(data, fmt) as probe:
            _check_header(probe)
            probe.verify()
        with _open(data, fmt) as image:
            _check_header(image)
            if fmt == "JPEG":
                # Decode at the smallest scale (1/2, 1/4, 1/8) still at least the judging
                # size; the box keeps the picture's shape, or a 4:3 photo stays at full size.
                width, height = image.size
                ratio = JUDGING_SIDE / max(width, height)
                image.draft("RGB", (max(1, int(width * ratio)), max(1, int(height * ratio))))
            image.load()
            small = _reduced(image)
            upright = ImageOps.exif_transpose(small)
            rgb = _flatten(upright)
    except ImageRefused:
        raise
    except (Image.DecompressionBombError, Image.DecompressionBombWarning):
        raise ImageRefused(TOO_MANY_PIXELS) from None
    except (OSError, SyntaxError, ValueError, EOFError, Image.UnidentifiedImageError):
        raise ImageRefused(BROKEN) from None
    width, height = rgb.size
    # Shrink in place first: the thumbnail then starts from the judging size, not the photo.
    rgb.thumbnail((JUDGING_SIDE, JUDGING_SIDE), Image.Resampling.LANCZOS)
    return Processed(_encode(rgb, JUDGING_SIDE), _encode(rgb, THUMB_SIDE), width, height)


def _reduced(image: Image.Image) -> Image.Image:
    """A box-reduced copy near the judging size, keeping the metadata exif_transpose reads:
    every later step (turning, flattening, resampling) then works on the small picture."""
    factor = max(image.size) // JUDGING_SIDE
    if factor < 2 or image.mode not in ("RGB", "RGBA", "L", "LA"):
        return image
    small = image.reduce(factor)
    small.info.update(image.info)
    return small


def _flatten(image: Image.Image) -> Image.Image:
    """RGB on white: a transparent PNG must not turn black as a JPEG."""
    if image.mode in ("RGBA", "LA") or (image.mode == "P" and "transparency" in image.info):
        rgba = image.convert("RGBA")
        background = Image.new("RGB", rgba.size, (255, 255, 255))
        background.paste(rgba, mask=rgba.getchannel("A"))
        return background
    return image.convert("RGB")


# --------------------------------------------------------------------------------------
# Storage
# --------------------------------------------------------------------------------------

SIZES = ("judging", "thumb")


class MediaStore:
    """Re-encoded pictures under one folder (mode 0700), named by a random key."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    def _path(self, key: str, size: str) -> Path:
        if size not in SIZES or not key.isalnum() or len(key) != 32:
            raise KeyError(key)
        return self.root / "artwork" / key[:2] / f"{key}-{size}.jpg"

    def save(self, processed: Processed) -> str:
        """Write both sizes; return the key naming them."""
        key = secrets.token_hex(16)
        for size, data in (("judging", processed.judging), ("thumb", processed.thumb)):
            path = self._path(key, size)
            private_dir(path.parent)
            partial = path.with_suffix(".part")
            partial.write_bytes(data)
            os.replace(partial, path)  # a reader on another host never sees half a file
        return key

    def path(self, key: str, size: str) -> Path:
        """Where one size of a stored picture is (KeyError for a malformed key or size)."""
        return self._path(key, size)

    def delete(self, key: str) -> int:
        """Remove both sizes of a picture (erasure); return how many files went."""
        removed = 0
        for size in SIZES:
            try:
                self._path(key, size).unlink()
                removed += 1
            except FileNotFoundError:
                pass
        return removed


# Form overhead on top of the picture itself (boundary, CSRF token, other fields).
UPLOAD_BODY_LIMIT = MAX_BYTES + 256 * 1024


def store_for(configured: str | None, instance_path: str) -> MediaStore:
    """The media folder: QUIZ_MEDIA_DIR (shared by several hosts) or instance/media."""
    return MediaStore(configured or Path(instance_path) / "media")
