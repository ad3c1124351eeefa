"""Secrets kept for an organisation (mail credentials, the Powens token), encrypted with
its data key.

The grant id or the IMAP password is bound to its connection (the connection id is
the associated data), so a blob copied onto another row does not decrypt; destroying
the organisation's key destroys them with everything else.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any

from coffre.runtime import get_vault
from coffre.tasks.crypto import decrypt_object, encrypt_object


def seal_secret(org_id: str, address: str, secret: bytes) -> bytes:
    """A secret (credentials, a token) encrypted with the organisation's data key and
    bound to `address`, so that it cannot be moved onto another row unnoticed."""
    return encrypt_object(get_vault().keyring.data_key(org_id), secret, address)


def open_secret(org_id: str, address: str, blob: bytes) -> bytes:
    return decrypt_object(get_vault().keyring.data_key(org_id, create=False), blob, address)


def _address(connection_id: str) -> str:
    return f"mail-connection:{connection_id}"


def seal_credentials(org_id: str, connection_id: str, credentials: dict[str, Any]) -> bytes:
    return seal_secret(org_id, _address(connection_id), json.dumps(credentials).encode())


def open_credentials(org_id: str, connection_id: str, blob: bytes) -> dict[str, Any]:
    value = json.loads(open_secret(org_id, _address(connection_id), blob))
    assert isinstance(value, dict)
    return value


def grant_lookup(grant_id: str) -> str:
    """What a webhook looks a Nylas grant up by, without the grant id kept in clear."""
    return hashlib.sha256(b"coffre-nylas-grant:" + grant_id.encode()).hexdigest()
