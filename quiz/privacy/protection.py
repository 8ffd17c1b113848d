"""Encryption at rest and keyed hashes for personal data.

Resident ID numbers and mobiles are encrypted with Fernet (AES-128-CBC +
HMAC-SHA256); a separate HMAC-SHA256 key produces the look-up hashes used for
one-entry-per-person checks, so a database copy alone reveals neither.
Several data keys may be configured (newest first) so that keys can rotate.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import os
import time
from pathlib import Path

from cryptography.fernet import Fernet, InvalidToken, MultiFernet


class KeyError_(RuntimeError):
    """Keys are missing or malformed."""


class Protector:
    """Encrypts, decrypts and hashes personal data with the configured keys."""

    def __init__(self, data_keys: list[str], hash_key: str) -> None:
        self._keys = (list(data_keys), hash_key)
        if not data_keys or not hash_key:
            raise KeyError_("QUIZ_DATA_KEY and QUIZ_HASH_KEY are required")
        try:
            self._fernets = [Fernet(k.encode()) for k in data_keys]
        except ValueError as exc:
            raise KeyError_("QUIZ_DATA_KEY must be Fernet keys (urlsafe base64, 32 bytes)") from exc
        self._multi = MultiFernet(self._fernets)
        try:
            self._hash_key = base64.urlsafe_b64decode(hash_key.encode() + b"==")
        except ValueError as exc:  # binascii.Error, which would not name the setting
            raise KeyError_("QUIZ_HASH_KEY must be urlsafe base64 (quiz keys generate)") from exc
        if len(self._hash_key) < 32:
            raise KeyError_("QUIZ_HASH_KEY must hold at least 32 random bytes")

    def __reduce__(self) -> tuple[type[Protector], tuple[list[str], str]]:
        # Sent to a helper process of our own (the list import's), rebuilt from the keys.
        return (Protector, self._keys)

    def encrypt(self, text: str) -> bytes:
        return self._fernets[0].encrypt(text.encode())

    def decrypt(self, token: bytes) -> str:
        try:
            return self._multi.decrypt(token).decode()
        except InvalidToken as exc:
            raise KeyError_("data cannot be decrypted with the configured keys") from exc

    def rotate(self, token: bytes) -> bytes:
        """Re-encrypt a token under the newest key."""
        return self._multi.rotate(token)

    def lookup_hash(self, kind: str, value: str) -> str:
        """A keyed hash for equality look-ups; the kind keeps hash domains apart."""
        return hmac.new(self._hash_key, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()


def new_keys() -> dict[str, str]:
    """Fresh random keys in the formats Protector expects."""
    return {
        "QUIZ_DATA_KEY": Fernet.generate_key().decode(),
        "QUIZ_HASH_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
        "SECRET_KEY": base64.urlsafe_b64encode(os.urandom(32)).decode().rstrip("="),
    }


def private_dir(path: str | Path, *, tighten: bool = False) -> Path:
    """Create a folder for keys, databases or exports as mode 0700 (owner only).

    With `tighten`, a folder that already exists loses any group and other access too
    (the instance folder and its exports, created 0755 by earlier versions).
    """
    folder = Path(path)
    folder.mkdir(mode=0o700, parents=True, exist_ok=True)
    if tighten and folder.stat().st_mode & 0o077:
        folder.chmod(0o700)
    return folder


def load_or_create_instance_keys(instance_path: str) -> dict[str, str]:
    """Keys for the embedded default, generated once into the instance folder (mode 0600).

    Several workers may start together: O_EXCL makes exactly one of them write.
    """
    path = private_dir(instance_path, tighten=True) / "keys.json"
    if not path.exists():
        try:
            fd = os.open(path.with_suffix(".tmp"), os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        except FileExistsError:
            fd = -1
        if fd >= 0:
            with os.fdopen(fd, "w") as fh:
                json.dump(new_keys(), fh)
            os.replace(path.with_suffix(".tmp"), path)
    for _ in range(100):
        try:
            return dict(json.loads(path.read_text()))
        except (FileNotFoundError, json.JSONDecodeError):
            time.sleep(0.05)
    raise KeyError_(f"cannot read {path}")


def split_keys(value: str | None) -> list[str]:
    """QUIZ_DATA_KEY holds one key or several separated by commas, newest first."""
    return [k.strip() for k in (value or "").split(",") if k.strip()]
