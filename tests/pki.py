"""A throw-away PKI with live services, and a SoftHSM2 token holding the seal keys.

Everything is real: certomancer generates the certificates and answers RFC 3161 time-stamp
requests, OCSP requests and CRL/certificate downloads over HTTP (its "Animator" WSGI app,
served by werkzeug in a thread of the test process on a free loopback port); SoftHSM2 holds
the private keys and is driven through PKCS#11.

Keys are generated fresh for each PKI (no key material in the repository). Validity periods
are relative to the moment the PKI is built, so nothing expires with the calendar:

=================  =======================================================================
certificate label  what it is
=================  =======================================================================
``root``           self-signed root CA (EC P-256), valid [now - 1 y, now + 20 y]
``interm``         intermediate CA under ``root`` (EC P-256), [now - 1 y, now + 15 y]
``tsa``            time-stamping unit under ``root``, EKU timeStamping (critical)
``ocsp``           OCSP responder for ``interm`` (EKU OCSPSigning, id-pkix-ocsp-nocheck)
``seal-ec``        seal under ``interm``, EC P-256, [now - 30 d, now + 3 y]
``seal-rsa``       seal under ``interm``, RSA 3072, same validity
``seal-expired``   seal under ``interm``, EC P-256, [now - 2 y, now - 1 y]
``seal-revoked``   seal under ``interm``, EC P-256, revoked (keyCompromise) since now - 1 d,
                   visible in the OCSP responses and in ``interm``'s CRL
=================  =======================================================================

Seal certificates: subject ``O=Coffre Test, CN=Coffre Test Seal``, keyUsage
digitalSignature + nonRepudiation (critical), AIA (OCSP + caIssuers) and a CRL distribution
point on the HTTP server. ``interm`` and ``tsa`` carry ``root``'s CRL distribution point.

URLs: ``{base_url}/{label}/tsa/tsa`` (TSA), ``{base_url}/{label}/ocsp/interm`` (OCSP),
``{base_url}/{label}/crls/{root|interm}/latest.crl``, ``{base_url}/{label}/certs/...``.
OCSP responses are stamped in whole seconds (see ``_Animator``).

Fixtures:

- ``test_pki`` (session-scoped): a ``TestPki`` with ``base_url``, ``tsa_url``, ``ocsp_url``,
  ``crl_url(issuer)``, ``root_cert_path``, ``intermediate_cert_path``, ``tsa_cert_path``,
  ``cert_path(name)``, ``key_path(name)`` (PEM; keys unencrypted PKCS#8), ``cert(name)``,
  ``root_cert``, ``intermediate_cert`` (asn1crypto, as pyHanko takes them) and
  ``architecture`` (certomancer's ``PKIArchitecture``).
- ``softhsm_token`` (function-scoped: a fresh ``SOFTHSM2_CONF``, token directory and token
  per test, ~0.1 s, so tests may add or delete objects freely): a ``SoftHsmToken`` with
  ``module_path``, ``token_label``, ``user_pin``, ``so_pin``, ``conf_path`` and ``keys``
  (``keys["seal-ec"]``, ``keys["seal-rsa"]``: ``key_label``, ``key_id``, ``cert_path``).
  Each key is on the token as a private key, a public key and its certificate
  (CKO_CERTIFICATE), all three with the same CKA_LABEL and CKA_ID.

A conftest enables them with ``from tests.pki import softhsm_token, test_pki  # noqa: F401``;
a test module that takes them as arguments binds them by assignment instead (ruff's F811
flags an imported fixture used as a parameter): ``test_pki = tests.pki.test_pki``.

A second, unrelated PKI (e.g. an untrusted root) is ``make_pki(tmp_path, "other")``, a
context manager that runs its own HTTP server (~0.5 s); ``make_softhsm_token`` builds a
token for any scope.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import os
import subprocess
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest
import yaml
from asn1crypto import pem as asn1_pem
from asn1crypto import x509 as asn1_x509
from certomancer.integrations.animator import Animator, AnimatorArchStore
from certomancer.registry import (
    ArchLabel,
    CertLabel,
    CertomancerConfig,
    PKIArchitecture,
    ServiceLabel,
)
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from werkzeug.serving import BaseWSGIServer, WSGIRequestHandler, make_server
from werkzeug.wrappers import Request

DEFAULT_LABEL = "coffre"

SEAL_CERTS = ("seal-ec", "seal-rsa", "seal-expired", "seal-revoked")
SEAL_SUBJECT = {"organization_name": "Coffre Test", "common_name": "Coffre Test Seal"}

# Key type of every key of the PKI (key label == label of the certificate it goes with).
KEY_TYPES: dict[str, str] = {
    "root": "ec",
    "interm": "ec",
    "tsa": "ec",
    "ocsp": "ec",
    "seal-ec": "ec",
    "seal-rsa": "rsa3072",
    "seal-expired": "ec",
    "seal-revoked": "ec",
}

SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/lib64/pkcs11/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)


# --------------------------------------------------------------------------- HTTP server


class _QuietHandler(WSGIRequestHandler):
    """werkzeug's handler without the per-request access log on stderr."""

    def log(self, type: str, message: str, *args: Any) -> None:
        pass


class _Animator(Animator):
    """certomancer's Animator, with OCSP times in whole seconds.

    certomancer stamps OCSP responses (producedAt, thisUpdate) with the current time,
    microseconds included; strict DER parsers (cryptography's, for one) reject
    GeneralizedTime with fractional seconds there.
    """

    def at_time(self, request: Request) -> dt.datetime:
        moment: dt.datetime = super().at_time(request)
        if "/ocsp/" in request.path:
            return moment.replace(microsecond=0)
        return moment


class PkiHttpServer:
    """certomancer's Animator (TSA, OCSP, CRLs, certificate repositories) over HTTP.

    Listens on a free port of 127.0.0.1 from construction on, so that ``base_url`` is
    known before the certificates that embed it are generated; architectures are added
    with ``add`` (one server can serve several PKIs, each under its own label).
    """

    def __init__(self) -> None:
        self._archs: dict[ArchLabel, PKIArchitecture] = {}
        app = _Animator(AnimatorArchStore(self._archs), with_web_ui=False)
        self._server: BaseWSGIServer = make_server(
            "127.0.0.1", 0, app, threaded=True, request_handler=_QuietHandler
        )
        self.base_url = f"http://127.0.0.1:{self._server.server_port}"
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="certomancer-animator",
            daemon=True,
        )
        self._thread.start()

    def add(self, arch: PKIArchitecture) -> None:
        self._archs[arch.arch_label] = arch

    def close(self) -> None:
        self._server.shutdown()
        self._server.server_close()
        self._thread.join(timeout=10)


# --------------------------------------------------------------------------- PKI


def _utc(moment: dt.datetime) -> str:
    return moment.replace(microsecond=0).isoformat()


def _validity(start: dt.datetime, end: dt.datetime) -> dict[str, str]:
    return {"valid-from": _utc(start), "valid-to": _utc(end)}


def _key_usage(*usages: str) -> dict[str, Any]:
    return {
        "id": "key_usage",
        "critical": True,
        "smart-value": {"schema": "key-usage", "params": list(usages)},
    }


def _crl_dp(*repos: str) -> dict[str, Any]:
    return {
        "id": "crl_distribution_points",
        "smart-value": {"schema": "crl-dist-url", "params": {"crl-repo-names": list(repos)}},
    }


def _aia(ocsp: list[str], ca_issuer_repo: str) -> dict[str, Any]:
    return {
        "id": "authority_information_access",
        "smart-value": {
            "schema": "aia-urls",
            "params": {
                "ocsp-responder-names": ocsp,
                "ca-issuer-links": [{"repo": ca_issuer_repo}],
            },
        },
    }


def build_config(label: str, keys_dir: Path, now: dt.datetime) -> dict[str, Any]:
    """certomancer configuration of the test PKI (dict form of its YAML format)."""
    suffix = "" if label == DEFAULT_LABEL else f" ({label})"
    year, day = dt.timedelta(days=365), dt.timedelta(days=1)
    ca_org = {"organization_name": "Coffre Test PKI"}
    seal_exts = [
        _key_usage("digital_signature", "non_repudiation"),
        _crl_dp("interm"),
        _aia(["interm"], "interm"),
    ]
    seal_validity = _validity(now - 30 * day, now + 3 * year)
    certs: dict[str, Any] = {
        "root": {
            "subject": "root",
            "issuer": "root",
            "validity": _validity(now - year, now + 20 * year),
            "extensions": [
                {"id": "basic_constraints", "critical": True, "value": {"ca": True}},
                _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
            ],
        },
        "interm": {
            "issuer": "root",
            "validity": _validity(now - year, now + 15 * year),
            "extensions": [
                {
                    "id": "basic_constraints",
                    "critical": True,
                    "value": {"ca": True, "path_len_constraint": 0},
                },
                _key_usage("digital_signature", "key_cert_sign", "crl_sign"),
                _crl_dp("root"),
                _aia([], "root"),
            ],
        },
        "tsa": {
            "issuer": "root",
            "validity": _validity(now - year, now + 10 * year),
            "extensions": [
                _key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["time_stamping"]},
                _crl_dp("root"),
                _aia([], "root"),
            ],
        },
        "ocsp": {
            "issuer": "interm",
            "validity": _validity(now - year, now + 10 * year),
            "extensions": [
                _key_usage("digital_signature"),
                {"id": "extended_key_usage", "critical": True, "value": ["ocsp_signing"]},
                {"id": "ocsp_no_check"},
            ],
        },
        "seal-ec": {
            "subject": "seal",
            "subject-key": "seal-ec",
            "issuer": "interm",
            "validity": seal_validity,
            "extensions": seal_exts,
        },
        "seal-rsa": {"template": "seal-ec", "subject": "seal", "subject-key": "seal-rsa"},
        "seal-expired": {
            "template": "seal-ec",
            "subject": "seal",
            "subject-key": "seal-expired",
            "validity": _validity(now - 2 * year, now - year),
        },
        "seal-revoked": {
            "template": "seal-ec",
            "subject": "seal",
            "subject-key": "seal-revoked",
            "revocation": {"revoked-since": _utc(now - day), "reason": "key_compromise"},
        },
    }
    return {
        "external-url-prefix": "http://placeholder.invalid",  # overridden by make_pki
        "keysets": {
            label: {
                "path-prefix": str(keys_dir),
                "keys": {name: {"path": f"{name}.key.pem"} for name in KEY_TYPES},
            }
        },
        "pki-architectures": {
            label: {
                "keyset": label,
                "entities": {
                    "root": {**ca_org, "common_name": f"Coffre Test Root CA{suffix}"},
                    "interm": {**ca_org, "common_name": f"Coffre Test Issuing CA{suffix}"},
                    "tsa": {**ca_org, "common_name": f"Coffre Test TSA{suffix}"},
                    "ocsp": {**ca_org, "common_name": f"Coffre Test OCSP Responder{suffix}"},
                    "seal": dict(SEAL_SUBJECT),
                },
                "certs": certs,
                "services": {
                    "ocsp": {
                        "interm": {
                            "for-issuer": "interm",
                            "responder-cert": "ocsp",
                            "signing-key": "ocsp",
                        }
                    },
                    "crl-repo": {
                        "root": {
                            "for-issuer": "root",
                            "signing-key": "root",
                            "simulated-update-schedule": "P30D",
                        },
                        "interm": {
                            "for-issuer": "interm",
                            "signing-key": "interm",
                            "simulated-update-schedule": "P7D",
                        },
                    },
                    "cert-repo": {
                        "root": {"for-issuer": "root", "publish-issued-certs": True},
                        "interm": {"for-issuer": "interm", "publish-issued-certs": True},
                    },
                    "time-stamping": {"tsa": {"signing-key": "tsa", "signing-cert": "tsa"}},
                },
            }
        },
    }


def _generate_key(kind: str) -> bytes:
    key: ec.EllipticCurvePrivateKey | rsa.RSAPrivateKey
    if kind == "ec":
        key = ec.generate_private_key(ec.SECP256R1())
    elif kind == "rsa3072":
        key = rsa.generate_private_key(public_exponent=65537, key_size=3072)
    else:  # pragma: no cover
        raise ValueError(kind)
    return key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )


@dataclass
class TestPki:
    """A built PKI whose services are being served. See the module docstring."""

    __test__ = False  # not a test class, despite the name

    label: str
    directory: Path
    base_url: str
    architecture: PKIArchitecture
    _server: PkiHttpServer | None = field(default=None, repr=False)

    # ---- URLs
    @property
    def tsa_url(self) -> str:
        return self.architecture.service_registry.get_tsa_info(ServiceLabel("tsa")).url

    @property
    def ocsp_url(self) -> str:
        return self.architecture.service_registry.get_ocsp_info(ServiceLabel("interm")).url

    def crl_url(self, issuer: str = "interm") -> str:
        """URL of the latest CRL of ``root`` or ``interm`` (DER)."""
        return f"{self.base_url}/{self.label}/crls/{issuer}/latest.crl"

    # ---- files (PEM)
    def cert_path(self, name: str) -> Path:
        """PEM certificate of any certificate label (root, interm, tsa, ocsp, seal-*)."""
        path = self.directory / "certs" / f"{name}.cert.pem"
        if not path.is_file():
            raise KeyError(f"no certificate labelled {name!r} in PKI {self.label!r}")
        return path

    def key_path(self, name: str) -> Path:
        """Unencrypted PKCS#8 PEM private key of a certificate label."""
        path = self.directory / "keys" / f"{name}.key.pem"
        if not path.is_file():
            raise KeyError(f"no key labelled {name!r} in PKI {self.label!r}")
        return path

    @property
    def root_cert_path(self) -> Path:
        return self.cert_path("root")

    @property
    def intermediate_cert_path(self) -> Path:
        return self.cert_path("interm")

    @property
    def tsa_cert_path(self) -> Path:
        return self.cert_path("tsa")

    # ---- objects
    def cert(self, name: str) -> asn1_x509.Certificate:
        """asn1crypto certificate (what pyHanko and pyhanko-certvalidator take)."""
        return self.architecture.get_cert(CertLabel(name))

    @property
    def root_cert(self) -> asn1_x509.Certificate:
        return self.cert("root")

    @property
    def intermediate_cert(self) -> asn1_x509.Certificate:
        return self.cert("interm")

    def close(self) -> None:
        if self._server is not None:
            self._server.close()
            self._server = None

    def __enter__(self) -> TestPki:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def make_pki(
    directory: Path, label: str = DEFAULT_LABEL, server: PkiHttpServer | None = None
) -> TestPki:
    """Generate keys and certificates into ``directory`` and serve the PKI's services.

    Without ``server``, a new HTTP server is started and owned by the result (``close()``
    it, or use it as a context manager); with one, the PKI is added to that server under
    ``label`` (labels must then differ) and the server's owner stops it.
    """
    directory = Path(directory)
    keys_dir = directory / "keys"
    certs_dir = directory / "certs"
    keys_dir.mkdir(parents=True, exist_ok=True)
    certs_dir.mkdir(parents=True, exist_ok=True)
    for name, kind in KEY_TYPES.items():
        key_file = keys_dir / f"{name}.key.pem"
        key_file.write_bytes(_generate_key(kind))
        key_file.chmod(0o600)

    owned = server is None
    srv = PkiHttpServer() if server is None else server
    try:
        config = build_config(label, keys_dir, dt.datetime.now(dt.UTC))
        config["external-url-prefix"] = srv.base_url
        (directory / "certomancer.yml").write_text(yaml.safe_dump(config, sort_keys=False))
        cfg = CertomancerConfig(
            config, key_search_dir=str(directory), external_url_prefix=srv.base_url
        )
        arch = cfg.get_pki_arch(ArchLabel(label))
        # Generate every certificate now, before the server's threads can race on
        # certomancer's lazy cache.
        for name in KEY_TYPES:
            cert = arch.get_cert(CertLabel(name))
            (certs_dir / f"{name}.cert.pem").write_bytes(asn1_pem.armor("CERTIFICATE", cert.dump()))
        srv.add(arch)
    except BaseException:
        if owned:
            srv.close()
        raise
    return TestPki(
        label=label,
        directory=directory,
        base_url=srv.base_url,
        architecture=arch,
        _server=srv if owned else None,
    )


@pytest.fixture(scope="session")
def test_pki(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TestPki]:
    """The session's PKI (label ``coffre``), served until the end of the session."""
    with make_pki(tmp_path_factory.mktemp("pki"), DEFAULT_LABEL) as pki:
        yield pki


# --------------------------------------------------------------------------- SoftHSM2


def softhsm_module_path() -> str:
    override = os.environ.get("COFFRE_TEST_SOFTHSM_MODULE")
    if override:
        return override
    for candidate in SOFTHSM_MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    raise FileNotFoundError(
        "libsofthsm2.so not found (apt-get install softhsm2, or set COFFRE_TEST_SOFTHSM_MODULE)"
    )


@dataclass(frozen=True)
class SoftHsmKey:
    name: str  # certificate label in the PKI (seal-ec, seal-rsa)
    key_label: str  # CKA_LABEL of the private key, public key and certificate objects
    key_id: bytes  # CKA_ID of the same objects
    cert_path: Path  # PEM certificate of the key
    key_type: str  # "ec" or "rsa"


@dataclass(frozen=True)
class SoftHsmToken:
    module_path: str
    token_label: str
    user_pin: str
    so_pin: str
    conf_path: Path
    keys: dict[str, SoftHsmKey]

    def key(self, name: str) -> SoftHsmKey:
        return self.keys[name]


TOKEN_LABEL = "coffre-test"
TOKEN_USER_PIN = "1234"
TOKEN_SO_PIN = "12345678"
TOKEN_KEYS: dict[str, tuple[str, bytes, str]] = {
    # PKI cert label: (PKCS#11 label, CKA_ID, key type)
    "seal-ec": ("seal-ec", bytes.fromhex("01"), "ec"),
    "seal-rsa": ("seal-rsa", bytes.fromhex("02"), "rsa"),
}


def _softhsm_util(env: dict[str, str], *args: str) -> None:
    result = subprocess.run(
        ["softhsm2-util", *args], env=env, capture_output=True, text=True, timeout=60
    )
    if result.returncode != 0:
        raise RuntimeError(
            f"softhsm2-util {args[0]} failed ({result.returncode}): "
            f"{result.stdout.strip()} {result.stderr.strip()}"
        )


def _import_certificate(token: SoftHsmToken, key: SoftHsmKey) -> None:
    """Store the certificate next to its key (CKO_CERTIFICATE, same label and id)."""
    import pkcs11
    from pkcs11 import Attribute, CertificateType, ObjectClass

    cert = asn1_x509.Certificate.load(asn1_pem.unarmor(key.cert_path.read_bytes())[2])
    lib = pkcs11.lib(token.module_path)
    with lib.get_token(token_label=token.token_label).open(
        rw=True, user_pin=token.user_pin
    ) as session:
        session.create_object(
            {
                Attribute.CLASS: ObjectClass.CERTIFICATE,
                Attribute.CERTIFICATE_TYPE: CertificateType.X_509,
                Attribute.TOKEN: True,
                Attribute.PRIVATE: False,
                Attribute.LABEL: key.key_label,
                Attribute.ID: key.key_id,
                Attribute.SUBJECT: cert.subject.dump(),
                Attribute.ISSUER: cert.issuer.dump(),
                Attribute.SERIAL_NUMBER: cert["tbs_certificate"]["serial_number"].dump(),
                Attribute.VALUE: cert.dump(),
            }
        )


def _unload_pkcs11(module_path: str) -> None:
    """Forget python-pkcs11's loaded copy of the module (it keeps one per path, and SoftHSM
    reads ``SOFTHSM2_CONF`` at C_Initialize): the next ``pkcs11.lib()`` sees the current
    configuration."""
    import pkcs11

    pkcs11.unload(module_path)


@contextlib.contextmanager
def make_softhsm_token(directory: Path, pki: TestPki) -> Iterator[SoftHsmToken]:
    """A fresh SoftHSM2 token with the seal-ec and seal-rsa keys (and certificates).

    Sets ``SOFTHSM2_CONF`` for the duration (restored afterwards) and unloads
    python-pkcs11's copy of the module on entry and exit, so that in-process PKCS#11
    users (pyHanko, Coffre) open this token's configuration.
    """
    directory = Path(directory)
    token_dir = directory / "tokens"
    token_dir.mkdir(parents=True, exist_ok=True)
    conf = directory / "softhsm2.conf"
    conf.write_text(
        f"directories.tokendir = {token_dir}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )
    module = softhsm_module_path()
    previous = os.environ.get("SOFTHSM2_CONF")
    os.environ["SOFTHSM2_CONF"] = str(conf)
    env = dict(os.environ)
    try:
        _unload_pkcs11(module)
        _softhsm_util(
            env,
            "--init-token",
            "--free",
            "--label",
            TOKEN_LABEL,
            "--so-pin",
            TOKEN_SO_PIN,
            "--pin",
            TOKEN_USER_PIN,
        )
        keys: dict[str, SoftHsmKey] = {}
        for name, (label, key_id, key_type) in TOKEN_KEYS.items():
            # softhsm2-util 2.6 imports PKCS#8 PEM keys, EC as well as RSA, as a key pair
            # (CKO_PRIVATE_KEY + CKO_PUBLIC_KEY with the same label and id).
            _softhsm_util(
                env,
                "--import",
                str(pki.key_path(name)),
                "--label",
                label,
                "--id",
                key_id.hex(),
                "--token",
                TOKEN_LABEL,
                "--pin",
                TOKEN_USER_PIN,
            )
            keys[name] = SoftHsmKey(
                name=name,
                key_label=label,
                key_id=key_id,
                cert_path=pki.cert_path(name),
                key_type=key_type,
            )
        token = SoftHsmToken(
            module_path=module,
            token_label=TOKEN_LABEL,
            user_pin=TOKEN_USER_PIN,
            so_pin=TOKEN_SO_PIN,
            conf_path=conf,
            keys=keys,
        )
        for key in keys.values():
            _import_certificate(token, key)
        yield token
    finally:
        _unload_pkcs11(module)
        if previous is None:
            os.environ.pop("SOFTHSM2_CONF", None)
        else:
            os.environ["SOFTHSM2_CONF"] = previous


@pytest.fixture
def softhsm_token(tmp_path: Path, test_pki: TestPki) -> Iterator[SoftHsmToken]:
    """Function-scoped: a fresh token per test. See ``make_softhsm_token``."""
    with make_softhsm_token(tmp_path / "softhsm", test_pki) as token:
        yield token
