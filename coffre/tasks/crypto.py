"""Envelope encryption of stored objects: AES-256-GCM, one data key per organisation.

The data key is wrapped by the master key and kept in the key store; objects are
encrypted before they leave the process, bound to their address (the object key is the
associated data), so a stored object cannot be read without the organisation's key nor
swapped for another one unnoticed.
"""

from __future__ import annotations

import base64
import contextlib
import os
import secrets
import tempfile
import threading
from pathlib import Path

from cryptography.exceptions import InvalidTag
from cryptography.hazmat.primitives.ciphers.aead import AESGCM
from sqlalchemy.engine import Engine

from coffre.models.keystore import create_keystore, load_wrapped_key, store_wrapped_key

OBJECT_MAGIC = b"CFR1"
NONCE_SIZE = 12
KEY_SIZE = 32


class DecryptionError(Exception):
    """The bytes are not an object of this organisation, or were altered."""


class KeyDestroyed(LookupError):
    """The organisation has no data key any more (its account was deleted)."""


class SecretKey:
    """32 key bytes that never show up in a repr, a log line or a traceback."""

    __slots__ = ("_material",)

    def __init__(self, material: bytes) -> None:
        if len(material) != KEY_SIZE:
            raise ValueError("a key must be 32 bytes")
        self._material = material

    def aead(self) -> AESGCM:
        return AESGCM(self._material)

    def __repr__(self) -> str:
        return "SecretKey(***)"

    __str__ = __repr__


def load_or_create_master_key(configured: str | None, path: Path) -> SecretKey:
    """The master key from configuration (base64), or from a 0600 file created once."""
    if configured:
        return SecretKey(base64.b64decode(configured))
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        # A temporary name of our own: two processes creating the key at once must not
        # write into the same inode, or the key one of them already used would change.
        fd, temporary = tempfile.mkstemp(dir=path.parent, prefix=".master-", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as handle:
                handle.write(base64.b64encode(secrets.token_bytes(KEY_SIZE)))
                handle.flush()
                os.fsync(handle.fileno())
            with contextlib.suppress(FileExistsError):  # never replace another process's key
                os.link(temporary, path)
        finally:
            os.unlink(temporary)
    return SecretKey(base64.b64decode(path.read_bytes().strip()))


def _wrap_aad(org_id: str) -> bytes:
    return b"coffre-org-key:" + org_id.encode()


class KeyRing:
    """Gives each organisation its data key, creating and wrapping it on first use."""

    def __init__(self, master_key: SecretKey, keystore: Engine) -> None:
        self._master = master_key
        self._keystore = keystore
        self._cache: dict[str, SecretKey] = {}
        self._lock = threading.Lock()
        create_keystore(keystore)

    @property
    def keystore(self) -> Engine:
        return self._keystore

    def data_key(self, org_id: str, *, create: bool = True) -> SecretKey:
        with self._lock:
            cached = self._cache.get(org_id)
        if cached is not None:
            return cached
        wrapped = load_wrapped_key(self._keystore, org_id)
        if wrapped is None:
            if not create:
                raise KeyDestroyed(f"organisation {org_id} has no data key")
            nonce = secrets.token_bytes(NONCE_SIZE)
            fresh = secrets.token_bytes(KEY_SIZE)
            candidate = nonce + self._master.aead().encrypt(nonce, fresh, _wrap_aad(org_id))
            wrapped = store_wrapped_key(self._keystore, org_id, candidate)
        try:
            material = self._master.aead().decrypt(
                wrapped[:NONCE_SIZE], wrapped[NONCE_SIZE:], _wrap_aad(org_id)
            )
        except InvalidTag as error:
            raise DecryptionError(
                f"the data key of organisation {org_id} cannot be unwrapped: wrong master key"
            ) from error
        key = SecretKey(material)
        with self._lock:
            self._cache[org_id] = key
        return key

    def forget(self, org_id: str) -> None:
        with self._lock:
            self._cache.pop(org_id, None)


def encrypt_object(key: SecretKey, plaintext: bytes, address: str) -> bytes:
    nonce = secrets.token_bytes(NONCE_SIZE)
    return OBJECT_MAGIC + nonce + key.aead().encrypt(nonce, plaintext, address.encode())


def decrypt_object(key: SecretKey, blob: bytes, address: str) -> bytes:
    if not blob.startswith(OBJECT_MAGIC) or len(blob) < len(OBJECT_MAGIC) + NONCE_SIZE + 16:
        raise DecryptionError(f"object {address} is not a Coffre object")
    start = len(OBJECT_MAGIC)
    nonce = blob[start : start + NONCE_SIZE]
    try:
        return key.aead().decrypt(nonce, blob[start + NONCE_SIZE :], address.encode())
    except InvalidTag as error:
        raise DecryptionError(f"object {address} fails authentication") from error
