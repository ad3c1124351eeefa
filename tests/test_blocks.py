"""Production settings from Prefect blocks: object storage, master key, seal HSM."""

from __future__ import annotations

import base64
import uuid
from pathlib import Path

import pytest
from pydantic import SecretStr

from coffre.blocks.seal import SealHsm
from coffre.blocks.storage import MasterKey, ObjectStorage
from coffre.runtime import get_vault, reset_runtime
from coffre.settings import reset_settings
from coffre.tasks.crypto import SecretKey, decrypt_object
from coffre.tasks.seal import seal_bytes
from coffre.tasks.sealing import seal_config
from coffre.tasks.storage import S3ObjectStore
from coffre.tasks.verify import verify_pdf
from tests import documents
from tests.pki import SoftHsmToken, TestPki

pytestmark = pytest.mark.usefixtures("prefect_harness")


def _name(stem: str) -> str:
    return f"{stem}-{uuid.uuid4().hex[:8]}"


def test_vault_from_storage_and_master_key_blocks(  # type: ignore[no-untyped-def]
    coffre_home: Path, s3_server, monkeypatch: pytest.MonkeyPatch
) -> None:
    storage, master = _name("storage"), _name("master")
    material = bytes(range(32))
    ObjectStorage(
        endpoint=s3_server.endpoint,
        access_key=SecretStr(s3_server.access_key),
        secret_key=SecretStr(s3_server.secret_key),
        bucket=s3_server.unique_bucket(),
        region=s3_server.region,
        ca_bundle_pem=Path(s3_server.ca_bundle).read_text(),
    ).save(storage)
    MasterKey(value=SecretStr(base64.b64encode(material).decode())).save(master)
    monkeypatch.setenv("COFFRE_STORAGE_BLOCK", storage)
    monkeypatch.setenv("COFFRE_MASTER_KEY_BLOCK", master)
    reset_runtime()

    vault = get_vault()
    assert isinstance(vault.store, S3ObjectStore)
    stored = vault.put("org1", b"%PDF-1.7 facture")
    assert vault.get("org1", stored.key) == b"%PDF-1.7 facture"
    # the data key is wrapped by the block's master key (not the home's file): unwrap it
    # by hand
    wrapped = vault.keyring._keystore  # the key store engine
    from coffre.models.keystore import load_wrapped_key
    from coffre.tasks.crypto import _wrap_aad

    blob = load_wrapped_key(wrapped, "org1")
    assert blob is not None
    data_key = SecretKey(material).aead().decrypt(blob[:12], blob[12:], _wrap_aad("org1"))
    raw = vault.store.get(stored.key)
    assert decrypt_object(SecretKey(data_key), raw, stored.key) == b"%PDF-1.7 facture"


def test_seal_from_the_hsm_block(  # type: ignore[no-untyped-def]
    coffre_home: Path,
    test_pki: TestPki,
    session_token: SoftHsmToken,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    name = _name("seal")
    SealHsm(
        module_path=session_token.module_path,
        token_label=session_token.token_label,
        key_label=session_token.key("seal-ec").key_label,
        pin=SecretStr(session_token.user_pin),
        certificate_pem=test_pki.cert_path("seal-ec").read_text(),
        chain_pem=test_pki.intermediate_cert_path.read_text(),
        trust_roots_pem=test_pki.root_cert_path.read_text(),
        tsa_url=test_pki.tsa_url,
        level="B-LT",
    ).save(name)
    monkeypatch.setenv("COFFRE_SEAL_BLOCK", name)
    reset_settings()
    config = seal_config()
    assert config.level.value == "B-LT" and "***" not in config.tsa_url
    assert session_token.user_pin not in repr(config)
    sealed = seal_bytes(config, documents.text_pdf(["Facture scellée par bloc"]))
    report = verify_pdf(sealed.data, [test_pki.root_cert], revocation_mode="hard-fail")
    assert report.ok, report.reasons
    assert report.level == "B-LT"
