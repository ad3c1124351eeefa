"""Certificates Coffre makes for itself: a private CA, the leaves it issues, TLS servers.

Shared by the embedded default's development CA (``devpki``), the stack's internal TLS
(``deploy/internal_tls.py``), the embedded portal's self-signed certificate and the test
servers, so that every certificate Coffre makes has the same profile: EC or RSA keys,
SHA-256, a few minutes of backdating for clock differences, key identifiers on both sides
of an issued one, and never a leaf that outlives its issuer.
"""

from __future__ import annotations

import datetime as dt
import ipaddress
from collections.abc import Sequence
from typing import TypeAlias

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from cryptography.x509.oid import ExtendedKeyUsageOID, NameOID

# Backdating absorbs small clock differences between the issuer and the verifiers.
BACKDATE = dt.timedelta(minutes=5)

PublicKey: TypeAlias = ec.EllipticCurvePublicKey | rsa.RSAPublicKey
IssuerKey: TypeAlias = ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey


def now() -> dt.datetime:
    return dt.datetime.now(dt.UTC).replace(microsecond=0)


def common_name(name: str) -> x509.Name:
    return x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])


def key_usage(
    *, digital_signature: bool = False, non_repudiation: bool = False, cert_sign: bool = False
) -> x509.KeyUsage:
    return x509.KeyUsage(
        digital_signature=digital_signature,
        content_commitment=non_repudiation,
        key_encipherment=False,
        data_encipherment=False,
        key_agreement=False,
        key_cert_sign=cert_sign,
        crl_sign=cert_sign,
        encipher_only=False,
        decipher_only=False,
    )


def _self_issued_builder(
    name: x509.Name, key: IssuerKey, validity: dt.timedelta
) -> x509.CertificateBuilder:
    """Subject and issuer alike, valid from a few minutes ago for ``validity``."""
    start = now()
    return (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(start + validity)
    )


def ca_certificate(
    name: x509.Name,
    key: IssuerKey,
    validity: dt.timedelta,
    *,
    path_length: int | None = None,
) -> x509.Certificate:
    """A self-signed CA certificate (``path_length=0``: it issues leaves only)."""
    return (
        _self_issued_builder(name, key, validity)
        .add_extension(x509.BasicConstraints(ca=True, path_length=path_length), critical=True)
        .add_extension(key_usage(cert_sign=True), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(key.public_key()), critical=False)
        .sign(key, hashes.SHA256())
    )


def issued_builder(
    issuer: x509.Certificate,
    issuer_key: IssuerKey,
    subject: x509.Name,
    public_key: PublicKey,
    validity: dt.timedelta,
) -> x509.CertificateBuilder:
    """A leaf's builder, ready for its usages; it never outlives ``issuer``."""
    start = now()
    return (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(issuer.subject)
        .public_key(public_key)
        .serial_number(x509.random_serial_number())
        .not_valid_before(start - BACKDATE)
        .not_valid_after(min(start + validity, issuer.not_valid_after_utc))
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.SubjectKeyIdentifier.from_public_key(public_key), critical=False)
        .add_extension(
            x509.AuthorityKeyIdentifier.from_issuer_public_key(issuer_key.public_key()),
            critical=False,
        )
    )


def host_names(hosts: Sequence[str]) -> list[x509.GeneralName]:
    """Subject alternative names: IP addresses as such, anything else as a DNS name."""
    names: list[x509.GeneralName] = []
    for host in dict.fromkeys(hosts):
        try:
            names.append(x509.IPAddress(ipaddress.ip_address(host)))
        except ValueError:
            names.append(x509.DNSName(host))
    return names


def server_certificate(
    issuer: x509.Certificate,
    issuer_key: IssuerKey,
    public_key: PublicKey,
    hosts: Sequence[str],
    validity: dt.timedelta,
) -> x509.Certificate:
    """A TLS server certificate for ``hosts`` (the first one is also its common name)."""
    return (
        issued_builder(issuer, issuer_key, common_name(hosts[0]), public_key, validity)
        .add_extension(x509.SubjectAlternativeName(host_names(hosts)), critical=False)
        .add_extension(key_usage(digital_signature=True), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(issuer_key, hashes.SHA256())
    )


def self_signed_server_certificate(
    key: IssuerKey, hosts: Sequence[str], validity: dt.timedelta, name: str
) -> x509.Certificate:
    """A TLS server certificate that is its own issuer: trusted only where it is pinned."""
    return (
        _self_issued_builder(common_name(name), key, validity)
        .add_extension(x509.SubjectAlternativeName(host_names(hosts)), critical=False)
        .add_extension(x509.BasicConstraints(ca=False, path_length=None), critical=True)
        .add_extension(x509.ExtendedKeyUsage([ExtendedKeyUsageOID.SERVER_AUTH]), critical=False)
        .sign(key, hashes.SHA256())
    )


def private_key_pem(key: IssuerKey) -> bytes:
    """PKCS#8 PEM, unencrypted: the file's mode protects it."""
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


def certificate_pem(cert: x509.Certificate) -> bytes:
    return cert.public_bytes(serialization.Encoding.PEM)
