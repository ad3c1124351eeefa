"""The stack's internal CA and the certificates of its internal TLS endpoints.

Run by coffre-init (docker-compose.yml) before the other services start:

    python deploy/internal_tls.py FOLDER NAME [NAME...]

writes ``ca.pem`` (the trust anchor the services are given) and, for each NAME, ``NAME.pem``
and ``NAME.key``: a server certificate for that DNS name. SeaweedFS serves the vault's S3
API with ``s3.coffre.internal``'s; the portal serves HTTPS with ``portal``'s, which Caddy
checks against ``ca.pem``. Nothing here is public: browsers only ever see Caddy's
Let's Encrypt certificate.

Idempotent: what exists and is still good is kept; a certificate is issued again (new
key) when it is missing, does not chain to the current CA, or expires within 90 days.
Keys are EC P-256; the CA's is 0600, a server key 0640 so that a service that is not
Coffre's user can read it when given Coffre's group (SeaweedFS: ``group_add``). Every
file is replaced atomically.
"""

from __future__ import annotations

import datetime as dt
import sys
from pathlib import Path

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec

from coffre.tasks.files import write_file_atomic
from coffre.tasks.x509_build import (
    ca_certificate,
    certificate_pem,
    common_name,
    now,
    private_key_pem,
    server_certificate,
)

CA_VALIDITY = dt.timedelta(days=20 * 365)
LEAF_VALIDITY = dt.timedelta(days=5 * 365)
RENEW_BEFORE = dt.timedelta(days=90)


def ensure_ca(folder: Path) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    cert_path, key_path = folder / "ca.pem", folder / "ca.key"
    if cert_path.exists() and key_path.exists():
        key = serialization.load_pem_private_key(key_path.read_bytes(), password=None)
        if not isinstance(key, ec.EllipticCurvePrivateKey):
            raise SystemExit(f"{key_path}: not an EC key")
        return x509.load_pem_x509_certificate(cert_path.read_bytes()), key
    key = ec.generate_private_key(ec.SECP256R1())
    cert = ca_certificate(common_name("Coffre internal CA"), key, CA_VALIDITY, path_length=0)
    write_file_atomic(key_path, private_key_pem(key), 0o600)
    write_file_atomic(cert_path, certificate_pem(cert), 0o644)
    return cert, key


def _still_good(path: Path, ca: x509.Certificate) -> bool:
    if not path.exists():
        return False
    cert = x509.load_pem_x509_certificate(path.read_bytes())
    if cert.issuer != ca.subject:
        return False
    try:
        cert.verify_directly_issued_by(ca)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return cert.not_valid_after_utc - now() > RENEW_BEFORE


def ensure_leaf(
    folder: Path, name: str, ca: x509.Certificate, ca_key: ec.EllipticCurvePrivateKey
) -> bool:
    """Issue ``name``'s certificate when needed; True when a new one was written."""
    cert_path, key_path = folder / f"{name}.pem", folder / f"{name}.key"
    if key_path.exists() and _still_good(cert_path, ca):
        return False
    key = ec.generate_private_key(ec.SECP256R1())
    cert = server_certificate(ca, ca_key, key.public_key(), [name], LEAF_VALIDITY)
    write_file_atomic(key_path, private_key_pem(key), 0o640)
    write_file_atomic(cert_path, certificate_pem(cert), 0o644)
    return True


def main(argv: list[str]) -> int:
    if len(argv) < 2:
        print("usage: internal_tls.py FOLDER NAME [NAME...]", file=sys.stderr)  # noqa: T201
        return 2
    folder = Path(argv[0])
    folder.mkdir(parents=True, exist_ok=True)
    ca, ca_key = ensure_ca(folder)
    for name in argv[1:]:
        if ensure_leaf(folder, name, ca, ca_key):
            print(f"internal TLS: issued a certificate for {name}")  # noqa: T201
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
