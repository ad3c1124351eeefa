"""Is this a sealed document, intact, trusted and timestamped? In words, for `coffre verify`."""

from __future__ import annotations

import io
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pyhanko.pdf_utils.misc import PdfReadError
from pyhanko.pdf_utils.reader import PdfFileReader
from pyhanko.sign.diff_analysis import ModificationLevel
from pyhanko.sign.general import UnacceptableSignerError
from pyhanko.sign.validation import validate_pdf_signature, validate_pdf_timestamp
from pyhanko.sign.validation.pdf_embedded import EmbeddedPdfSignature
from pyhanko.sign.validation.status import SignatureCoverageLevel
from pyhanko_certvalidator import ValidationContext

from coffre.tasks import asn1_dump
from coffre.tasks.pki import load_certificates

asn1_dump.install()  # encode CMS structures in linear time (see the module)


@dataclass
class VerifyReport:
    ok: bool
    reasons: list[str] = field(default_factory=list)
    level: str | None = None
    signer: str | None = None
    signing_time: str | None = None
    timestamp_time: str | None = None
    document_timestamps: int = 0

    def to_json(self) -> dict[str, Any]:
        return asdict(self)


def _name(certificate: asn1_x509.Certificate) -> str:
    subject = certificate.subject.native
    parts = [subject.get("organization_name"), subject.get("common_name")]
    return " — ".join(str(part) for part in parts if part) or certificate.subject.human_friendly


def _tst_info(signed_data: cms.SignedData) -> tsp.TSTInfo:
    return signed_data["encap_content_info"]["content"].parsed


def _signature_timestamp(sig: EmbeddedPdfSignature) -> cms.SignedData | None:
    attributes = sig.signer_info["unsigned_attrs"]
    if not attributes:
        return None
    for attribute in attributes:
        if attribute["type"].native == "signature_time_stamp_token":
            return attribute["values"][0]["content"]
    return None


def tsa_certificate(signed_data: cms.SignedData) -> asn1_x509.Certificate | None:
    for choice in signed_data["certificates"] or []:
        certificate = choice.chosen
        usage = certificate.extended_key_usage_value
        if usage is not None and "time_stamping" in usage.native:
            return certificate
    return None


def _reader(data: bytes) -> PdfFileReader:
    return PdfFileReader(io.BytesIO(data), strict=False)


def signing_time(data: bytes) -> datetime:
    """When the newest regular signature was made (its timestamp, else its own claim)."""
    [*_, sig] = _reader(data).embedded_regular_signatures
    token = _signature_timestamp(sig)
    if token is not None:
        gen_time: datetime = _tst_info(token)["gen_time"].native
        return gen_time
    return sig.self_reported_timestamp or datetime.now(UTC)


def newest_timestamp_expiry(data: bytes) -> datetime | None:
    """When the certificate of the newest timestamp (document timestamp first) expires."""
    reader = _reader(data)
    tokens = [ts.signed_data for ts in reader.embedded_timestamp_signatures]
    if not tokens:
        regular = reader.embedded_regular_signatures
        token = _signature_timestamp(regular[-1]) if regular else None
        tokens = [token] if token is not None else []
    if not tokens:
        return None
    certificate = tsa_certificate(tokens[-1])
    return certificate.not_valid_after if certificate is not None else None


def verify_pdf(
    data: bytes,
    trust_roots: list[asn1_x509.Certificate],
    *,
    revocation_mode: Literal["soft-fail", "hard-fail", "require"] = "soft-fail",
    other_certs: list[asn1_x509.Certificate] | None = None,
) -> VerifyReport:
    """Check the newest seal of a PDF: integrity, coverage, trust, timestamp.

    Any file, however damaged, gets a report rather than an exception.
    """
    try:
        return _verify(data, trust_roots, revocation_mode, other_certs)
    except Exception as error:  # noqa: BLE001 - a damaged file is a verdict, not a crash
        return VerifyReport(
            False, [f"the file cannot be read as a sealed PDF ({type(error).__name__}: {error})"]
        )


def _verify(
    data: bytes,
    trust_roots: list[asn1_x509.Certificate],
    revocation_mode: Literal["soft-fail", "hard-fail", "require"],
    other_certs: list[asn1_x509.Certificate] | None,
) -> VerifyReport:
    try:
        reader = _reader(data)
        signatures = reader.embedded_regular_signatures
    except (PdfReadError, ValueError, KeyError) as error:
        return VerifyReport(False, [f"not a readable PDF ({error})"])
    if not signatures:
        return VerifyReport(False, ["the document carries no seal"])
    sig = signatures[-1]
    context = ValidationContext(
        trust_roots=trust_roots,
        other_certs=other_certs or [],
        allow_fetching=True,
        revocation_mode=revocation_mode,
    )
    report = VerifyReport(ok=True, signer=_name(sig.signer_cert))
    try:
        status = validate_pdf_signature(sig, context)
    except (UnacceptableSignerError, ValueError) as error:
        return VerifyReport(False, [f"the seal cannot be validated: {error}"], signer=report.signer)

    if not status.intact:
        report.reasons.append(
            "the document was altered after it was sealed (integrity check failed)"
        )
    elif not status.valid:
        report.reasons.append("the seal's cryptographic signature is not valid")
    acceptable = {ModificationLevel.NONE, ModificationLevel.LTA_UPDATES}
    if status.coverage != SignatureCoverageLevel.ENTIRE_FILE and (
        status.coverage != SignatureCoverageLevel.ENTIRE_REVISION
        or status.modification_level not in acceptable
    ):
        report.reasons.append(
            "the file was changed after it was sealed (an update other than timestamps)"
        )
    if status.revoked:
        report.reasons.append("the seal certificate has been revoked")
    elif not status.trusted:
        detail = str(status.trust_problem_indic or "untrusted")
        report.reasons.append(
            f"the seal certificate does not chain to a trusted root, or is not valid ({detail})"
        )
    timestamp = status.timestamp_validity
    if timestamp is None:
        report.reasons.append("the seal has no timestamp")
    elif not (timestamp.intact and timestamp.valid and timestamp.trusted):
        report.reasons.append("the seal's timestamp is not valid or not trusted")
    else:
        report.timestamp_time = timestamp.timestamp.isoformat()
    report.signing_time = report.timestamp_time or (
        status.signer_reported_dt.isoformat() if status.signer_reported_dt else None
    )

    document_timestamps = [
        ts
        for ts in reader.embedded_timestamp_signatures
        if ts.signed_revision > sig.signed_revision
    ]
    report.document_timestamps = len(document_timestamps)
    for ts in document_timestamps:
        ts_status = validate_pdf_timestamp(ts, context)
        if not (ts_status.intact and ts_status.valid and ts_status.trusted):
            report.reasons.append("a document timestamp is not valid or not trusted")
            break
    has_dss = _has_dss(reader)
    if timestamp is None:
        report.level = "B-B"
    elif document_timestamps and has_dss:
        report.level = "B-LTA"
    elif has_dss:
        report.level = "B-LT"
    else:
        report.level = "B-T"
    report.ok = not report.reasons
    return report


def _has_dss(reader: PdfFileReader) -> bool:
    return "/DSS" in reader.root


def verify_file(path: Path, trust_root_paths: list[Path]) -> VerifyReport:
    return verify_pdf(path.read_bytes(), load_certificates(trust_root_paths))
