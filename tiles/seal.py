"""Sealing an offline package: its content encrypted under a passphrase.

Each part of a package (tiles, gazetteer, book, campus facts) is encrypted with AES-256-GCM
under one key derived from the passphrase with PBKDF2-HMAC-SHA256, a random 16-byte salt and
:data:`PBKDF2_ITERATIONS` iterations (OWASP's 2023 figure for PBKDF2-SHA256). Every part has its
own random 96-bit nonce and its name as associated data, so parts cannot be swapped between
slots unnoticed. The viewer derives the same key with WebCrypto (``crypto.subtle``) and
decrypts; a wrong passphrase fails GCM's tag check, which is how the viewer knows it is wrong.

What this protects, and what it does not, is written in the README ("Sealed packages").
``cryptography`` is imported inside the functions (it is a render-path library).
"""

from __future__ import annotations

import base64
import os
import unicodedata
from dataclasses import dataclass

from gridmap.errors import PackageError

#: PBKDF2-HMAC-SHA256 iterations (OWASP Password Storage Cheat Sheet, 2023: 600,000).
PBKDF2_ITERATIONS = 600_000
SALT_BYTES = 16
NONCE_BYTES = 12
KEY_BYTES = 32
#: A shorter passphrase is refused: sealing is only as strong as the passphrase.
MIN_PASSPHRASE_LENGTH = 12
MAX_PASSPHRASE_LENGTH = 1024


@dataclass(frozen=True)
class Seal:
    """How a package was sealed: what the viewer needs besides the passphrase (no secret)."""

    salt: bytes
    iterations: int
    nonces: dict[str, bytes]

    def to_json(self) -> dict[str, object]:
        return {
            "kdf": "PBKDF2-SHA256",
            "iterations": self.iterations,
            "salt": _b64(self.salt),
            "cipher": "AES-256-GCM",
            "nonces": {name: _b64(n) for name, n in sorted(self.nonces.items())},
        }


def _b64(data: bytes) -> str:
    return base64.b64encode(data).decode("ascii")


def check_passphrase(passphrase: str) -> None:
    """Refuse a passphrase no package should be sealed with (too short, too long, blank)."""
    if not passphrase.strip():
        raise PackageError("the passphrase is blank")
    if len(passphrase) < MIN_PASSPHRASE_LENGTH:
        raise PackageError(
            f"the passphrase has {len(passphrase)} characters; a sealed package needs at least "
            f"{MIN_PASSPHRASE_LENGTH} (a few random words make a good one)")
    if len(passphrase) > MAX_PASSPHRASE_LENGTH:
        raise PackageError(f"the passphrase is longer than {MAX_PASSPHRASE_LENGTH} characters")


def derive_key(passphrase: str, salt: bytes, iterations: int = PBKDF2_ITERATIONS) -> bytes:
    """The AES-256 key for ``passphrase`` (NFC, UTF-8) and ``salt``; the viewer derives the
    same."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.kdf.pbkdf2 import PBKDF2HMAC

    kdf = PBKDF2HMAC(algorithm=hashes.SHA256(), length=KEY_BYTES, salt=salt,
                     iterations=iterations)
    # NFC: "é" typed as one character or as e + accent (keyboards differ) is one passphrase
    return kdf.derive(unicodedata.normalize("NFC", passphrase).encode("utf-8"))


def seal_parts(parts: dict[str, bytes], passphrase: str, *,
               iterations: int = PBKDF2_ITERATIONS) -> tuple[Seal, dict[str, bytes]]:
    """Each part encrypted (ciphertext with its 16-byte tag appended), and the seal to open them."""
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    check_passphrase(passphrase)
    salt = os.urandom(SALT_BYTES)
    aead = AESGCM(derive_key(passphrase, salt, iterations))
    nonces: dict[str, bytes] = {}
    sealed: dict[str, bytes] = {}
    for name, data in parts.items():
        nonce = nonces[name] = os.urandom(NONCE_BYTES)
        sealed[name] = aead.encrypt(nonce, data, name.encode("utf-8"))
    return Seal(salt, iterations, nonces), sealed


def open_part(seal: Seal, name: str, data: bytes, passphrase: str) -> bytes:
    """One part decrypted, as the viewer does it (used by tests and tools); raises
    :class:`~gridmap.errors.PackageError` for a wrong passphrase or a damaged part."""
    from cryptography.exceptions import InvalidTag
    from cryptography.hazmat.primitives.ciphers.aead import AESGCM

    aead = AESGCM(derive_key(passphrase, seal.salt, seal.iterations))
    try:
        return aead.decrypt(seal.nonces[name], data, name.encode("utf-8"))
    except InvalidTag:
        raise PackageError(f"cannot open part {name!r}: wrong passphrase or damaged package",
                           user_message="wrong passphrase or damaged package") from None
