"""A local RFC 3161 time-stamping authority over HTTP, for the embedded default.

Production seals are time-stamped by a real TSA. On one machine, ``make run`` serves this
one: a stdlib ``ThreadingHTTPServer`` that answers ``POST`` requests of type
``application/timestamp-query`` with ``application/timestamp-reply`` responses signed by
the TSA key of the development CA (see ``coffre.tasks.devpki``). The tokens are made by
pyHanko's ``DummyTimeStamper``, extended here to sign with EC keys (it only does RSA).

HTTP behaviour: other methods get 405; a body without Content-Length 411, over 64 KiB 413,
of another type 415; a body that is not a DER ``TimeStampReq`` 400. A well-formed request
the TSA will not honour (unsupported hash algorithm, digest of the wrong length, another
policy, extensions) gets an RFC 3161 rejection (HTTP 200, status ``rejection``, no token;
parse it with ``TimeStampRejection``: asn1crypto's ``TimeStampResp``, hence pyHanko's
client, insists on a token and reports such a reply as a parsing error).

Run it alone with::

    python -m coffre.tasks.tsa --host 127.0.0.1 --port 4310 \\
        --cert var/pki/tsa.pem --key var/pki/tsa.key --ca var/pki/dev-root-ca.pem

It serves until SIGTERM or Ctrl-C.
"""

from __future__ import annotations

import argparse
import logging
import signal
import socket
import threading
from collections.abc import Sequence
from datetime import datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from types import FrameType
from typing import Any, ClassVar

from asn1crypto import algos, cms, core, keys, pem, tsp, x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from pyhanko.sign.general import as_signing_certificate_v2, simple_cms_attribute
from pyhanko.sign.timestamps.dummy_client import DummyTimeStamper
from pyhanko_certvalidator.registry import SimpleCertificateStore
from pyhanko_certvalidator.util import get_pyca_cryptography_hash

from coffre.tasks import asn1_dump

asn1_dump.install()  # encode CMS structures in linear time (see the module)

logger = logging.getLogger(__name__)

QUERY_TYPE = "application/timestamp-query"
REPLY_TYPE = "application/timestamp-reply"
MAX_REQUEST_BYTES = 64 * 1024
# A UUID-derived OID (X.667, arc 2.25) naming the local development TSA's policy.
TSA_POLICY = "2.25.255702498826577004330546734962006497761"
# The digest algorithms accepted in message imprints, with their digest sizes.
DIGEST_SIZES = {"sha256": 32, "sha384": 48, "sha512": 64, "sha3_256": 32, "sha3_512": 64}
SIGNING_DIGEST = "sha256"  # the tokens themselves are always signed with SHA-256


class TimeStampRejection(core.Sequence):
    """``TimeStampResp`` without a token (asn1crypto's class requires one)."""

    _fields: ClassVar[list[tuple[str, type]]] = [("status", tsp.PKIStatusInfo)]


class LocalTimeStamper(DummyTimeStamper):
    """pyHanko's ``DummyTimeStamper`` with EC keys (ECDSA) besides RSA, and our policy."""

    def __init__(
        self,
        tsa_cert: x509.Certificate,
        tsa_key: keys.PrivateKeyInfo,
        certs_to_embed: SimpleCertificateStore | None = None,
    ) -> None:
        super().__init__(
            tsa_cert, tsa_key, certs_to_embed=certs_to_embed, override_md=SIGNING_DIGEST
        )
        key = serialization.load_der_private_key(tsa_key.dump(), password=None)
        self._ec_key = key if isinstance(key, ec.EllipticCurvePrivateKey) else None

    def _build_tst_info(
        self, message_imprint: tsp.MessageImprint, dt: datetime, req: tsp.TimeStampReq
    ) -> tsp.TSTInfo:
        tst_info = super()._build_tst_info(message_imprint, dt, req)
        tst_info["policy"] = tsp.ObjectIdentifier(TSA_POLICY)
        tst_info["accuracy"] = tsp.Accuracy({"seconds": 1})
        return tst_info

    def _sign_tst_info(
        self, tst_info_data: bytes, md_algorithm: str, dt: datetime
    ) -> tuple[bytes, cms.CMSAttributes]:
        if self._ec_key is None:
            return super()._sign_tst_info(tst_info_data, md_algorithm, dt)
        digest = get_pyca_cryptography_hash(md_algorithm)
        md = hashes.Hash(digest)
        md.update(tst_info_data)
        signed_attrs = cms.CMSAttributes(
            [
                simple_cms_attribute("content_type", "tst_info"),
                simple_cms_attribute("signing_time", cms.Time({"utc_time": core.UTCTime(dt)})),
                simple_cms_attribute(
                    "signing_certificate_v2", as_signing_certificate_v2(self.tsa_cert)
                ),
                simple_cms_attribute("message_digest", md.finalize()),
            ]
        )
        signature = self._ec_key.sign(signed_attrs.dump(), ec.ECDSA(digest))
        return signature, signed_attrs

    def _build_signed_data(
        self,
        tst_info_data: bytes,
        md_algorithm: str,
        signature: bytes,
        signed_attrs: cms.CMSAttributes,
    ) -> dict[str, Any]:
        signed_data: dict[str, Any] = super()._build_signed_data(
            tst_info_data, md_algorithm, signature, signed_attrs
        )
        if self._ec_key is not None:
            signed_data["signer_infos"][0]["signature_algorithm"] = algos.SignedDigestAlgorithm(
                {"algorithm": f"{md_algorithm}_ecdsa"}
            )
        return signed_data


def _rejection(fail_info: str, reason: str) -> bytes:
    status = tsp.PKIStatusInfo(
        {
            "status": "rejection",
            "status_string": [reason],
            "fail_info": tsp.PKIFailureInfo({fail_info}),
        }
    )
    return bytes(TimeStampRejection({"status": status}).dump())


def _refusal(req: tsp.TimeStampReq) -> tuple[str, str] | None:
    """Why a well-formed request is not honoured (RFC 3161 failure, reason), or None."""
    if req["version"].native != "v1":
        return "bad_request", "unsupported request version"
    imprint = req["message_imprint"]
    algorithm = imprint["hash_algorithm"]["algorithm"].native
    if algorithm not in DIGEST_SIZES:
        return "bad_alg", f"unsupported digest algorithm {algorithm}"
    if len(imprint["hashed_message"].native) != DIGEST_SIZES[algorithm]:
        return "bad_data_format", "digest length does not match its algorithm"
    policy = req["req_policy"].native
    if policy is not None and policy != TSA_POLICY:
        return "unaccepted_policy", "unknown policy"
    if req["extensions"].native:
        return "unaccepted_extensions", "extensions are not supported"
    return None


def parse_request(body: bytes) -> tsp.TimeStampReq:
    """A fully parsed ``TimeStampReq``; ``ValueError`` if ``body`` is not one."""
    try:
        req = tsp.TimeStampReq.load(body, strict=True)
        req.native  # noqa: B018 - asn1crypto parses lazily: force every field now
    except (ValueError, TypeError, KeyError, IndexError, OverflowError) as error:
        raise ValueError("not a DER TimeStampReq") from error
    return req


class _TsaServer(ThreadingHTTPServer):
    daemon_threads = True
    stamper: LocalTimeStamper


class _TsaServer6(_TsaServer):
    address_family = socket.AF_INET6


class _Handler(BaseHTTPRequestHandler):
    server: _TsaServer
    timeout = 15  # seconds of silence before a slow client is dropped
    server_version = "CoffreLocalTSA/1"

    def log_message(self, format: str, *args: Any) -> None:
        logger.debug("%s - " + format, self.client_address[0], *args)

    def _refuse(self, code: int, message: str) -> None:
        self.close_connection = True
        self.send_error(code, message)

    def _method_not_allowed(self) -> None:
        self.close_connection = True
        self.send_response(405)
        self.send_header("Allow", "POST")
        self.send_header("Content-Length", "0")
        self.end_headers()

    do_GET = do_HEAD = do_PUT = do_DELETE = do_PATCH = do_OPTIONS = _method_not_allowed

    def do_POST(self) -> None:
        if self.headers.get_content_type() != QUERY_TYPE:
            self._refuse(415, f"expected {QUERY_TYPE}")
            return
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self._refuse(411, "Content-Length required")
            return
        try:
            length = int(self.headers.get("Content-Length", ""))
        except ValueError:
            self._refuse(411, "Content-Length required")
            return
        if length < 0:
            self._refuse(400, "bad Content-Length")
            return
        if length > MAX_REQUEST_BYTES:
            self._refuse(413, f"requests are limited to {MAX_REQUEST_BYTES} bytes")
            return
        body = self.rfile.read(length)
        if len(body) != length:
            self._refuse(400, "truncated request")
            return
        try:
            req = parse_request(body)
        except ValueError:
            self._refuse(400, "malformed time-stamp request")
            return
        refusal = _refusal(req)
        if refusal is not None:
            logger.info("time-stamp request rejected: %s", refusal[1])
            reply = _rejection(*refusal)
        else:
            try:
                reply = self.server.stamper.request_tsa_response(req).dump()
            except Exception:  # any failure is the TSA's, not the client's
                logger.exception("the local TSA failed to sign a time stamp")
                self._refuse(500, "time stamp failed")
                return
        self.send_response(200)
        self.send_header("Content-Type", REPLY_TYPE)
        self.send_header("Content-Length", str(len(reply)))
        self.end_headers()
        self.wfile.write(reply)


def _load_cert(path: Path) -> x509.Certificate:
    data = Path(path).read_bytes()
    if pem.detect(data):
        data = pem.unarmor(data)[2]
    return x509.Certificate.load(data)


def _load_key(path: Path) -> keys.PrivateKeyInfo:
    key = serialization.load_pem_private_key(Path(path).read_bytes(), password=None)
    der = key.private_bytes(
        serialization.Encoding.DER,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    return keys.PrivateKeyInfo.load(der)


class LocalTsa:
    """A TSA being served in a background thread; ``stop()`` it, or use ``with``."""

    def __init__(self, server: _TsaServer) -> None:
        self._server = server
        host, port = server.server_address[:2]
        host = str(host)
        self.host, self.port = host, int(port)
        self.url = f"http://[{host}]:{port}/" if ":" in host else f"http://{host}:{port}/"
        self._thread = threading.Thread(
            target=server.serve_forever,
            kwargs={"poll_interval": 0.1},
            name=f"coffre-tsa-{port}",
            daemon=True,
        )
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._server.shutdown()
            self._thread.join(timeout=10)
        self._server.server_close()

    def __enter__(self) -> LocalTsa:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        return f"LocalTsa({self.url!r})"


def serve_tsa(
    host: str, port: int, cert_path: Path, key_path: Path, ca_cert_path: Path
) -> LocalTsa:
    """Serve the TSA of ``cert_path``/``key_path`` on ``host:port`` (0: a free port).

    The tokens embed the TSA certificate and the CA certificate of ``ca_cert_path``.
    """
    tsa_cert = _load_cert(cert_path)
    ca_cert = _load_cert(ca_cert_path)
    stamper = LocalTimeStamper(
        tsa_cert, _load_key(key_path), certs_to_embed=SimpleCertificateStore.from_certs([ca_cert])
    )
    server_class = _TsaServer6 if ":" in host else _TsaServer
    server = server_class((host, port), _Handler)
    server.stamper = stamper
    return LocalTsa(server)


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Coffre's local RFC 3161 TSA (development).")
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=4310)
    parser.add_argument("--cert", type=Path, required=True, help="TSA certificate (PEM)")
    parser.add_argument("--key", type=Path, required=True, help="TSA private key (PEM)")
    parser.add_argument("--ca", type=Path, required=True, help="CA certificate (PEM)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s %(message)s")

    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with serve_tsa(args.host, args.port, args.cert, args.key, args.ca) as tsa:
        logger.info("local TSA listening on %s", tsa.url)
        while not stop.wait(1.0):
            pass
    logger.info("local TSA stopped")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
