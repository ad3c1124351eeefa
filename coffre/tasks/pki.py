"""Certificates from files, as pyHanko wants them (asn1crypto)."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path

from asn1crypto import pem
from asn1crypto import x509 as asn1_x509


def load_certificates(paths: Iterable[Path]) -> list[asn1_x509.Certificate]:
    """Every certificate in the given PEM or DER files, in order."""
    certificates = []
    for path in paths:
        data = Path(path).read_bytes()
        if pem.detect(data):
            for _type, _headers, der in pem.unarmor(data, multiple=True):
                certificates.append(asn1_x509.Certificate.load(der))
        else:
            certificates.append(asn1_x509.Certificate.load(data))
    return certificates
