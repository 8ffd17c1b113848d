"""gzip for text responses: most participants are on slow mobile networks.

gunicorn does not compress. In production a reverse proxy may compress instead; a response
that already has a Content-Encoding is left alone.
"""

from __future__ import annotations

import gzip
from collections import OrderedDict

from flask import Flask, request
from flask.wrappers import Response

MIN_SIZE = 1024
TEXT_TYPES = frozenset(
    {
        "text/html",
        "text/css",
        "text/javascript",
        "application/javascript",
        "application/json",
        "text/csv",
        "image/svg+xml",
    }
)
# Static files are compressed once per (path, ETag), not on every request.
_cache: OrderedDict[tuple[str, str], bytes] = OrderedDict()
_CACHE_ENTRIES = 64


def accepts_gzip() -> bool:
    for part in request.headers.get("Accept-Encoding", "").lower().split(","):
        coding, _, params = part.strip().partition(";")
        if coding.strip() in ("gzip", "*") and params.replace(" ", "") not in ("q=0", "q=0.0"):
            return True
    return False


def _compressed(response: Response, body: bytes) -> bytes:
    etag, _weak = response.get_etag()
    if not (request.path.startswith("/static/") and etag):
        return gzip.compress(body, compresslevel=6, mtime=0)
    key = (request.path, etag)
    if key not in _cache:
        _cache[key] = gzip.compress(body, compresslevel=6, mtime=0)
        while len(_cache) > _CACHE_ENTRIES:
            _cache.popitem(last=False)
    return _cache[key]


def compress(response: Response) -> Response:
    """gzip the response body when the client accepts it and it is worth it."""
    if response.mimetype not in TEXT_TYPES:
        return response
    response.vary.add("Accept-Encoding")
    if (
        response.status_code != 200
        # Generators (exports) stream; only files (direct passthrough) are read whole.
        or (response.is_streamed and not response.direct_passthrough)
        or "Content-Encoding" in response.headers
        or "Content-Range" in response.headers
        or request.method == "HEAD"
        or not accepts_gzip()
    ):
        return response
    response.direct_passthrough = False  # static files: read the file into memory
    body = response.get_data()
    if len(body) < MIN_SIZE:
        return response
    response.set_data(_compressed(response, body))
    response.headers["Content-Encoding"] = "gzip"
    etag, _weak = response.get_etag()
    if etag:
        # Not byte-identical any more, but equivalent: a weak validator still gives 304s
        # (If-None-Match uses the weak comparison).
        response.set_etag(etag, weak=True)
    return response


def init_app(app: Flask) -> None:
    app.after_request(compress)
