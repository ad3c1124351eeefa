"""The embedded seal: SoftHSM2 token and in-token key, development CA, local TSA, PAdES.

Everything is real: softhsm2-util and libsofthsm2 through python-pkcs11, RFC 3161 over
HTTP, pyHanko signing and validation. Several homes are prepared in this one process: the
module switches SoftHSM's configuration between them (see ``coffre.tasks.softhsm``), and
each test leaves ``SOFTHSM2_CONF`` and python-pkcs11's loaded module as it found them.
"""

from __future__ import annotations

import asyncio
import hashlib
import os
import signal
import socket
import stat
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pytest
from asn1crypto import algos, tsp
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.hazmat.primitives.asymmetric.utils import Prehashed
from pkcs11 import Attribute, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ecdsa_signature
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import validate_pdf_signature
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import ValidationContext

from coffre.tasks import softhsm
from coffre.tasks.devpki import ensure_dev_ca, issue_seal_certificate, issue_tsa_certificate
from coffre.tasks.embedded_seal import EmbeddedSeal, prepare_embedded_seal
from coffre.tasks.softhsm import (
    SoftHsmError,
    default_softhsm_module,
    ensure_seal_key,
    release_pkcs11,
)
from coffre.tasks.tsa import (
    MAX_REQUEST_BYTES,
    QUERY_TYPE,
    REPLY_TYPE,
    LocalTsa,
    TimeStampRejection,
    serve_tsa,
)
from tests.documents import text_pdf

ORGANISATION = "Boulangerie Martin"

pytestmark = pytest.mark.skipif(
    default_softhsm_module() is None, reason="SoftHSM2 is not installed"
)


@pytest.fixture(autouse=True, scope="module")
def _restore_softhsm_environment() -> Iterator[None]:
    """Put SOFTHSM2_CONF back and unload the module: other tests start from a clean slate."""
    previous = os.environ.get("SOFTHSM2_CONF")
    yield
    module = default_softhsm_module()
    if module is not None:
        release_pkcs11(module)
    if previous is None:
        os.environ.pop("SOFTHSM2_CONF", None)
    else:
        os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture(scope="module")
def seal(tmp_path_factory: pytest.TempPathFactory) -> EmbeddedSeal:
    return prepare_embedded_seal(tmp_path_factory.mktemp("home"), ORGANISATION)


@pytest.fixture(scope="module")
def local_tsa(seal: EmbeddedSeal) -> Iterator[LocalTsa]:
    with serve_tsa(
        "127.0.0.1", 0, seal.tsa_cert_path, seal.tsa_key_path, seal.trust_root_paths[0]
    ) as tsa:
        yield tsa


def _cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _asn1(cert: x509.Certificate) -> asn1_x509.Certificate:
    return asn1_x509.Certificate.load(cert.public_bytes(serialization.Encoding.DER))


def _snapshot(home: Path) -> dict[str, tuple[bytes, int, int] | None]:
    """Content, mode and mtime of every file under ``home``.

    SoftHSM rewrites its token state (``token.object``, ``generation``, ``token.lock``) at
    every login: only their presence counts; the key objects must keep their content.
    """
    result: dict[str, tuple[bytes, int, int] | None] = {}
    for path in sorted(home.rglob("*")):
        name = str(path.relative_to(home))
        if name.startswith("hsm/tokens/") and path.is_file():
            # token.object, generation, token.lock: SoftHSM's own bookkeeping
            keep = path.suffix == ".object" and path.name != "token.object"
            result[name] = (path.read_bytes(), 0, 0) if keep else None
        elif path.is_file():
            info = path.stat()
            result[name] = (path.read_bytes(), info.st_mode, info.st_mtime_ns)
    return result


def _token_public_key(seal: EmbeddedSeal) -> Any:
    with seal.open_session() as session:
        [public] = session.get_objects(
            {Attribute.CLASS: ObjectClass.PUBLIC_KEY, Attribute.LABEL: seal.key_label}
        )
        return softhsm.public_key_from_pkcs11(public)


# --------------------------------------------------------------------------- preparation


def test_prepare_is_idempotent_and_keeps_the_key_in_the_token(tmp_path: Path) -> None:
    home = tmp_path / "home"
    first = prepare_embedded_seal(home, ORGANISATION)
    before = _snapshot(home)
    second = prepare_embedded_seal(home, ORGANISATION)

    assert second == first
    assert _snapshot(home) == before  # not a byte, mode or mtime changed
    assert "pin" not in repr(first) and first.pin.get_secret_value() not in repr(first)

    for name in ("hsm-pin", "hsm-so-pin"):
        assert stat.S_IMODE((home / "secrets" / name).stat().st_mode) == 0o600
    for key in (home / "pki").glob("*.key"):
        assert stat.S_IMODE(key.stat().st_mode) == 0o600

    with first.open_session() as session:
        [private] = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: first.key_label}
        )
        assert private[Attribute.SENSITIVE] is True
        assert private[Attribute.EXTRACTABLE] is False
        assert private[Attribute.ALWAYS_SENSITIVE] is True  # generated in the token
        assert private[Attribute.NEVER_EXTRACTABLE] is True
        assert private[Attribute.TOKEN] is True
        assert private[Attribute.SIGN] is True
        assert private[Attribute.DECRYPT] is False

    token_key = _token_public_key(first)
    assert isinstance(token_key, ec.EllipticCurvePublicKey)
    assert token_key.curve.name == "secp256r1"

    root = _cert(first.trust_root_paths[0])
    seal_cert = _cert(first.seal_cert_path)
    seal_cert.verify_directly_issued_by(root)
    assert seal_cert.public_key() == token_key
    assert first.chain_paths == first.trust_root_paths

    org = x509.NameOID.ORGANIZATION_NAME
    cn = x509.NameOID.COMMON_NAME
    assert seal_cert.subject.get_attributes_for_oid(org)[0].value == ORGANISATION
    assert (
        seal_cert.subject.get_attributes_for_oid(cn)[0].value
        == f"Cachet serveur Coffre — {ORGANISATION}"
    )
    assert (
        root.subject.get_attributes_for_oid(cn)[0].value
        == f"{ORGANISATION} — autorité de développement Coffre"
    )
    usage = seal_cert.extensions.get_extension_for_class(x509.KeyUsage)
    assert usage.critical and usage.value.digital_signature and usage.value.content_commitment
    assert root.extensions.get_extension_for_class(x509.BasicConstraints).value.ca
    lifetime = seal_cert.not_valid_after_utc - seal_cert.not_valid_before_utc
    assert 3 * 365 - 1 <= lifetime.days <= 3 * 365 + 1

    tsa_cert = _cert(first.tsa_cert_path)
    tsa_cert.verify_directly_issued_by(root)
    eku = tsa_cert.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.ExtendedKeyUsageOID.TIME_STAMPING]


def test_raw_ecdsa_signature_of_the_token_verifies_with_the_seal_certificate(
    seal: EmbeddedSeal,
) -> None:
    digest = hashlib.sha256(b"facture 2024-001").digest()
    with seal.open_session() as session:
        [private] = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: seal.key_label}
        )
        raw = private.sign(digest, mechanism=Mechanism.ECDSA)
    public = _cert(seal.seal_cert_path).public_key()
    assert isinstance(public, ec.EllipticCurvePublicKey)
    public.verify(encode_ecdsa_signature(raw), digest, ec.ECDSA(Prehashed(hashes.SHA256())))


def test_two_homes_in_one_process(tmp_path: Path, seal: EmbeddedSeal) -> None:
    other = prepare_embedded_seal(tmp_path / "other", "Garage Dupont")
    other_key = _token_public_key(other)
    assert other_key != _token_public_key(seal)  # switching back reaches the first token
    assert _cert(other.seal_cert_path).public_key() == other_key
    assert _cert(seal.seal_cert_path).public_key() == _token_public_key(seal)
    # and preparing the first home again still finds its key
    assert prepare_embedded_seal(seal.softhsm_conf.parent.parent, ORGANISATION) == seal


def test_rsa_seal_key(tmp_path: Path, seal: EmbeddedSeal) -> None:
    module = seal.module_path
    pin = seal.pin.get_secret_value()
    public = ensure_seal_key(
        module, seal.softhsm_conf, seal.token_label, pin, "coffre-seal-rsa", "rsa", key_id=b"\x02"
    )
    assert isinstance(public, rsa.RSAPublicKey) and public.key_size == 3072
    again = ensure_seal_key(
        module, seal.softhsm_conf, seal.token_label, pin, "coffre-seal-rsa", "rsa", key_id=b"\x02"
    )
    assert again == public
    with pytest.raises(SoftHsmError, match="not ec"):
        ensure_seal_key(module, seal.softhsm_conf, seal.token_label, pin, "coffre-seal-rsa")

    ca = ensure_dev_ca(tmp_path / "pki", ORGANISATION)
    cert_path = issue_seal_certificate(ca, public, ORGANISATION, tmp_path / "pki")
    assert issue_seal_certificate(ca, public, ORGANISATION, tmp_path / "pki") == cert_path
    with seal.open_session() as session:
        [private] = session.get_objects(
            {Attribute.CLASS: ObjectClass.PRIVATE_KEY, Attribute.LABEL: "coffre-seal-rsa"}
        )
        assert private[Attribute.EXTRACTABLE] is False
        signature = private.sign(b"data", mechanism=Mechanism.SHA256_RSA_PKCS)
    cert_key = _cert(cert_path).public_key()
    assert isinstance(cert_key, rsa.RSAPublicKey) and cert_key == public
    cert_key.verify(signature, b"data", padding.PKCS1v15(), hashes.SHA256())


def test_seal_certificate_follows_the_organisation_and_the_ca(tmp_path: Path) -> None:
    key = ec.generate_private_key(ec.SECP256R1()).public_key()
    ca = ensure_dev_ca(tmp_path, ORGANISATION)
    assert ensure_dev_ca(tmp_path, "Another name").cert == ca.cert  # the root is kept
    path = issue_seal_certificate(ca, key, ORGANISATION, tmp_path)
    first = path.read_bytes()
    assert issue_seal_certificate(ca, key, ORGANISATION, tmp_path).read_bytes() == first
    renamed = issue_seal_certificate(ca, key, "Boulangerie Martin SARL", tmp_path)
    assert renamed == path and path.read_bytes() != first
    org = _cert(path).subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)
    assert org[0].value == "Boulangerie Martin SARL"

    # a new root (lost key) re-issues the leaves under it
    ca.root_key_path.unlink()
    new_ca = ensure_dev_ca(tmp_path, ORGANISATION)
    assert new_ca.cert != ca.cert
    tsa_cert, _ = issue_tsa_certificate(new_ca, tmp_path)
    _cert(tsa_cert).verify_directly_issued_by(new_ca.cert)
    issue_seal_certificate(new_ca, key, ORGANISATION, tmp_path)
    _cert(path).verify_directly_issued_by(new_ca.cert)

    long_name = "Société Coopérative Ouvrière de Production des Boulangers Réunis de Lyon"
    long_path = issue_seal_certificate(new_ca, key, long_name, tmp_path / "long")
    cn = _cert(long_path).subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value
    assert isinstance(cn, str) and len(cn) <= 64 and cn.endswith("…")


def test_softhsm_errors_never_show_the_pins(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    pin, so_pin = "user-pin-4242", "so-pin-4242"

    def fails(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        command = args[0]
        if "--show-slots" in command:
            return subprocess.CompletedProcess(command, 0, "Available slots:\n", "")
        return subprocess.CompletedProcess(command, 1, f"echo {pin}", f"bad SO PIN {so_pin}")

    monkeypatch.setattr(softhsm.subprocess, "run", fails)
    with pytest.raises(SoftHsmError) as failure:
        softhsm.ensure_softhsm_token(tmp_path, "coffre-seal", pin, so_pin)
    assert pin not in str(failure.value) and so_pin not in str(failure.value)
    assert "***" in str(failure.value)

    def times_out(*args: Any, **kwargs: Any) -> subprocess.CompletedProcess[str]:
        raise subprocess.TimeoutExpired(args[0], 60)

    monkeypatch.setattr(softhsm.subprocess, "run", times_out)
    with pytest.raises(SoftHsmError) as failure:
        softhsm.ensure_softhsm_token(tmp_path, "coffre-seal", pin, so_pin)
    assert pin not in str(failure.value)
    assert failure.value.__cause__ is None and failure.value.__suppress_context__


def test_wrong_pin_is_reported_without_the_pin(seal: EmbeddedSeal) -> None:
    with pytest.raises(SoftHsmError) as failure:
        ensure_seal_key(
            seal.module_path, seal.softhsm_conf, seal.token_label, "wrong-pin-1", seal.key_label
        )
    assert "wrong-pin-1" not in str(failure.value)


# --------------------------------------------------------------------------- the local TSA


def test_local_tsa_time_stamps_with_its_certificate(
    seal: EmbeddedSeal, local_tsa: LocalTsa
) -> None:
    digest = hashlib.sha256(b"coffre").digest()
    token = asyncio.run(HTTPTimeStamper(local_tsa.url).async_timestamp(digest, "sha256"))
    signed_data = token["content"]
    tst_info = signed_data["encap_content_info"]["content"].parsed
    assert tst_info["message_imprint"]["hashed_message"].native == digest
    assert tst_info["message_imprint"]["hash_algorithm"]["algorithm"].native == "sha256"

    tsa_cert = _asn1(_cert(seal.tsa_cert_path))
    sid = signed_data["signer_infos"][0]["sid"].chosen
    assert sid["issuer"] == tsa_cert.issuer
    assert sid["serial_number"].native == tsa_cert.serial_number
    embedded = [c.chosen.dump() for c in signed_data["certificates"]]
    assert tsa_cert.dump() in embedded
    assert _asn1(_cert(seal.trust_root_paths[0])).dump() in embedded

    async def validate() -> TimestampSignatureStatus:
        vc = ValidationContext(trust_roots=seal.trust_roots(), revocation_mode="soft-fail")
        kwargs = await validate_tst_signed_data(
            signed_data, vc, expected_tst_imprint=lambda _algo: digest
        )
        return TimestampSignatureStatus(**kwargs)

    status = asyncio.run(validate())
    assert status.intact and status.valid and status.trusted, status.trust_problem_indic
    assert status.signing_cert.subject == tsa_cert.subject


def _post(url: str, body: bytes, content_type: str = QUERY_TYPE, method: str = "POST") -> Any:
    request = urllib.request.Request(  # noqa: S310 - the test's loopback TSA
        url, data=body if method == "POST" else None, method=method
    )
    request.add_header("Content-Type", content_type)
    try:
        with urllib.request.urlopen(request, timeout=5) as response:  # noqa: S310
            return response.status, response.headers.get_content_type(), response.read()
    except urllib.error.HTTPError as error:
        return error.code, None, b""


def _request(digest: bytes, algorithm: str = "sha256", **extra: Any) -> bytes:
    return bytes(
        tsp.TimeStampReq(
            {
                "version": "v1",
                "message_imprint": {
                    "hash_algorithm": algos.DigestAlgorithm({"algorithm": algorithm}),
                    "hashed_message": digest,
                },
                "cert_req": True,
                **extra,
            }
        ).dump()
    )


def test_local_tsa_refuses_what_is_not_a_time_stamp_request(local_tsa: LocalTsa) -> None:
    assert _post(local_tsa.url, b"not a time-stamp request")[0] == 400
    assert _post(local_tsa.url, b"\x30\x03\x02\x01\x01")[0] == 400  # DER, but not a request
    assert _post(local_tsa.url, b"", method="GET")[0] == 405
    assert _post(local_tsa.url, b"x", method="PUT")[0] == 405
    assert _post(local_tsa.url, _request(b"\0" * 32), content_type="text/plain")[0] == 415
    assert _post(local_tsa.url, b"\0" * (MAX_REQUEST_BYTES + 1))[0] == 413

    status, content_type, body = _post(local_tsa.url, _request(b"\0" * 32))
    assert (status, content_type) == (200, REPLY_TYPE)
    assert tsp.TimeStampResp.load(body)["status"]["status"].native == "granted"

    # well-formed but not honoured: RFC 3161 rejections
    for request, failure in (
        (_request(b"\0" * 20, "sha1"), "bad_alg"),
        (_request(b"\0" * 31), "bad_data_format"),
        (_request(b"\0" * 32, req_policy="1.2.3.4"), "unaccepted_policy"),
    ):
        status, content_type, body = _post(local_tsa.url, request)
        assert (status, content_type) == (200, REPLY_TYPE)
        info = TimeStampRejection.load(body)["status"]
        assert info["status"].native == "rejection"
        assert failure in info["fail_info"].native


# --------------------------------------------------------------------------- end to end


def test_sealed_pdf_validates_against_the_dev_root(
    tmp_path: Path, seal: EmbeddedSeal, local_tsa: LocalTsa
) -> None:
    out = BytesIO()
    with seal.open_session() as session:
        signer = PKCS11Signer(
            session,
            key_label=seal.key_label,
            cert_label=None,
            signing_cert=seal.signing_cert(),
            ca_chain=seal.ca_chain(),
            use_raw_mechanism=True,
        )
        signers.sign_pdf(
            IncrementalPdfFileWriter(BytesIO(text_pdf(["Facture 2024-001", "Total 42,00 EUR"]))),
            signers.PdfSignatureMetadata(
                field_name="CoffreSeal", subfilter=fields.SigSeedSubFilter.PADES
            ),
            signer=signer,
            timestamper=HTTPTimeStamper(local_tsa.url),
            output=out,
        )

    reader = PdfFileReader(BytesIO(out.getvalue()))
    [embedded] = reader.embedded_signatures
    assert embedded.field_name == "CoffreSeal"
    context = ValidationContext(trust_roots=seal.trust_roots(), revocation_mode="soft-fail")
    status = validate_pdf_signature(embedded, context)
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.signing_cert.subject == seal.signing_cert().subject
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.intact and status.timestamp_validity.valid
    assert status.timestamp_validity.trusted

    # the same document does not validate against another root
    stranger = ensure_dev_ca(tmp_path / "pki", "Autre")
    untrusting = ValidationContext(trust_roots=[_asn1(stranger.cert)], revocation_mode="soft-fail")
    assert not validate_pdf_signature(embedded, untrusting).trusted


def test_tsa_module_serves_until_sigterm(seal: EmbeddedSeal) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    process = subprocess.Popen(
        [
            sys.executable,
            "-m",
            "coffre.tasks.tsa",
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
            "--cert",
            str(seal.tsa_cert_path),
            "--key",
            str(seal.tsa_key_path),
            "--ca",
            str(seal.trust_root_paths[0]),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
    )
    try:
        url = f"http://127.0.0.1:{port}/"
        deadline = time.monotonic() + 15
        while True:
            try:
                status, content_type, _ = _post(url, _request(b"\1" * 32))
                break
            except urllib.error.URLError:
                if time.monotonic() > deadline or process.poll() is not None:
                    raise
                time.sleep(0.1)
        assert (status, content_type) == (200, REPLY_TYPE)
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        assert process.stdout is not None and process.stderr is not None
        process.stdout.close()
        process.stderr.close()
