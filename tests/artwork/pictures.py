"""Test pictures built on the spot: a phone-like JPEG with GPS EXIF, hostile files."""

from __future__ import annotations

import io
import struct
import zlib

from PIL import Image

GPS_IFD = 0x8825


def jpeg_with_gps(size: tuple[int, int] = (1200, 900), orientation: int = 1) -> bytes:
    """A JPEG as a phone writes it: camera make, orientation and a GPS position."""
    image = Image.new("RGB", size, (200, 60, 40))
    for x in range(0, size[0], 40):  # some content, so re-encoding has work to do
        image.paste((30, 90, 200), (x, 0, x + 20, size[1]))
    exif = Image.Exif()
    exif[0x010F] = "PhoneMaker"  # Make
    exif[0x0112] = orientation
    gps = exif.get_ifd(GPS_IFD)
    gps[1] = "N"
    gps[2] = (39.0, 54.0, 26.0)
    gps[3] = "E"
    gps[4] = (116.0, 23.0, 29.0)
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=90)
    return out.getvalue()


def png_bomb(side: int = 30_000) -> bytes:
    """A valid grayscale PNG of side × side black pixels: under a megabyte on disk."""
    row = b"\x00" * (side + 1)  # filter byte + pixels
    compressor = zlib.compressobj(1)
    block = row * 1000
    chunks = [compressor.compress(block) for _ in range(side // 1000)]
    chunks.append(compressor.compress(row * (side % 1000)))
    chunks.append(compressor.flush())
    idat = b"".join(chunks)

    def chunk(kind: bytes, body: bytes) -> bytes:
        crc = zlib.crc32(kind + body) & 0xFFFFFFFF
        return struct.pack(">I", len(body)) + kind + body + struct.pack(">I", crc)

    ihdr = struct.pack(">IIBBBBB", side, side, 8, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", idat) + chunk(b"IEND", b"")


def zip_file() -> bytes:
    import zipfile

    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as archive:
        archive.writestr("drawing.jpg", b"not really")
    return out.getvalue()


HTML = b"<!DOCTYPE html><html><body><script>alert(1)</script></body></html>"
SVG = (
    b'<?xml version="1.0"?><svg xmlns="http://www.w3.org/2000/svg" width="10" height="10">'
    b"<script>alert(1)</script></svg>"
)
