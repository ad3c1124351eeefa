"""The vault: write-once, content-addressed, encrypted objects of each organisation."""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from coffre.tasks.crypto import KeyRing, decrypt_object, encrypt_object
from coffre.tasks.storage import ObjectStore


class IntegrityError(Exception):
    """An object's plaintext does not hash to its address."""


@dataclass(frozen=True)
class StoredObject:
    key: str
    sha256: str
    size: int
    created: bool


def object_key(org_id: str, sha256: str) -> str:
    return f"{org_id}/{sha256[:2]}/{sha256}"


class Vault:
    def __init__(self, store: ObjectStore, keyring: KeyRing, retention_years: int) -> None:
        self.store = store
        self.keyring = keyring
        self.retention_years = retention_years

    def put(self, org_id: str, plaintext: bytes) -> StoredObject:
        """Encrypt and store; the same content twice is a no-op, never an overwrite."""
        sha256 = hashlib.sha256(plaintext).hexdigest()
        key = object_key(org_id, sha256)
        if self.store.exists(key):
            return StoredObject(key, sha256, len(plaintext), created=False)
        blob = encrypt_object(self.keyring.data_key(org_id), plaintext, key)
        created = self.store.put(key, blob, retain_until=self._retain_until())
        return StoredObject(key, sha256, len(plaintext), created)

    def get(self, org_id: str, key: str) -> bytes:
        """Decrypt an object of this organisation and check it against its address."""
        if not key.startswith(f"{org_id}/"):
            raise PermissionError("object does not belong to this organisation")
        plaintext = decrypt_object(
            self.keyring.data_key(org_id, create=False), self.store.get(key), key
        )
        if hashlib.sha256(plaintext).hexdigest() != key.rsplit("/", 1)[-1]:
            raise IntegrityError(f"object {key} does not match its hash")
        return plaintext

    def _retain_until(self) -> datetime | None:
        if self.retention_years <= 0:
            return None
        return datetime.now(UTC) + timedelta(days=365 * self.retention_years + 3)
