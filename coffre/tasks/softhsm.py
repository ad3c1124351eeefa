"""The embedded HSM: a SoftHSM2 token of its own under ``COFFRE_HOME/hsm``.

``ensure_softhsm_token`` writes ``softhsm2.conf`` (token directory ``tokens/`` next to it)
and initialises the token once with ``softhsm2-util``; ``ensure_seal_key`` generates the
seal key pair *inside* the token (private key sensitive, never extractable, sign only) and
returns its public key as a ``cryptography`` key, for the development CA to certify.

SoftHSM2, python-pkcs11 and one process
---------------------------------------
SoftHSM reads the ``SOFTHSM2_CONF`` environment variable at ``C_Initialize``, and
python-pkcs11 keeps one loaded (and initialised) copy of a module per path. A process that
opened home A's token and then asks for home B's would silently keep talking to A's token
directory. ``load_pkcs11`` is the only way this module (and Coffre's sealing code) gets a
``pkcs11.lib``: it sets ``SOFTHSM2_CONF`` in ``os.environ`` and, when the copy loaded for
the module path was initialised with another configuration (or by someone else, or before
a token was added to its directory), unloads it (``C_Finalize`` + ``dlclose``) and loads it
again, so that SoftHSM re-reads the configuration. Consequences:

- one SoftHSM configuration is active per process and module path at a time; switching to
  another home invalidates the sessions still open on the previous one (open, use and close
  sessions around each use, as Coffre does, and several homes work one after the other);
- ``SOFTHSM2_CONF`` is left pointing at the last configuration opened, so that a later
  re-initialisation of the module (pyHanko's, for instance) sees the same token directory.

PINs never appear in logs nor in exception messages (``softhsm2-util``'s output is scrubbed
and its command line is never shown). ``softhsm2-util`` only takes them on its command line
(it reads a terminal otherwise), so they are visible for a fraction of a second in the
process table of the host: acceptable for the single-machine embedded default only.
"""

from __future__ import annotations

import os
import subprocess
import threading
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import pkcs11
from asn1crypto import core as asn1_core
from asn1crypto import keys as asn1_keys
from cryptography.hazmat.primitives.asymmetric import ec, rsa
from pkcs11 import Attribute, KeyType, MechanismFlag, ObjectClass
from pkcs11.util.ec import encode_named_curve_parameters

from coffre.tasks.devpki import SealPublicKey, folder_lock
from coffre.tasks.files import write_file_atomic

if TYPE_CHECKING:
    from pkcs11._pkcs11 import lib as _Pkcs11Lib

SOFTHSM_MODULE_CANDIDATES = (
    "/usr/lib/softhsm/libsofthsm2.so",
    "/usr/lib/x86_64-linux-gnu/softhsm/libsofthsm2.so",
    "/usr/local/lib/softhsm/libsofthsm2.so",
)
CONF_FILE = "softhsm2.conf"
TOKENS_DIR = "tokens"
DEFAULT_KEY_ID = bytes.fromhex("c0ffe5ea1001")
RSA_BITS = 3072
EC_CURVE = "secp256r1"
SOFTHSM_UTIL_TIMEOUT = 60

_CURVES: dict[str, type[ec.EllipticCurve]] = {
    "secp256r1": ec.SECP256R1,
    "secp384r1": ec.SECP384R1,
    "secp521r1": ec.SECP521R1,
}


class SoftHsmError(RuntimeError):
    """The embedded token or its seal key could not be prepared (never carries a PIN)."""


def default_softhsm_module() -> str | None:
    """Path of the SoftHSM2 PKCS#11 module of this host, if installed."""
    for candidate in SOFTHSM_MODULE_CANDIDATES:
        if os.path.exists(candidate):
            return candidate
    return None


# --------------------------------------------------------------------------- the token


def softhsm_conf_text(folder: Path) -> str:
    return (
        f"directories.tokendir = {Path(folder).resolve() / TOKENS_DIR}\n"
        "objectstore.backend = file\n"
        "log.level = ERROR\n"
        "slots.removable = false\n"
    )


def _scrub(text: str, hidden: tuple[str, ...]) -> str:
    for secret in hidden:
        if secret:
            text = text.replace(secret, "***")
    return " ".join(text.split())


def _softhsm_util(conf: Path, args: list[str], hidden: tuple[str, ...] = ()) -> str:
    """Run ``softhsm2-util`` on ``conf``; errors name the action only, never the arguments."""
    env = dict(os.environ, SOFTHSM2_CONF=str(conf))
    action = args[0]
    try:
        result = subprocess.run(
            ["softhsm2-util", *args],
            env=env,
            capture_output=True,
            text=True,
            timeout=SOFTHSM_UTIL_TIMEOUT,
            check=False,
        )
    except FileNotFoundError:
        raise SoftHsmError("softhsm2-util not found (apt-get install softhsm2)") from None
    except subprocess.TimeoutExpired:
        # the exception's message quotes the command line: do not chain it
        raise SoftHsmError(f"softhsm2-util {action} timed out") from None
    if result.returncode != 0:
        output = _scrub(f"{result.stdout} {result.stderr}", hidden)
        raise SoftHsmError(f"softhsm2-util {action} failed ({result.returncode}): {output}")
    return result.stdout


def _token_labels(conf: Path) -> set[str]:
    """Labels of the initialised tokens of ``conf`` (from ``softhsm2-util --show-slots``)."""
    labels: set[str] = set()
    initialised, label = False, None

    def flush() -> None:
        if initialised and label is not None:
            labels.add(label)

    for line in _softhsm_util(conf, ["--show-slots"]).splitlines():
        if line.startswith("Slot "):
            flush()
            initialised, label = False, None
            continue
        key, _, value = line.strip().partition(":")
        if key == "Initialized":
            initialised = value.strip() == "yes"
        elif key == "Label":
            label = value.strip()
    flush()
    return labels


def _check_token_args(token_label: str, pin: str, so_pin: str) -> None:
    if not token_label or len(token_label.encode()) > 32:
        raise ValueError("a token label has 1 to 32 bytes")
    for name, value in (("PIN", pin), ("SO PIN", so_pin)):
        if not 4 <= len(value) <= 255:
            raise ValueError(f"the {name} must have 4 to 255 characters")


def ensure_softhsm_token(folder: Path, token_label: str, pin: str, so_pin: str) -> Path:
    """``folder/softhsm2.conf`` and an initialised token labelled ``token_label``.

    Idempotent: the configuration is rewritten only if it differs, the token initialised
    only if no token of that label exists. Returns the configuration's path.
    """
    _check_token_args(token_label, pin, so_pin)
    folder = Path(folder).resolve()
    conf = folder / CONF_FILE
    with folder_lock(folder):
        (folder / TOKENS_DIR).mkdir(mode=0o700, exist_ok=True)
        text = softhsm_conf_text(folder)
        if not conf.is_file() or conf.read_text() != text:
            write_file_atomic(conf, text.encode(), 0o600)
        if token_label not in _token_labels(conf):
            _softhsm_util(
                conf,
                [
                    "--init-token",
                    "--free",
                    "--label",
                    token_label,
                    "--pin",
                    pin,
                    "--so-pin",
                    so_pin,
                ],
                hidden=(pin, so_pin),
            )
            _mark_stale(conf)
    return conf


# --------------------------------------------------------------------------- PKCS#11


_LOCK = threading.RLock()
# module path -> (configuration it was initialised with, the pkcs11.lib object)
_ACTIVE: dict[str, tuple[str, Any]] = {}
_STALE: set[str] = set()  # configurations whose token list changed since they were loaded


def _mark_stale(conf: Path) -> None:
    with _LOCK:
        _STALE.add(str(Path(conf).resolve()))


def load_pkcs11(module_path: str, conf_path: Path) -> _Pkcs11Lib:
    """python-pkcs11's ``lib`` for ``module_path``, initialised with ``conf_path``.

    See the module docstring: reloads the module when it was initialised with another
    SoftHSM configuration; leaves ``SOFTHSM2_CONF`` set to ``conf_path``.
    """
    conf = str(Path(conf_path).resolve())
    with _LOCK:
        os.environ["SOFTHSM2_CONF"] = conf
        loaded: dict[str, Any] = getattr(pkcs11, "_loaded", {})
        was_loaded = module_path in loaded
        lib = pkcs11.lib(module_path)
        active = _ACTIVE.get(module_path)
        if was_loaded and (
            active is None or active[0] != conf or active[1] is not lib or conf in _STALE
        ):
            pkcs11.unload(module_path)
            lib = pkcs11.lib(module_path)
        _ACTIVE[module_path] = (conf, lib)
        _STALE.discard(conf)
        return lib


def release_pkcs11(module_path: str) -> None:
    """Unload the module (finalising it); the next ``load_pkcs11`` starts afresh."""
    with _LOCK:
        _ACTIVE.pop(module_path, None)
        pkcs11.unload(module_path)


def _ec_point_bytes(value: bytes, curve: ec.EllipticCurve) -> bytes:
    """The encoded point of CKA_EC_POINT, raw or DER-wrapped in an OCTET STRING."""
    size = (curve.key_size + 7) // 8
    if len(value) in (1 + 2 * size, 1 + size) and value[:1] in (b"\x02", b"\x03", b"\x04"):
        return value  # raw (the PKCS#11 2.40 wording; a DER-wrapped point is 2 bytes longer)
    try:
        point = asn1_core.OctetString.load(value, strict=True).native
    except ValueError as error:
        raise SoftHsmError("unreadable CKA_EC_POINT") from error
    if not isinstance(point, bytes):
        raise SoftHsmError("unreadable CKA_EC_POINT")
    return point


def public_key_from_pkcs11(public_key: Any) -> SealPublicKey:
    """A PKCS#11 public key object (EC on a named curve, or RSA) as a ``cryptography`` key."""
    key_type = public_key[Attribute.KEY_TYPE]
    if key_type == KeyType.EC:
        params = asn1_keys.ECDomainParameters.load(public_key[Attribute.EC_PARAMS])
        if params.name != "named" or params.chosen.native not in _CURVES:
            raise SoftHsmError(f"unsupported EC parameters: {params.native!r}")
        curve = _CURVES[params.chosen.native]()
        point = _ec_point_bytes(public_key[Attribute.EC_POINT], curve)
        return ec.EllipticCurvePublicKey.from_encoded_point(curve, point)
    if key_type == KeyType.RSA:
        modulus = int.from_bytes(public_key[Attribute.MODULUS], "big")
        exponent = int.from_bytes(public_key[Attribute.PUBLIC_EXPONENT], "big")
        return rsa.RSAPublicNumbers(exponent, modulus).public_key()
    raise SoftHsmError(f"unsupported key type: {key_type!r}")


def _find_one(session: Any, object_class: ObjectClass, label: str) -> Any | None:
    found = list(session.get_objects({Attribute.CLASS: object_class, Attribute.LABEL: label}))
    if len(found) > 1:
        raise SoftHsmError(f"several {object_class.name} objects labelled {label!r}")
    return found[0] if found else None


def _generate(session: Any, key_type: Literal["ec", "rsa"], key_label: str, key_id: bytes) -> None:
    private_template = {
        Attribute.TOKEN: True,
        Attribute.PRIVATE: True,
        Attribute.SENSITIVE: True,
        Attribute.EXTRACTABLE: False,
        Attribute.SIGN: True,
    }
    public_template = {Attribute.TOKEN: True, Attribute.PRIVATE: False, Attribute.VERIFY: True}
    common: dict[str, Any] = {
        "store": True,
        "label": key_label,
        "id": key_id,
        "capabilities": MechanismFlag.SIGN | MechanismFlag.VERIFY,
        "public_template": public_template,
        "private_template": private_template,
    }
    if key_type == "ec":
        params = session.create_domain_parameters(
            KeyType.EC,
            {Attribute.EC_PARAMS: encode_named_curve_parameters(EC_CURVE)},
            local=True,
        )
        params.generate_keypair(**common)
    elif key_type == "rsa":
        session.generate_keypair(KeyType.RSA, RSA_BITS, **common)
    else:
        raise ValueError(f"unknown key type {key_type!r}")


def ensure_seal_key(
    module_path: str,
    conf_path: Path,
    token_label: str,
    pin: str,
    key_label: str,
    key_type: Literal["ec", "rsa"] = "ec",
    *,
    key_id: bytes = DEFAULT_KEY_ID,
) -> SealPublicKey:
    """The public key of the token's seal key ``key_label``, generated in the token once.

    The key pair is made by the token (EC P-256 or RSA 3072): the private key is a token
    object, private, sensitive, not extractable, able to sign and nothing else. An existing
    key of that label is kept; it must be of ``key_type`` and non-extractable.
    """
    conf_path = Path(conf_path).resolve()
    expected = KeyType.EC if key_type == "ec" else KeyType.RSA
    # _LOCK: no other thread of this process switches the module to another home meanwhile
    with _LOCK, folder_lock(conf_path.parent):
        lib = load_pkcs11(module_path, conf_path)
        try:
            token = lib.get_token(token_label=token_label)
        except pkcs11.NoSuchToken:
            raise SoftHsmError(f"no token labelled {token_label!r} in {conf_path}") from None
        try:
            opened = token.open(rw=True, user_pin=pin)
        except (pkcs11.PinIncorrect, pkcs11.PinLocked):
            raise SoftHsmError(
                f"the PIN does not open token {token_label!r} (PIN file and token out of step?)"
            ) from None
        with opened as session:
            private = _find_one(session, ObjectClass.PRIVATE_KEY, key_label)
            if private is None:
                _generate(session, key_type, key_label, key_id)
                private = _find_one(session, ObjectClass.PRIVATE_KEY, key_label)
                if private is None:  # pragma: no cover - the token lost what it just made
                    raise SoftHsmError(f"key {key_label!r} was not stored")
            if private[Attribute.KEY_TYPE] != expected:
                raise SoftHsmError(
                    f"the token's key {key_label!r} is {private[Attribute.KEY_TYPE].name}, "
                    f"not {key_type}"
                )
            if private[Attribute.EXTRACTABLE] or not private[Attribute.SENSITIVE]:
                raise SoftHsmError(f"the token's key {key_label!r} can leave the token")
            public = _find_one(session, ObjectClass.PUBLIC_KEY, key_label)
            if public is None:
                raise SoftHsmError(f"the token has no public key labelled {key_label!r}")
            return public_key_from_pkcs11(public)
