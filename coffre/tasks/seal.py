"""PAdES seals made with a key that never leaves the HSM (PKCS#11), with RFC 3161 timestamps.

A `Sealer` opens one PKCS#11 session and reuses it for a whole batch. Every seal is an
incremental update, so a PDF/A stays PDF/A and earlier signatures stay valid. Levels:
B-T (signature timestamp), B-LT (+ validation data in the DSS), B-LTA (+ a document
timestamp that later renewals extend).
"""

from __future__ import annotations

import contextlib
import io
import threading
from dataclasses import dataclass, field
from datetime import datetime
from enum import StrEnum
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import pkcs11
import requests
from asn1crypto import cms, tsp
from asn1crypto import x509 as asn1_x509
from pkcs11 import Attribute, KeyType, ObjectClass
from pkcs11 import exceptions as pkcs11_errors
from pydantic import SecretStr
from pyhanko.pdf_utils.incremental_writer import IncrementalPdfFileWriter
from pyhanko.sign import fields, signers
from pyhanko.sign.general import SigningError
from pyhanko.sign.pkcs11 import PKCS11Signer
from pyhanko.sign.timestamps import TimeStamper
from pyhanko.sign.timestamps.common_utils import TimestampRequestError, set_tsp_headers
from pyhanko_certvalidator import ValidationContext

from coffre.tasks import asn1_dump
from coffre.tasks.pki import load_certificates

asn1_dump.install()  # encode CMS structures in linear time (see the module)

SEAL_FIELD = "CoffreSeal"
# Room for the CMS signature: certificates, signature, the timestamp token with the
# TSA's chain. pyHanko fails loudly (never silently truncates) if it is too small.
SIGNATURE_BYTES = 24 * 1024  # hexadecimal digits: room for 12 KiB of DER
STAMP_FONT = Path("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf")


class SealLevel(StrEnum):
    B_T = "B-T"
    B_LT = "B-LT"
    B_LTA = "B-LTA"


class SealError(Exception):
    """Sealing failed for a reason outside the document (HSM, PIN, TSA); try again later."""


@dataclass(frozen=True)
class SealConfig:
    """Where the key is and how to seal. The PIN is a secret: never logged, never shown."""

    module_path: str
    token_label: str
    key_label: str
    pin: SecretStr
    tsa_url: str
    trust_root_paths: tuple[Path, ...]
    cert_path: Path | None = None  # None: the certificate is read from the token
    chain_paths: tuple[Path, ...] = ()
    level: SealLevel = SealLevel.B_LTA
    revocation_mode: Literal["soft-fail", "hard-fail", "require"] = "soft-fail"
    visible_stamp: bool = False
    environment: dict[str, str] = field(default_factory=dict)  # e.g. SOFTHSM2_CONF

    @property
    def limit_name(self) -> str:
        """The Prefect global concurrency limit that bounds signing on this HSM."""
        return f"hsm-{self.token_label}"


@dataclass(frozen=True)
class SealResult:
    data: bytes
    level: SealLevel
    signed_at: datetime
    timestamp_expires_at: datetime | None


def validation_context(config: SealConfig, **kwargs: Any) -> ValidationContext:
    return ValidationContext(
        trust_roots=load_certificates(config.trust_root_paths),
        other_certs=load_certificates(config.chain_paths),
        allow_fetching=True,
        revocation_mode=config.revocation_mode,
        **kwargs,
    )


class CheckedTimeStamper(TimeStamper):
    """An RFC 3161 client over one kept-alive HTTP session (requests).

    pyHanko's aiohttp client opens a new session, and a new TLS context, per request,
    which costs more than the signature itself. An unparseable answer is reported as a
    TSA failure, not a crash. The tokens obtained are kept, so that the seal's time and
    the expiry of the newest timestamp's certificate are known without re-reading the
    sealed file.
    """

    def __init__(self, url: str, timeout: int = 30) -> None:
        super().__init__()
        self.url = url
        self.timeout = timeout
        self.http = requests.Session()
        self.tokens: list[cms.ContentInfo] = []

    async def async_request_tsa_response(self, req: tsp.TimeStampReq) -> tsp.TimeStampResp:
        try:
            response = self.http.post(
                self.url,
                data=req.dump(),
                headers=set_tsp_headers({}),
                timeout=self.timeout,
            )
        except requests.RequestException as error:
            raise TimestampRequestError(f"cannot reach {self.url} ({error})") from error
        if response.headers.get("Content-Type") != "application/timestamp-reply":
            raise TimestampRequestError(
                f"answer of HTTP status {response.status_code} is not a timestamp reply"
            )
        return tsp.TimeStampResp.load(response.content)

    async def async_timestamp(self, message_digest: bytes, md_algorithm: str) -> Any:
        try:
            token = await super().async_timestamp(message_digest, md_algorithm)
        except TimestampRequestError:
            raise
        except (ValueError, KeyError, TypeError) as error:
            raise TimestampRequestError(f"unreadable answer from the TSA ({error})") from error
        self.tokens.append(token)
        return token


def token_time(token: cms.ContentInfo) -> datetime:
    gen_time: datetime = token["content"]["encap_content_info"]["content"].parsed["gen_time"].native
    return gen_time


def token_certificate_expiry(token: cms.ContentInfo) -> datetime | None:
    """When the certificate of the TSA that signed this token expires."""
    from coffre.tasks.verify import tsa_certificate

    certificate = tsa_certificate(token["content"])
    return certificate.not_valid_after if certificate is not None else None


# PKCS#11 modules are initialised here without OS locking: one thread at a time talks to
# the HSM in a process. Parallel sealing comes from several workers, bounded by the HSM's
# Prefect concurrency limit.
_SESSIONS_LOCK = threading.RLock()


# One logged-in session per token, shared by the Sealers of this process: closing a
# PKCS#11 user session logs the whole application out of the token, which would leave a
# concurrent Sealer's session unable to see the key. The last user closes it.
_SHARED: dict[tuple[str, str, str], tuple[pkcs11.Session, int]] = {}


def _session_key(config: SealConfig) -> tuple[str, str, str]:
    return (config.module_path, config.token_label, config.environment.get("SOFTHSM2_CONF", ""))


def _open_session(config: SealConfig) -> pkcs11.Session:
    """The token's shared user session (serialised: module set-up is not thread-safe)."""
    with _SESSIONS_LOCK:
        key = _session_key(config)
        if key in _SHARED:
            session, users = _SHARED[key]
            _SHARED[key] = (session, users + 1)
            return session
        session = _open_session_unlocked(config)
        _SHARED[key] = (session, 1)
        return session


def _release_session(config: SealConfig, session: pkcs11.Session) -> None:
    with _SESSIONS_LOCK:
        key = _session_key(config)
        shared = _SHARED.get(key)
        if shared is not None and shared[0] is session:
            if shared[1] > 1:
                _SHARED[key] = (session, shared[1] - 1)
                return
            del _SHARED[key]
        with contextlib.suppress(pkcs11_errors.PKCS11Error):
            session.close()


def _open_session_unlocked(config: SealConfig) -> pkcs11.Session:
    """Open a user session on the token, turning PKCS#11 failures into words."""
    conf = config.environment.get("SOFTHSM2_CONF")
    try:
        if conf:
            from coffre.tasks.softhsm import load_pkcs11

            library = load_pkcs11(config.module_path, Path(conf))
        else:
            library = pkcs11.lib(config.module_path)
    except (OSError, RuntimeError, pkcs11_errors.PKCS11Error) as error:
        raise SealError(
            f"the HSM is unavailable: cannot load the PKCS#11 module {config.module_path}"
        ) from error
    try:
        token = library.get_token(token_label=config.token_label)
    except (pkcs11_errors.NoSuchToken, pkcs11_errors.MultipleTokensReturned) as error:
        raise SealError(f"the HSM has no token labelled {config.token_label!r}") from error
    except pkcs11_errors.PKCS11Error as error:
        raise SealError("the HSM does not answer") from error
    try:
        return token.open(user_pin=config.pin.get_secret_value())
    except pkcs11_errors.UserAlreadyLoggedIn:
        # PKCS#11 logins belong to the process: while another batch of this process holds
        # a session, a new session shares its login (and the PIN is not checked again).
        return token.open()
    except (pkcs11_errors.PinIncorrect, pkcs11_errors.PinLenRange) as error:
        raise SealError("the HSM refused the PIN") from error
    except pkcs11_errors.PinLocked as error:
        raise SealError("the HSM PIN is locked") from error
    except pkcs11_errors.PKCS11Error as error:
        raise SealError("the HSM refused to open a session") from error


def _key_type(session: pkcs11.Session, key_label: str) -> KeyType:
    try:
        key = session.get_key(object_class=ObjectClass.PRIVATE_KEY, label=key_label)
    except (pkcs11_errors.NoSuchKey, pkcs11_errors.MultipleObjectsReturned) as error:
        raise SealError(f"the HSM has no single seal key labelled {key_label!r}") from error
    return KeyType(key[Attribute.KEY_TYPE])


class Sealer:
    """Seals PDFs with one PKCS#11 session, for as many documents as the batch holds."""

    def __init__(self, config: SealConfig) -> None:
        self.config = config
        self._session: pkcs11.Session | None = None
        self._signer: PKCS11Signer | None = None
        self._timestamper = CheckedTimeStamper(config.tsa_url, timeout=30)
        self._validation_context: ValidationContext | None = None

    def __enter__(self) -> Sealer:
        if self._session is None:
            self.open()
        return self

    def open(self) -> None:
        """Open the HSM session and prepare the signer (SealError when the HSM fails)."""
        with _SESSIONS_LOCK:
            self._open_locked()

    def _open_locked(self) -> None:
        config = self.config
        self._session = _open_session(config)
        try:
            is_ec = _key_type(self._session, config.key_label) == KeyType.EC
            signing_cert = None
            if config.cert_path is not None:
                [signing_cert] = load_certificates((config.cert_path,))
            self._signer = PKCS11Signer(
                self._session,
                key_label=config.key_label,
                cert_label=None if signing_cert else config.key_label,
                signing_cert=signing_cert,
                ca_chain=load_certificates(config.chain_paths),
                # SoftHSM2 (and several HSMs) lack CKM_ECDSA_SHA256: hash here, sign raw.
                use_raw_mechanism=is_ec,
            )
        except BaseException:
            self.close()
            raise

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.close()

    def close(self) -> None:
        if self._session is not None:
            _release_session(self.config, self._session)
            self._session = None

    @property
    def signing_cert(self) -> asn1_x509.Certificate:
        assert self._signer is not None, "use the Sealer as a context manager"
        return self._signer.signing_cert

    def seal(self, pdf: bytes, *, visible_stamp: bool | None = None) -> SealResult:
        """Seal one PDF; raise SealError for HSM or TSA trouble, ValueError for a bad PDF."""
        with _SESSIONS_LOCK:  # pyHanko reaches the token lazily, anywhere in here
            return self._seal_locked(pdf, visible_stamp)

    def _seal_locked(self, pdf: bytes, visible_stamp: bool | None) -> SealResult:
        assert self._signer is not None, "use the Sealer as a context manager"
        level = self.config.level
        if self._validation_context is None and level != SealLevel.B_T:
            self._validation_context = validation_context(self.config)
        metadata = signers.PdfSignatureMetadata(
            field_name=SEAL_FIELD,
            subfilter=fields.SigSeedSubFilter.PADES,
            md_algorithm="sha256",
            embed_validation_info=level != SealLevel.B_T,
            use_pades_lta=level == SealLevel.B_LTA,
            validation_context=self._validation_context,
        )
        stamp = self.config.visible_stamp if visible_stamp is None else visible_stamp
        pdf_signer = signers.PdfSigner(
            metadata,
            signer=self._signer,
            timestamper=self._timestamper,
            stamp_style=_stamp_style() if stamp else None,
            new_field_spec=_visible_field() if stamp else None,
        )
        output = io.BytesIO()
        self._timestamper.tokens.clear()
        try:
            writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
            try:
                # A fixed reservation spares pyHanko a dry-run signature per document.
                pdf_signer.sign_pdf(writer, output=output, bytes_reserved=SIGNATURE_BYTES)
            except SigningError as error:
                if "larger than expected" not in str(error):
                    raise
                # An unusually long certificate chain: let pyHanko size it.
                output = io.BytesIO()
                writer = IncrementalPdfFileWriter(io.BytesIO(pdf), strict=False)
                pdf_signer.sign_pdf(writer, output=output)
        except TimestampRequestError as error:
            raise SealError(f"the timestamp authority failed: {error}") from error
        except pkcs11_errors.PKCS11Error as error:
            raise SealError(f"the HSM failed to sign ({type(error).__name__})") from error
        except SigningError as error:
            cause = error.__cause__ or error.__context__
            if isinstance(cause, (TimestampRequestError, OSError)):
                raise SealError(f"the timestamp authority failed: {cause}") from error
            raise SealError(f"signing failed: {error}") from error
        tokens = self._timestamper.tokens
        signature_token = tokens[-2] if level == SealLevel.B_LTA else tokens[-1]
        return SealResult(
            data=output.getvalue(),
            level=level,
            signed_at=token_time(signature_token),
            timestamp_expires_at=token_certificate_expiry(tokens[-1]),
        )


def _stamp_style() -> Any:
    from pyhanko import stamp
    from pyhanko.pdf_utils.font.opentype import GlyphAccumulatorFactory
    from pyhanko.pdf_utils.text import TextBoxStyle

    return stamp.TextStampStyle(
        stamp_text="Scellé électroniquement par %(signer)s\nle %(ts)s",
        timestamp_format="%d/%m/%Y à %H:%M:%S %Z",
        # PDF/A needs embedded fonts: the stamp embeds a subset of DejaVu Sans.
        text_box_style=TextBoxStyle(font=GlyphAccumulatorFactory(str(STAMP_FONT)), font_size=7),
        border_width=1,
    )


def _visible_field() -> fields.SigFieldSpec:
    return fields.SigFieldSpec(sig_field_name=SEAL_FIELD, on_page=0, box=(20, 20, 260, 62))


def renew_archive_timestamp(config: SealConfig, pdf: bytes) -> SealResult:
    """Add a fresh document timestamp with new validation data (PAdES B-LTA renewal).

    pyHanko validates the newest timestamp of the chain first, so a chain that is
    already broken is reported rather than papered over.
    """
    from pyhanko.pdf_utils.reader import PdfFileReader

    from coffre.tasks.verify import newest_timestamp_expiry, signing_time

    output = io.BytesIO()
    try:
        reader = PdfFileReader(io.BytesIO(pdf), strict=False)
        signers.PdfTimeStamper(
            CheckedTimeStamper(config.tsa_url, timeout=30)
        ).update_archival_timestamp_chain(
            reader, validation_context(config), in_place=False, output=output
        )
    except TimestampRequestError as error:
        raise SealError(f"the timestamp authority failed: {error}") from error
    renewed = output.getvalue()
    return SealResult(
        data=renewed,
        level=SealLevel.B_LTA,
        signed_at=signing_time(renewed),
        timestamp_expires_at=newest_timestamp_expiry(renewed),
    )


def seal_bytes(config: SealConfig, pdf: bytes) -> SealResult:
    """Seal a single document (opens and closes its own session)."""
    with Sealer(config) as sealer:
        return sealer.seal(pdf)
