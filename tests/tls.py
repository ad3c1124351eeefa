"""A throw-away CA and server certificate for the TLS servers the tests start."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import ec

from coffre.tasks.files import write_file_atomic
from coffre.tasks.x509_build import (
    ca_certificate,
    certificate_pem,
    common_name,
    private_key_pem,
    server_certificate,
)


def write_server_certificates(
    directory: Path, ca_name: str, hosts: Sequence[str], validity: dt.timedelta
) -> tuple[Path, Path, Path]:
    """``ca.pem``, ``server.pem`` (for ``hosts``) and ``server.key`` (0600) in ``directory``."""
    ca_key = ec.generate_private_key(ec.SECP256R1())
    ca_cert = ca_certificate(common_name(ca_name), ca_key, validity, path_length=0)
    key = ec.generate_private_key(ec.SECP256R1())
    cert = server_certificate(ca_cert, ca_key, key.public_key(), hosts, validity)

    ca_path, cert_path, key_path = (directory / n for n in ("ca.pem", "server.pem", "server.key"))
    ca_path.write_bytes(certificate_pem(ca_cert))
    cert_path.write_bytes(certificate_pem(cert))
    write_file_atomic(key_path, private_key_pem(key), 0o600)
    return ca_path, cert_path, key_path
