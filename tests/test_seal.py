"""Seals made on SoftHSM2 with the test PKI's TSA, checked by Coffre, pyHanko and pdfsig."""

from __future__ import annotations

import io
import subprocess
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pikepdf
import pytest
from pydantic import SecretStr
from pyhanko.pdf_utils.generic import NameObject, TextStringObject
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.timestamps import HTTPTimeStamper

from coffre.tasks.normalize import NormalizeLimits, normalize
from coffre.tasks.pdf import pdfa_conformance
from coffre.tasks.pki import load_certificates
from coffre.tasks.seal import SealConfig, Sealer, SealError, SealLevel, seal_bytes
from coffre.tasks.sniff import sniff
from coffre.tasks.verify import newest_timestamp_expiry, verify_pdf
from tests import documents
from tests.pki import SoftHsmToken, TestPki, make_pki


@pytest.fixture(scope="module")
def pdfa(tmp_path_factory: pytest.TempPathFactory) -> bytes:
    """An archive copy as capture makes it: PDF/A-2b with text."""
    seed = documents.text_pdf(documents.INVOICE_LINES)
    work = tmp_path_factory.mktemp("normalize")
    return normalize(seed, sniff(seed), NormalizeLimits(10, 10**8, "fra+eng", 300), work).archive


def config_for(
    pki: TestPki, token: SoftHsmToken, key: str = "seal-ec", **changes: object
) -> SealConfig:
    values: dict[str, object] = {
        "module_path": token.module_path,
        "token_label": token.token_label,
        "key_label": token.key(key).key_label,
        "pin": SecretStr(token.user_pin),
        "tsa_url": pki.tsa_url,
        "trust_root_paths": (pki.root_cert_path,),
        "chain_paths": (pki.intermediate_cert_path,),
        "level": SealLevel.B_LTA,
        "revocation_mode": "hard-fail",
    }
    values.update(changes)
    return SealConfig(**values)  # type: ignore[arg-type]


def check(pki: TestPki, data: bytes):  # type: ignore[no-untyped-def]
    return verify_pdf(data, [pki.root_cert], revocation_mode="hard-fail")


@pytest.mark.parametrize(
    ("key", "level"),
    [
        ("seal-ec", SealLevel.B_T),
        ("seal-ec", SealLevel.B_LT),
        ("seal-ec", SealLevel.B_LTA),
        ("seal-rsa", SealLevel.B_LTA),
    ],
)
def test_seal_levels_on_softhsm(
    test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes, key: str, level: SealLevel
) -> None:
    result = seal_bytes(config_for(test_pki, softhsm_token, key, level=level), pdfa)
    assert result.data.startswith(pdfa)  # an incremental update: the archive bytes untouched
    report = check(test_pki, result.data)
    assert report.ok, report.reasons
    assert report.level == level.value
    assert report.signer == "Coffre Test — Coffre Test Seal"
    assert report.timestamp_time is not None
    assert result.timestamp_expires_at is not None
    with pikepdf.open(io.BytesIO(result.data)) as sealed:
        assert pdfa_conformance(sealed) == "2B"


def test_one_session_seals_a_batch(
    test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes
) -> None:
    config = config_for(test_pki, softhsm_token, level=SealLevel.B_T)
    with Sealer(config) as sealer:
        results = [sealer.seal(pdfa) for _ in range(5)]
    assert len({r.data for r in results}) == 5
    assert all(check(test_pki, r.data).ok for r in results)


def test_visible_stamp_keeps_pdfa(
    test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes
) -> None:
    config = config_for(test_pki, softhsm_token, level=SealLevel.B_T, visible_stamp=True)
    sealed = seal_bytes(config, pdfa).data
    assert check(test_pki, sealed).ok
    with pikepdf.open(io.BytesIO(sealed)) as pdf:
        assert pdfa_conformance(pdf) == "2B"
        [widget] = [a for a in pdf.pages[0].obj.Annots if a.get("/FT") == "/Sig"]
        assert float(widget.Rect[2]) > float(widget.Rect[0])  # a real box on the page
    text = subprocess.run(
        ["pdftotext", "-", "-"], input=sealed, capture_output=True, check=True
    ).stdout.decode()
    assert "Scellé électroniquement par" in text


def test_pdfsig_finds_the_seal_valid(
    test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes, tmp_path: Path
) -> None:
    sealed = tmp_path / "sealed.pdf"
    sealed.write_bytes(seal_bytes(config_for(test_pki, softhsm_token), pdfa).data)
    nss = tmp_path / "nss"
    nss.mkdir()
    subprocess.run(["certutil", "-N", "-d", f"sql:{nss}", "--empty-password"], check=True)
    subprocess.run(
        [
            "certutil",
            "-A",
            "-d",
            f"sql:{nss}",
            "-n",
            "root",
            "-t",
            "CT,C,C",
            "-i",
            str(test_pki.root_cert_path),
        ],
        check=True,
    )
    out = subprocess.run(
        ["pdfsig", "-nssdir", f"sql:{nss}", str(sealed)], capture_output=True, text=True
    ).stdout
    first = out.split("Signature #2")[0]
    assert "Signature Field Name: CoffreSeal" in first
    assert "Signature Validation: Signature is Valid." in first
    assert "Certificate Validation: Certificate is Trusted." in first


# ---------------------------------------------------------------- what verify must catch


@pytest.fixture
def sealed(test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes) -> bytes:
    return seal_bytes(config_for(test_pki, softhsm_token, level=SealLevel.B_T), pdfa).data


def test_one_flipped_byte_is_caught(test_pki: TestPki, sealed: bytes, pdfa: bytes) -> None:
    data = bytearray(sealed)
    position = data.find(b"PAPETERIE") if b"PAPETERIE" in data else len(pdfa) // 2
    data[position] ^= 0x01
    report = check(test_pki, bytes(data))
    assert not report.ok
    assert any("altered" in r or "not valid" in r for r in report.reasons), report.reasons


def test_update_appended_after_the_seal_is_caught(test_pki: TestPki, sealed: bytes) -> None:
    writer = IncrementalPdfFileWriter(io.BytesIO(sealed))
    writer.root[NameObject("/Lang")] = TextStringObject("en-GB")
    writer.update_root()
    out = io.BytesIO()
    writer.write(out)
    report = check(test_pki, out.getvalue())
    assert not report.ok
    assert any("changed after it was sealed" in r for r in report.reasons), report.reasons


def test_untrusted_root_is_caught(sealed: bytes, tmp_path: Path) -> None:
    with make_pki(tmp_path, "other") as other:
        report = verify_pdf(sealed, [other.root_cert], revocation_mode="hard-fail")
    assert not report.ok
    assert any("trusted root" in r for r in report.reasons), report.reasons


def _sign_with_file_key(pki: TestPki, name: str, *, timestamp: bool, pdf: bytes) -> bytes:
    signer = signers.SimpleSigner.load(
        str(pki.key_path(name)),
        str(pki.cert_path(name)),
        ca_chain_files=(str(pki.intermediate_cert_path),),
    )
    assert signer is not None
    out = io.BytesIO()
    signers.sign_pdf(
        IncrementalPdfFileWriter(io.BytesIO(pdf)),
        signers.PdfSignatureMetadata(
            field_name="CoffreSeal", subfilter=fields.SigSeedSubFilter.PADES
        ),
        signer=signer,
        timestamper=HTTPTimeStamper(pki.tsa_url) if timestamp else None,
        output=out,
    )
    return out.getvalue()


@pytest.mark.parametrize(
    ("name", "timestamp", "words"),
    [
        ("seal-expired", True, "not valid"),
        ("seal-revoked", True, "revoked"),
        ("seal-ec", False, "no timestamp"),
    ],
)
def test_bad_certificates_and_missing_timestamp_are_caught(
    test_pki: TestPki, pdfa: bytes, name: str, timestamp: bool, words: str
) -> None:
    report = check(test_pki, _sign_with_file_key(test_pki, name, timestamp=timestamp, pdf=pdfa))
    assert not report.ok
    assert any(words in r for r in report.reasons), report.reasons


def test_unsealed_document(test_pki: TestPki, pdfa: bytes) -> None:
    report = check(test_pki, pdfa)
    assert not report.ok and report.reasons == ["the document carries no seal"]


# ---------------------------------------------------------------- HSM and TSA trouble


def test_wrong_pin_is_said_in_words_and_never_shown(
    test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes
) -> None:
    secret = "987654"
    config = config_for(test_pki, softhsm_token, pin=SecretStr(secret))
    with pytest.raises(SealError, match="refused the PIN") as raised:
        seal_bytes(config, pdfa)
    assert secret not in str(raised.value) and secret not in repr(config)


def test_hsm_unavailable(test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes) -> None:
    missing = config_for(test_pki, softhsm_token, module_path="/nonexistent/libpkcs11.so")
    with pytest.raises(SealError, match="HSM is unavailable"):
        seal_bytes(missing, pdfa)
    wrong_token = config_for(test_pki, softhsm_token, token_label="no-such-token")
    with pytest.raises(SealError, match="no token"):
        seal_bytes(wrong_token, pdfa)


def test_tsa_down(test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes) -> None:
    config = config_for(test_pki, softhsm_token, tsa_url="http://127.0.0.1:9/tsa")
    with pytest.raises(SealError, match="timestamp authority"):
        seal_bytes(config, pdfa)


class _Garbage(BaseHTTPRequestHandler):
    def do_POST(self) -> None:
        self.rfile.read(int(self.headers.get("Content-Length", 0)))
        self.send_response(200)
        self.send_header("Content-Type", "application/timestamp-reply")
        self.end_headers()
        self.wfile.write(b"\x30\x03\x02\x01\x00 not a timestamp")

    def log_message(self, *args: object) -> None:
        pass


def test_tsa_answering_garbage(test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes) -> None:
    server = ThreadingHTTPServer(("127.0.0.1", 0), _Garbage)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        url = f"http://127.0.0.1:{server.server_address[1]}/"
        with pytest.raises(SealError, match=r"timestamp authority|signing failed"):
            seal_bytes(config_for(test_pki, softhsm_token, tsa_url=url), pdfa)
    finally:
        server.shutdown()


def test_timestamp_expiry_is_the_tsa_certificate_s(
    test_pki: TestPki, softhsm_token: SoftHsmToken, pdfa: bytes
) -> None:
    sealed = seal_bytes(config_for(test_pki, softhsm_token), pdfa).data
    [tsa] = load_certificates((test_pki.tsa_cert_path,))
    assert newest_timestamp_expiry(sealed) == tsa.not_valid_after
