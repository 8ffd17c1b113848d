"""A local CRM receiver for the webhook tests: verifies signatures, dedupes by event id,
and can fail or hang on chosen attempts."""

from __future__ import annotations

import json
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from quiz.webhooks import signing


class Receiver:
    def __init__(self, secret: str, fail_first: int = 0) -> None:
        self.secret = secret
        self.fail_first = fail_first  # per event id: answer 500 to this many attempts
        self.hang = threading.Event()  # set: the next request is received, then never answered
        self.hung = threading.Event()  # set once a request hangs
        self.attempts: Counter[str] = Counter()
        self.stored: dict[str, dict[str, Any]] = {}  # what the CRM keeps: one per event id
        self.bad_signatures = 0
        self.lock = threading.Lock()
        self.url = ""

    def handle(self, headers: Any, body: bytes) -> int:
        ok = signing.verify(
            self.secret,
            headers.get(signing.TIMESTAMP_HEADER, ""),
            body,
            headers.get(signing.SIGNATURE_HEADER, ""),
        )
        if not ok:
            with self.lock:
                self.bad_signatures += 1
            return 401
        event = json.loads(body)
        with self.lock:
            self.attempts[event["id"]] += 1
            if self.attempts[event["id"]] <= self.fail_first:
                return 500
            self.stored.setdefault(event["id"], event)  # dedupe by event id
        return 200


@contextmanager
def running(receiver: Receiver) -> Iterator[Receiver]:
    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers.get("Content-Length", 0)))
            if receiver.hang.is_set():
                receiver.handle(self.headers, body)  # processed, but the answer never comes
                receiver.hang.clear()
                receiver.hung.set()
                threading.Event().wait(30)
                return
            status = receiver.handle(self.headers, body)
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args: Any) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    receiver.url = f"http://127.0.0.1:{server.server_address[1]}/crm"
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield receiver
    finally:
        server.shutdown()
        server.server_close()
