"""asn1crypto's encoder patch: the same bytes as the original, without the doubling per level."""

from __future__ import annotations

import hashlib
import subprocess
import sys
from collections.abc import Callable
from datetime import UTC, datetime

import pytest
from asn1crypto import algos, cms, core, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko_certvalidator.registry import SimpleCertificateStore

from coffre.tasks import asn1_dump
from coffre.tasks.devpki import ensure_dev_ca, issue_tsa_certificate
from coffre.tasks.tsa import LocalTimeStamper, _load_cert, _load_key

SIGNED_AT = datetime(2026, 3, 14, 9, 26, 53, tzinfo=UTC)


@pytest.fixture(scope="module")
def tsa(tmp_path_factory: pytest.TempPathFactory) -> LocalTimeStamper:
    folder = tmp_path_factory.mktemp("asn1-pki")
    ca = ensure_dev_ca(folder, "Coffre (tests)")
    cert_path, key_path = issue_tsa_certificate(ca, folder)
    root = _load_cert(ca.root_cert_path)
    return LocalTimeStamper(
        _load_cert(cert_path),
        _load_key(key_path),
        certs_to_embed=SimpleCertificateStore.from_certs([root]),
    )


def signed_attributes(cert: asn1_x509.Certificate) -> cms.CMSAttributes:
    """Signed attributes as a seal builds them (nested, built in memory, never parsed)."""
    return cms.CMSAttributes(
        [
            simple_cms_attribute("content_type", "data"),
            simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(SIGNED_AT)})),
            simple_cms_attribute("signing_certificate_v2", as_signing_certificate_v2(cert)),
            simple_cms_attribute("message_digest", hashlib.sha256(b"archive").digest()),
        ]
    )


def timestamp_request(index: int) -> tsp.TimeStampReq:
    return tsp.TimeStampReq(
        {
            "version": "v1",
            "message_imprint": {
                "hash_algorithm": algos.DigestAlgorithm({"algorithm": "sha256"}),
                "hashed_message": hashlib.sha256(str(index).encode()).digest(),
            },
            "nonce": index + 1,
            "cert_req": True,
        }
    )


def encode_with(dump: Callable[..., bytes], value: core.Asn1Value, force: bool) -> bytes:
    core.Asn1Value.dump = dump  # type: ignore[method-assign]
    try:
        return value.dump(force=force)
    finally:
        asn1_dump.install()


@pytest.mark.parametrize("module", ["coffre.tasks.seal", "coffre.tasks.tsa", "coffre.tasks.verify"])
def test_the_modules_that_seal_install_the_patch(module: str) -> None:
    """A fresh process that seals, stamps or checks gets the patch by importing its module."""
    from asn1crypto.core import Asn1Value

    probe = f"import {module}, asn1crypto.core as c; print(c.Asn1Value.dump.__module__)"
    result = subprocess.run(
        [sys.executable, "-c", probe], capture_output=True, text=True, check=True
    )
    assert result.stdout.strip() == "coffre.tasks.asn1_dump"
    assert Asn1Value.dump is asn1_dump._dump_reading_contents_once


@pytest.mark.parametrize("force", [False, True])
def test_same_bytes_as_asn1crypto_for_what_seals_and_time_stamps_build(
    tsa: LocalTimeStamper, force: bool
) -> None:
    cert = tsa.tsa_cert
    token = tsa.request_tsa_response(timestamp_request(1))
    built = [
        signed_attributes(cert),
        cms.IssuerAndSerialNumber({"issuer": cert.issuer, "serial_number": cert.serial_number}),
        token,  # a whole time-stamp reply: SignedData, certificates, explicit tags
        cms.ContentInfo({"content_type": "data", "content": b"explicitly tagged"}),
    ]
    for value in built:
        original = encode_with(asn1_dump.ORIGINAL_DUMP, value, force)
        patched = encode_with(asn1_dump._dump_reading_contents_once, value, force)
        assert patched == original
        assert type(value).load(patched).dump() == patched  # it parses back


def test_ber_with_indefinite_lengths_becomes_the_same_der() -> None:
    # SEQUENCE (indefinite) { INTEGER 5, OCTET STRING constructed (indefinite) { "ab", "c" } }
    ber = bytes.fromhex("308002010524800402616204016300000000")

    class Pair(core.Sequence):
        _fields = [("number", core.Integer), ("text", core.OctetString)]  # noqa: RUF012

    original = encode_with(asn1_dump.ORIGINAL_DUMP, Pair.load(ber), force=False)
    patched = encode_with(asn1_dump._dump_reading_contents_once, Pair.load(ber), force=False)
    assert patched == original == bytes.fromhex("30080201050403616263")


def test_each_freshly_built_node_is_encoded_once(
    tsa: LocalTimeStamper, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The upstream encoder re-encodes a subtree twice per level above it."""
    encodings = 0
    sequence_set_contents = core.Sequence._set_contents

    def counting(self: core.Sequence, force: bool = False) -> None:
        nonlocal encodings
        encodings += 1
        sequence_set_contents(self, force)

    monkeypatch.setattr(core.Sequence, "_set_contents", counting)

    def count(dump: Callable[..., bytes]) -> int:
        nonlocal encodings
        attributes = signed_attributes(tsa.tsa_cert)
        encodings = 0
        encode_with(dump, attributes, force=False)
        return encodings

    patched, original = count(asn1_dump._dump_reading_contents_once), count(asn1_dump.ORIGINAL_DUMP)
    # Sequences in those attributes: the four attributes, the ESS certificate id and its
    # issuer-serial, the general name and the issuer's RDN attributes.
    assert patched <= 20
    assert original > 10 * patched


def test_another_asn1crypto_release_is_left_alone(monkeypatch: pytest.MonkeyPatch) -> None:
    import asn1crypto

    monkeypatch.setattr(core.Asn1Value, "dump", asn1_dump.ORIGINAL_DUMP)
    monkeypatch.setattr(asn1crypto, "__version__", "1.6.0")
    assert asn1_dump.install() is False
    assert not asn1_dump.installed()
