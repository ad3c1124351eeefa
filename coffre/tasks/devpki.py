"""A local development CA for the embedded default: root, TSA certificate, seal certificate.

In production the seal certificate comes from a qualified provider and the time stamps
from a real TSA. The embedded default (``make run`` on one machine) has neither, so Coffre
creates on first start, under ``COFFRE_HOME/pki``:

==========================  =============================================================
file                        what it is
==========================  =============================================================
``dev-root-ca.pem``         self-signed root (EC P-256, 20 years), the only trust anchor
``dev-root-ca.key``         its private key (PKCS#8 PEM, 0600)
``tsa.pem`` / ``tsa.key``   the local TSA (EC P-256, 10 years, EKU timeStamping critical)
``seal-<fp>.pem``           the seal certificate of the HSM key whose SubjectPublicKeyInfo
                            SHA-256 starts with ``<fp>`` (3 years); the key stays in the HSM
==========================  =============================================================

Every function is idempotent: what exists and is still usable is returned as is. A leaf
certificate is re-issued (same key) only when it no longer chains to the current root,
names another organisation, or has less than 30 days to live; the root is never renewed.

Revocation: the development CA publishes neither OCSP nor CRLs, and its certificates carry
no AIA or CRL distribution point. Signatures made with the embedded default are therefore
validated with ``revocation_mode="soft-fail"`` (nothing to check is not an error); a
production deployment uses a real CA and ``hard-fail``.

Keys are written with mode 0600 and every file is written atomically (temporary file +
``os.replace``). Concurrent first starts (several processes on one home) are serialised
by an exclusive ``flock`` on ``<folder>/.lock``.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import hashlib
import os
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import TypeAlias

from cryptography import x509
from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.hazmat.primitives.asymmetric.types import PublicKeyTypes
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

from coffre.tasks.files import write_file_atomic
from coffre.tasks.x509_build import (
    ca_certificate,
    certificate_pem,
    issued_builder,
    key_usage,
    now,
    private_key_pem,
)

ROOT_CERT_FILE = "dev-root-ca.pem"
ROOT_KEY_FILE = "dev-root-ca.key"
TSA_CERT_FILE = "tsa.pem"
TSA_KEY_FILE = "tsa.key"
SEAL_CERT_PREFIX = "seal-"

ROOT_VALIDITY = dt.timedelta(days=20 * 365)
TSA_VALIDITY = dt.timedelta(days=10 * 365)
SEAL_VALIDITY = dt.timedelta(days=3 * 365)
RENEW_BEFORE = dt.timedelta(days=30)

# RFC 5280 upper bounds (ub-common-name, ub-organization-name).
_NAME_LIMIT = 64

SealPublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey


@dataclass(frozen=True)
class DevCa:
    """The development root: its files and the loaded certificate and key."""

    root_cert_path: Path
    root_key_path: Path
    cert: x509.Certificate
    key: ec.EllipticCurvePrivateKey


# --------------------------------------------------------------------------- files


@contextlib.contextmanager
def folder_lock(folder: Path) -> Iterator[None]:
    """Exclusive advisory lock on ``folder/.lock`` (between processes and threads).

    Not reentrant: never nest two ``folder_lock`` of the same folder.
    """
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    fd = os.open(folder / ".lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(fd, fcntl.LOCK_EX)
        yield
    finally:
        os.close(fd)  # releases the lock


def _write_key(path: Path, key: ec.EllipticCurvePrivateKey) -> None:
    write_file_atomic(path, private_key_pem(key), 0o600)


def _write_cert(path: Path, cert: x509.Certificate) -> None:
    write_file_atomic(path, certificate_pem(cert), 0o644)


def _load_ec_key(path: Path) -> ec.EllipticCurvePrivateKey | None:
    try:
        key = serialization.load_pem_private_key(path.read_bytes(), password=None)
    except (OSError, ValueError, TypeError):
        return None
    return key if isinstance(key, ec.EllipticCurvePrivateKey) else None


def _load_cert(path: Path) -> x509.Certificate | None:
    try:
        return x509.load_pem_x509_certificate(path.read_bytes())
    except (OSError, ValueError):
        return None


# --------------------------------------------------------------------------- names


def _utf8_len(text: str) -> int:
    return len(text.encode("utf-8"))


def _fit(text: str, limit: int = _NAME_LIMIT) -> str:
    """``text`` (spaces normalised) cut to ``limit`` UTF-8 bytes, with an ellipsis if cut.

    cryptography, like RFC 5280's upper bounds as it reads them, counts bytes.
    """
    text = " ".join(text.split())
    if _utf8_len(text) <= limit:
        return text
    while text and _utf8_len(text.rstrip() + "…") > limit:
        text = text[:-1]
    return text.rstrip() + "…"


def _org_name(organisation: str) -> str:
    name = _fit(organisation)
    if not name:
        raise ValueError("the organisation name must not be empty")
    return name


def _cn_with_org(template: str, organisation: str) -> str:
    """``template`` (with ``{org}``) filled so that the result fits in a common name."""
    room = _NAME_LIMIT - _utf8_len(template.format(org=""))
    return template.format(org=_fit(organisation, room))


def root_common_name(organisation: str) -> str:
    return _cn_with_org("{org} — autorité de développement Coffre", organisation)


def seal_common_name(organisation: str) -> str:
    return _cn_with_org("Cachet serveur Coffre — {org}", organisation)


def _organisation_of(name: x509.Name) -> str | None:
    values = name.get_attributes_for_oid(NameOID.ORGANIZATION_NAME)
    return str(values[0].value) if values else None


# --------------------------------------------------------------------------- checks


def _issued_by(cert: x509.Certificate, ca: DevCa) -> bool:
    try:
        cert.verify_directly_issued_by(ca.cert)
    except (ValueError, TypeError, InvalidSignature):
        return False
    return True


def _usable_leaf(cert: x509.Certificate | None, ca: DevCa) -> bool:
    """Issued by the current root and not about to expire."""
    if cert is None or not _issued_by(cert, ca):
        return False
    return cert.not_valid_after_utc - now() > RENEW_BEFORE


def _spki(public_key: PublicKeyTypes) -> bytes:
    return public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )


def public_key_fingerprint(public_key: SealPublicKey) -> str:
    """Hex SHA-256 of the DER SubjectPublicKeyInfo (names the seal certificate file)."""
    return hashlib.sha256(_spki(public_key)).hexdigest()


# --------------------------------------------------------------------------- the root


def _build_root(organisation: str) -> tuple[x509.Certificate, ec.EllipticCurvePrivateKey]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name(
        [
            x509.NameAttribute(NameOID.ORGANIZATION_NAME, _org_name(organisation)),
            x509.NameAttribute(NameOID.COMMON_NAME, root_common_name(organisation)),
        ]
    )
    return ca_certificate(name, key, ROOT_VALIDITY), key


def ensure_dev_ca(folder: Path, organisation: str) -> DevCa:
    """The development root CA of ``folder``, created on first call.

    An existing root is kept as it is, even if ``organisation`` has changed since (only
    the leaf certificates follow the organisation's name). A root whose certificate or key
    is missing or unreadable is replaced, which makes the leaves re-issue themselves.
    """
    folder = Path(folder)
    cert_path, key_path = folder / ROOT_CERT_FILE, folder / ROOT_KEY_FILE
    with folder_lock(folder):
        cert, key = _load_cert(cert_path), _load_ec_key(key_path)
        if cert is None or key is None or cert.public_key() != key.public_key():
            cert, key = _build_root(organisation)
            _write_key(key_path, key)  # key first: a cert without its key is never left
            _write_cert(cert_path, cert)
    return DevCa(root_cert_path=cert_path, root_key_path=key_path, cert=cert, key=key)


# --------------------------------------------------------------------------- leaves


def _leaf_builder(
    ca: DevCa, subject: x509.Name, public_key: SealPublicKey, validity: dt.timedelta
) -> x509.CertificateBuilder:
    return issued_builder(ca.cert, ca.key, subject, public_key, validity)


def issue_tsa_certificate(ca: DevCa, folder: Path) -> tuple[Path, Path]:
    """The local TSA's certificate and key (``tsa.pem``, ``tsa.key``), created once.

    The key is kept for life; the certificate is re-issued only if it stops being usable
    (see the module docstring).
    """
    folder = Path(folder)
    cert_path, key_path = folder / TSA_CERT_FILE, folder / TSA_KEY_FILE
    with folder_lock(folder):
        key = _load_ec_key(key_path)
        cert = _load_cert(cert_path)
        if key is None:
            key = ec.generate_private_key(ec.SECP256R1())
            _write_key(key_path, key)
            cert = None
        if cert is None or cert.public_key() != key.public_key() or not _usable_leaf(cert, ca):
            organisation = _organisation_of(ca.cert.subject) or "Coffre"
            subject = x509.Name(
                [
                    x509.NameAttribute(NameOID.ORGANIZATION_NAME, organisation),
                    x509.NameAttribute(NameOID.COMMON_NAME, "Horodatage local Coffre"),
                ]
            )
            cert = (
                _leaf_builder(ca, subject, key.public_key(), TSA_VALIDITY)
                .add_extension(key_usage(digital_signature=True), critical=True)
                .add_extension(
                    x509.ExtendedKeyUsage([ExtendedKeyUsageOID.TIME_STAMPING]), critical=True
                )
                .sign(ca.key, hashes.SHA256())
            )
            _write_cert(cert_path, cert)
    return cert_path, key_path


def seal_certificate_path(folder: Path, public_key: SealPublicKey) -> Path:
    """Where the seal certificate of ``public_key`` lives in ``folder``."""
    return Path(folder) / f"{SEAL_CERT_PREFIX}{public_key_fingerprint(public_key)[:16]}.pem"


def issue_seal_certificate(
    ca: DevCa, public_key: SealPublicKey, organisation: str, folder: Path
) -> Path:
    """The seal certificate of ``public_key`` (the HSM's key), created once per key.

    Subject ``O=<organisation>, CN=Cachet serveur Coffre — <organisation>``, keyUsage
    digitalSignature + nonRepudiation (critical), 3 years. An existing certificate for the
    same key is returned as is while it chains to ``ca``, names ``organisation`` and has
    more than 30 days to live; otherwise it is replaced by a new one.
    """
    if not isinstance(public_key, ec.EllipticCurvePublicKey | rsa.RSAPublicKey):
        raise TypeError(f"unsupported seal key type: {type(public_key).__name__}")
    folder = Path(folder)
    path = seal_certificate_path(folder, public_key)
    org_name = _org_name(organisation)
    with folder_lock(folder):
        existing = _load_cert(path)
        if (
            existing is not None
            and _spki(existing.public_key()) == _spki(public_key)
            and _organisation_of(existing.subject) == org_name
            and _usable_leaf(existing, ca)
        ):
            return path
        subject = x509.Name(
            [
                x509.NameAttribute(NameOID.ORGANIZATION_NAME, org_name),
                x509.NameAttribute(NameOID.COMMON_NAME, seal_common_name(organisation)),
            ]
        )
        cert = (
            _leaf_builder(ca, subject, public_key, SEAL_VALIDITY)
            .add_extension(key_usage(digital_signature=True, non_repudiation=True), critical=True)
            .sign(ca.key, hashes.SHA256())
        )
        _write_cert(path, cert)
    return path
