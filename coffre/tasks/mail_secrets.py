"""Mail credentials, encrypted with the organisation's data key.

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


def _address(connection_id: str) -> str:
    return f"mail-connection:{connection_id}"


def seal_credentials(org_id: str, connection_id: str, credentials: dict[str, Any]) -> bytes:
    key = get_vault().keyring.data_key(org_id)
    return encrypt_object(key, json.dumps(credentials).encode(), _address(connection_id))


def open_credentials(org_id: str, connection_id: str, blob: bytes) -> dict[str, Any]:
    key = get_vault().keyring.data_key(org_id, create=False)
    value = json.loads(decrypt_object(key, blob, _address(connection_id)))
    assert isinstance(value, dict)
    return value


def grant_lookup(grant_id: str) -> str:
    """What a webhook looks a Nylas grant up by, without the grant id kept in clear."""
    return hashlib.sha256(b"coffre-nylas-grant:" + grant_id.encode()).hexdigest()
