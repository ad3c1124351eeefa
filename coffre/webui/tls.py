"""The portal's TLS certificate: the operator's, or a self-signed one for the embedded
default (browsers will warn; production puts a real certificate or a proxy in front)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from coffre.settings import Settings
from coffre.tasks.files import write_file_atomic
from coffre.tasks.x509_build import (
    certificate_pem,
    private_key_pem,
    self_signed_server_certificate,
)

VALIDITY = dt.timedelta(days=397)  # the longest browsers accept


def portal_certificate(settings: Settings) -> tuple[Path, Path]:
    """(certificate, key) paths; made on first use when none is configured."""
    if settings.portal_cert_path and settings.portal_key_path:
        return settings.portal_cert_path, settings.portal_key_path
    folder = settings.resolved_home / "pki" / "portal"
    cert_path, key_path = folder / "portal.pem", folder / "portal.key"
    if not (cert_path.exists() and key_path.exists()):
        key = ec.generate_private_key(ec.SECP256R1())
        hosts = ["localhost", "127.0.0.1", settings.portal_host]
        certificate = self_signed_server_certificate(key, hosts, VALIDITY, "Coffre (local)")
        write_file_atomic(key_path, private_key_pem(key), 0o600)
        write_file_atomic(cert_path, certificate_pem(certificate))
    return cert_path, key_path
