"""The test PKI and SoftHSM2 fixtures work with the real protocols: RFC 3161 over HTTP,
OCSP and CRLs over HTTP, PKCS#11 on SoftHSM2, PAdES with pyHanko, and poppler's pdfsig."""

from __future__ import annotations

import asyncio
import datetime as dt
import hashlib
import shutil
import subprocess
import urllib.request
from collections.abc import Iterator
from io import BytesIO
from pathlib import Path
from typing import Any

import pikepdf
import pkcs11
import pytest
from asn1crypto import crl as asn1_crl
from asn1crypto import x509 as asn1_x509
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec, padding, rsa
from cryptography.x509 import ocsp
from pkcs11 import Attribute, KeyType, Mechanism, ObjectClass
from pkcs11.util.ec import encode_ecdsa_signature
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign import fields, signers
from pyhanko.sign.ades.report import AdESPassed
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.timestamps import HTTPTimeStamper
from pyhanko.sign.validation import (
    DocumentSecurityStore,
    validate_pdf_signature,
    validate_pdf_timestamp,
)
from pyhanko.sign.validation.ades import ades_lta_validation
from pyhanko.sign.validation.generic_cms import validate_tst_signed_data
from pyhanko.sign.validation.policy_decl import (
    PdfSignatureValidationSpec,
    RevinfoOnlineFetchingRule,
    RevocationInfoGatheringSpec,
    SignatureValidationSpec,
)
from pyhanko.sign.validation.status import TimestampSignatureStatus
from pyhanko_certvalidator import CertificateValidator, ValidationContext
from pyhanko_certvalidator.context import CertValidationPolicySpec
from pyhanko_certvalidator.errors import ExpiredError, PathBuildingError, RevokedError
from pyhanko_certvalidator.policy_decl import REQUIRE_REVINFO, CertRevTrustPolicy
from pyhanko_certvalidator.registry import SimpleTrustManager

from tests.pki import SoftHsmToken, TestPki, make_pki

# The fixtures of tests/pki.py, for this module (a conftest would import them instead).


def _load_cert(path: Path) -> x509.Certificate:
    return x509.load_pem_x509_certificate(path.read_bytes())


def _small_pdf() -> bytes:
    buf = BytesIO()
    with pikepdf.new() as pdf:
        pdf.add_blank_page(page_size=(595, 842))
        pdf.save(buf)
    return buf.getvalue()


def _validation_context(pki: TestPki, **kwargs: Any) -> ValidationContext:
    return ValidationContext(trust_roots=[pki.root_cert], allow_fetching=True, **kwargs)


# --------------------------------------------------------------------------- the PKI


def test_certificates_have_the_expected_profile(test_pki: TestPki) -> None:
    for name in ("seal-ec", "seal-rsa", "seal-expired", "seal-revoked"):
        cert = _load_cert(test_pki.cert_path(name))
        subject = cert.subject
        assert subject.get_attributes_for_oid(x509.NameOID.ORGANIZATION_NAME)[0].value == (
            "Coffre Test"
        )
        assert subject.get_attributes_for_oid(x509.NameOID.COMMON_NAME)[0].value == (
            "Coffre Test Seal"
        )
        ku = cert.extensions.get_extension_for_class(x509.KeyUsage)
        assert ku.critical and ku.value.digital_signature and ku.value.content_commitment
        aia = cert.extensions.get_extension_for_class(x509.AuthorityInformationAccess).value
        urls = {d.access_method: d.access_location.value for d in aia}
        assert urls[x509.AuthorityInformationAccessOID.OCSP] == test_pki.ocsp_url
        assert urls[x509.AuthorityInformationAccessOID.CA_ISSUERS].startswith(test_pki.base_url)
        cdp = cert.extensions.get_extension_for_class(x509.CRLDistributionPoints).value
        assert cdp[0].full_name is not None
        assert cdp[0].full_name[0].value == test_pki.crl_url("interm")
        key = serialization.load_pem_private_key(test_pki.key_path(name).read_bytes(), None)
        assert key.public_key() == cert.public_key()
    assert isinstance(
        _load_cert(test_pki.cert_path("seal-ec")).public_key(), ec.EllipticCurvePublicKey
    )
    rsa_key = _load_cert(test_pki.cert_path("seal-rsa")).public_key()
    assert isinstance(rsa_key, rsa.RSAPublicKey) and rsa_key.key_size == 3072

    tsa = _load_cert(test_pki.tsa_cert_path)
    eku = tsa.extensions.get_extension_for_class(x509.ExtendedKeyUsage)
    assert eku.critical and list(eku.value) == [x509.ExtendedKeyUsageOID.TIME_STAMPING]
    assert test_pki.tsa_url.startswith(test_pki.base_url)


def test_tsa_answers_rfc3161_and_token_validates(test_pki: TestPki) -> None:
    digest = hashlib.sha256(b"coffre").digest()

    async def run() -> TimestampSignatureStatus:
        token = await HTTPTimeStamper(test_pki.tsa_url).async_timestamp(digest, "sha256")
        vc = _validation_context(test_pki, revocation_mode="require")
        try:
            kwargs = await validate_tst_signed_data(
                token["content"], vc, expected_tst_imprint=lambda _algo: digest
            )
        finally:
            await vc.aclose()
        return TimestampSignatureStatus(**kwargs)

    status = asyncio.run(run())
    assert status.intact and status.valid and status.trusted, status.trust_problem_indic
    assert status.signing_cert.subject == test_pki.cert("tsa").subject
    assert abs((status.timestamp - dt.datetime.now(dt.UTC)).total_seconds()) < 60


def _ocsp_status(pki: TestPki, name: str) -> ocsp.OCSPResponse:
    request = (
        ocsp.OCSPRequestBuilder()
        .add_certificate(
            _load_cert(pki.cert_path(name)), _load_cert(pki.intermediate_cert_path), hashes.SHA256()
        )
        .build()
    )
    http_request = urllib.request.Request(  # noqa: S310 (http URL of the test server)
        pki.ocsp_url,
        data=request.public_bytes(serialization.Encoding.DER),
        headers={"Content-Type": "application/ocsp-request"},
    )
    with urllib.request.urlopen(http_request, timeout=10) as response:  # noqa: S310
        assert response.headers["Content-Type"] == "application/ocsp-response"
        return ocsp.load_der_ocsp_response(response.read())


def test_ocsp_responder_and_crl(test_pki: TestPki) -> None:
    good = _ocsp_status(test_pki, "seal-ec")
    assert good.response_status == ocsp.OCSPResponseStatus.SUCCESSFUL
    assert good.certificate_status == ocsp.OCSPCertStatus.GOOD
    revoked = _ocsp_status(test_pki, "seal-revoked")
    assert revoked.certificate_status == ocsp.OCSPCertStatus.REVOKED
    assert revoked.revocation_reason == x509.ReasonFlags.key_compromise

    with urllib.request.urlopen(test_pki.crl_url("interm"), timeout=10) as response:  # noqa: S310
        crl = asn1_crl.CertificateList.load(response.read())
    revoked_serials = {
        entry["user_certificate"].native for entry in crl["tbs_cert_list"]["revoked_certificates"]
    }
    assert revoked_serials == {test_pki.cert("seal-revoked").serial_number}
    with urllib.request.urlopen(test_pki.crl_url("root"), timeout=10) as response:  # noqa: S310
        root_crl = asn1_crl.CertificateList.load(response.read())
    assert root_crl.issuer == test_pki.root_cert.subject


def _validate(pki: TestPki, name: str, *, with_intermediate: bool = True) -> ValidationContext:
    async def run() -> ValidationContext:
        vc = _validation_context(pki, revocation_mode="require")
        try:
            validator = CertificateValidator(
                pki.cert(name),
                intermediate_certs=[pki.intermediate_cert] if with_intermediate else [],
                validation_context=vc,
            )
            await validator.async_validate_usage({"digital_signature", "non_repudiation"})
            return vc
        finally:
            await vc.aclose()

    return asyncio.run(run())


def test_certvalidator_good_revoked_expired(test_pki: TestPki) -> None:
    # seal-ec: the intermediate is fetched through AIA caIssuers, status through OCSP/CRL.
    vc = _validate(test_pki, "seal-ec", with_intermediate=False)
    assert vc.ocsps, "no OCSP response was fetched"
    assert vc.crls, "no CRL was fetched (root's, for the intermediate)"
    _validate(test_pki, "seal-rsa")
    with pytest.raises(RevokedError):
        _validate(test_pki, "seal-revoked")
    with pytest.raises(ExpiredError):
        _validate(test_pki, "seal-expired")


def test_second_pki_is_not_trusted_by_the_first(test_pki: TestPki, tmp_path: Path) -> None:
    with make_pki(tmp_path / "other", "other") as other:
        assert other.base_url != test_pki.base_url
        assert other.root_cert.subject != test_pki.root_cert.subject
        with pytest.raises(PathBuildingError):
            _validate_against(test_pki, other, "seal-ec")
        _validate(other, "seal-ec")  # its own services answer


def _validate_against(trusted: TestPki, other: TestPki, name: str) -> None:
    async def run() -> None:
        vc = _validation_context(trusted)
        try:
            await CertificateValidator(
                other.cert(name),
                intermediate_certs=[other.intermediate_cert],
                validation_context=vc,
            ).async_validate_usage({"non_repudiation"})
        finally:
            await vc.aclose()

    asyncio.run(run())


# --------------------------------------------------------------------------- SoftHSM2


@pytest.fixture
def hsm_session(softhsm_token: SoftHsmToken) -> Iterator[pkcs11.Session]:
    lib = pkcs11.lib(softhsm_token.module_path)
    token = lib.get_token(token_label=softhsm_token.token_label)
    with token.open(user_pin=softhsm_token.user_pin) as session:
        yield session


def test_softhsm_holds_both_keys_and_signs(
    softhsm_token: SoftHsmToken, hsm_session: pkcs11.Session
) -> None:
    data = b"Coffre test data to seal"
    ec_key = softhsm_token.key("seal-ec")
    rsa_key = softhsm_token.key("seal-rsa")

    # raw ECDSA over a SHA-256 digest (SoftHSM2 has no CKM_ECDSA_SHA256)
    ec_priv: pkcs11.SignMixin = hsm_session.get_key(  # type: ignore[assignment]
        object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.EC, label=ec_key.key_label
    )
    assert ec_priv[Attribute.ID] == ec_key.key_id
    raw = ec_priv.sign(hashlib.sha256(data).digest(), mechanism=Mechanism.ECDSA)
    ec_pub = _load_cert(ec_key.cert_path).public_key()
    assert isinstance(ec_pub, ec.EllipticCurvePublicKey)
    ec_pub.verify(encode_ecdsa_signature(raw), data, ec.ECDSA(hashes.SHA256()))

    # RSA PKCS#1 v1.5 with SHA-256, hashed by the token
    rsa_priv: pkcs11.SignMixin = hsm_session.get_key(  # type: ignore[assignment]
        object_class=ObjectClass.PRIVATE_KEY, key_type=KeyType.RSA, label=rsa_key.key_label
    )
    assert rsa_priv[Attribute.ID] == rsa_key.key_id
    signature = rsa_priv.sign(data, mechanism=Mechanism.SHA256_RSA_PKCS)
    rsa_pub = _load_cert(rsa_key.cert_path).public_key()
    assert isinstance(rsa_pub, rsa.RSAPublicKey)
    rsa_pub.verify(signature, data, padding.PKCS1v15(), hashes.SHA256())

    # the certificates sit next to their keys
    certs = {
        obj[Attribute.LABEL]: asn1_x509.Certificate.load(obj[Attribute.VALUE])
        for obj in hsm_session.get_objects({Attribute.CLASS: ObjectClass.CERTIFICATE})
    }
    assert set(certs) == {"seal-ec", "seal-rsa"}
    for key in (ec_key, rsa_key):
        expected = _load_cert(key.cert_path).public_bytes(serialization.Encoding.DER)
        assert certs[key.key_label].dump() == expected


# --------------------------------------------------------------------------- pyHanko


def _seal_pdf(pki: TestPki, session: pkcs11.Session, key_label: str, *, raw: bool) -> bytes:
    signer = PKCS11Signer(
        session,
        key_label=key_label,
        cert_label=key_label,  # the certificate is pulled from the token
        ca_chain=[pki.intermediate_cert],
        use_raw_mechanism=raw,
    )
    meta = signers.PdfSignatureMetadata(
        field_name="CoffreSeal",
        subfilter=fields.SigSeedSubFilter.PADES,
        embed_validation_info=True,  # B-LT: OCSP responses and CRLs into the DSS
        use_pades_lta=True,  # B-LTA: a document timestamp after the DSS
        validation_context=_validation_context(pki),
    )
    out = BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(_small_pdf())),
        meta,
        signer=signer,
        timestamper=HTTPTimeStamper(pki.tsa_url),
        output=out,
    )
    return out.getvalue()


@pytest.mark.parametrize(("key_label", "raw"), [("seal-ec", True), ("seal-rsa", False)])
def test_pyhanko_pades_b_lta_on_softhsm(
    test_pki: TestPki, hsm_session: pkcs11.Session, key_label: str, raw: bool
) -> None:
    signed = _seal_pdf(test_pki, hsm_session, key_label, raw=raw)

    reader = PdfFileReader(BytesIO(signed))
    [sig] = reader.embedded_regular_signatures
    status = validate_pdf_signature(sig, _validation_context(test_pki, revocation_mode="hard-fail"))
    assert status.intact and status.valid and status.trusted, status.pretty_print_details()
    assert status.bottom_line
    assert status.signing_cert.subject == test_pki.cert(key_label).subject
    assert status.timestamp_validity is not None
    assert status.timestamp_validity.trusted

    dss = DocumentSecurityStore.read_dss(reader)
    assert dss.ocsps and dss.crls and dss.certs

    [doc_ts] = reader.embedded_timestamp_signatures
    ts_status = validate_pdf_timestamp(doc_ts, _validation_context(test_pki))
    assert ts_status.intact and ts_status.valid and ts_status.trusted

    # AdES LTA validation (ETSI EN 319 102-1) from the embedded data alone: no fetching.
    spec = PdfSignatureValidationSpec(
        SignatureValidationSpec(
            cert_validation_policy=CertValidationPolicySpec(
                trust_manager=SimpleTrustManager.build(trust_roots=[test_pki.root_cert]),
                revinfo_policy=CertRevTrustPolicy(REQUIRE_REVINFO),
            ),
            revinfo_gathering_policy=RevocationInfoGatheringSpec(
                online_fetching_rule=RevinfoOnlineFetchingRule.LOCAL_ONLY
            ),
        )
    )
    lta = asyncio.run(ades_lta_validation(sig, spec))
    assert lta.ades_subindic == AdESPassed.OK, lta.ades_subindic


# --------------------------------------------------------------------------- poppler


def _pdfsig(pki: TestPki, pdf: Path, workdir: Path) -> str:
    """pdfsig's report on ``pdf``, with ``pki``'s root as the only trust anchor (NSS)."""
    if shutil.which("pdfsig") is None or shutil.which("certutil") is None:
        pytest.fail("pdfsig (poppler-utils) and certutil (libnss3-tools) are required")
    nss = workdir / "nssdb"
    if not nss.exists():
        nss.mkdir()
        for args in (
            ["-N", "--empty-password"],
            ["-A", "-n", "root", "-t", "CT,C,C", "-i", str(pki.root_cert_path)],
        ):
            subprocess.run(["certutil", "-d", f"sql:{nss}", *args], check=True, capture_output=True)
    result = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(pdf)], capture_output=True, text=True, timeout=60
    )
    print(result.stdout, result.stderr)
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_pdfsig_accepts_the_seal(
    test_pki: TestPki, hsm_session: pkcs11.Session, tmp_path: Path
) -> None:
    signed = tmp_path / "sealed.pdf"
    signed.write_bytes(_seal_pdf(test_pki, hsm_session, "seal-ec", raw=True))
    report = _pdfsig(test_pki, signed, tmp_path)
    first = report.split("Signature #2:")[0]
    assert "Signature Field Name: CoffreSeal" in first
    assert "Signature Type: ETSI.CAdES.detached" in first
    assert "Signature Validation: Signature is Valid." in first
    assert "Certificate Validation: Certificate is Trusted." in first
    # poppler 22.12 lists the B-LTA document timestamp but cannot validate it.
    assert "Signer Certificate Common Name: Coffre Test TSA" in report


def test_pdfsig_checks_ocsp(test_pki: TestPki, tmp_path: Path) -> None:
    """pdfsig asks the OCSP responder (no -no-ocsp): a revoked seal is reported as such."""
    signer = signers.SimpleSigner.load(
        str(test_pki.key_path("seal-revoked")),
        str(test_pki.cert_path("seal-revoked")),
        ca_chain_files=(str(test_pki.intermediate_cert_path),),
    )
    assert signer is not None
    out = BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(BytesIO(_small_pdf())),
        signers.PdfSignatureMetadata(field_name="Revoked", subfilter=fields.SigSeedSubFilter.PADES),
        signer=signer,
        output=out,
    )
    signed = tmp_path / "revoked.pdf"
    signed.write_bytes(out.getvalue())
    report = _pdfsig(test_pki, signed, tmp_path)
    assert "Signature Validation: Signature is Valid." in report
    assert "Certificate Validation: Certificate has been Revoked." in report
