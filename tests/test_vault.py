"""Envelope encryption and the write-once, content-addressed vault (local and S3)."""

from __future__ import annotations

import base64
import hashlib
import logging
import multiprocessing
from pathlib import Path
from typing import Any

import pytest
from sqlalchemy import create_engine

from coffre.tasks.crypto import (
    DecryptionError,
    KeyDestroyed,
    KeyRing,
    SecretKey,
    decrypt_object,
    encrypt_object,
    load_or_create_master_key,
)
from coffre.tasks.storage import LocalObjectStore, S3ObjectStore
from coffre.tasks.vault import IntegrityError, Vault, object_key

PLAINTEXT = b"%PDF-1.7\nFacture n\xb0 F-2026-0042 TOTAL TTC 120,00 EUR\n" * 20


def _keyring(tmp_path: Path) -> KeyRing:
    master = load_or_create_master_key(None, tmp_path / "secrets" / "master.key")
    return KeyRing(master, create_engine(f"sqlite:///{tmp_path / 'keys.db'}"))


@pytest.fixture(params=["local", "s3"])
def vault(request: pytest.FixtureRequest, tmp_path: Path, s3_server) -> Vault:  # type: ignore[no-untyped-def]
    if request.param == "local":
        store = LocalObjectStore(tmp_path / "objects")
    else:
        store = S3ObjectStore(
            s3_server.endpoint,
            s3_server.access_key,
            s3_server.secret_key,
            s3_server.unique_bucket(),
            region=s3_server.region,
            ca_bundle=s3_server.ca_bundle,
        )
        store.ensure_bucket()
    return Vault(store, _keyring(tmp_path), retention_years=10)


def test_round_trip_and_content_address(vault: Vault) -> None:
    stored = vault.put("org1", PLAINTEXT)
    assert stored.created
    assert stored.key == object_key("org1", hashlib.sha256(PLAINTEXT).hexdigest())
    assert vault.get("org1", stored.key) == PLAINTEXT


def test_stored_bytes_are_unreadable_without_the_key(vault: Vault) -> None:
    stored = vault.put("org1", PLAINTEXT)
    raw = vault.store.get(stored.key)
    assert b"Facture" not in raw and b"%PDF" not in raw
    assert PLAINTEXT[:32] not in raw
    other_key = SecretKey(b"\x01" * 32)
    with pytest.raises(DecryptionError):
        decrypt_object(other_key, raw, stored.key)


def test_same_content_twice_is_a_no_op(vault: Vault) -> None:
    first = vault.put("org1", PLAINTEXT)
    raw_before = vault.store.get(first.key)
    second = vault.put("org1", PLAINTEXT)
    assert not second.created and second.key == first.key
    assert vault.store.get(first.key) == raw_before  # not rewritten with a new nonce


def test_organisations_have_separate_keys(vault: Vault) -> None:
    a = vault.put("org1", PLAINTEXT)
    b = vault.put("org2", PLAINTEXT)
    assert a.key != b.key
    with pytest.raises(PermissionError):
        vault.get("org2", a.key)
    raw = vault.store.get(a.key)
    with pytest.raises(DecryptionError):
        decrypt_object(vault.keyring.data_key("org2"), raw, a.key)


def test_object_bound_to_its_address(tmp_path: Path) -> None:
    key = SecretKey(b"\x02" * 32)
    blob = encrypt_object(key, b"hello", "org1/aa/first")
    assert decrypt_object(key, blob, "org1/aa/first") == b"hello"
    with pytest.raises(DecryptionError):
        decrypt_object(key, blob, "org1/aa/second")
    tampered = blob[:-1] + bytes([blob[-1] ^ 1])
    with pytest.raises(DecryptionError):
        decrypt_object(key, tampered, "org1/aa/first")


def test_tampered_local_object_is_detected(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    vault = Vault(store, _keyring(tmp_path), retention_years=0)
    stored = vault.put("org1", PLAINTEXT)
    path = tmp_path / "objects" / stored.key
    path.chmod(0o640)
    data = bytearray(path.read_bytes())
    data[40] ^= 0xFF
    path.write_bytes(bytes(data))
    with pytest.raises(DecryptionError):
        vault.get("org1", stored.key)


def test_plaintext_that_does_not_match_its_address_is_refused(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    vault = Vault(store, _keyring(tmp_path), retention_years=0)
    forged_key = object_key("org1", "0" * 64)
    store.put(forged_key, encrypt_object(vault.keyring.data_key("org1"), b"other", forged_key))
    with pytest.raises(IntegrityError):
        vault.get("org1", forged_key)


def test_master_key_file_is_private_and_stable(tmp_path: Path) -> None:
    path = tmp_path / "secrets" / "master.key"
    first = load_or_create_master_key(None, path)
    second = load_or_create_master_key(None, path)
    assert path.stat().st_mode & 0o777 == 0o600
    blob = encrypt_object(first, b"x", "k")
    assert decrypt_object(second, blob, "k") == b"x"


def _race_for_master_key(path: str, barrier: Any) -> bytes:
    barrier.wait()
    return encrypt_object(load_or_create_master_key(None, Path(path)), b"mine", "k")


def test_processes_creating_the_master_key_at_once_agree(tmp_path: Path) -> None:
    """Capture workers start together on a fresh home; they must all get one key."""
    path = tmp_path / "secrets" / "master.key"
    context = multiprocessing.get_context("spawn")
    with context.Manager() as manager:
        barrier = manager.Barrier(8)
        with context.Pool(8) as pool:
            sealed = pool.starmap(_race_for_master_key, [(str(path), barrier)] * 8)
    final = load_or_create_master_key(None, path)
    assert [decrypt_object(final, blob, "k") for blob in sealed] == [b"mine"] * 8
    assert [p.name for p in path.parent.iterdir()] == ["master.key"]


def test_configured_master_key_wins(tmp_path: Path) -> None:
    material = b"\x07" * 32
    key = load_or_create_master_key(base64.b64encode(material).decode(), tmp_path / "none")
    assert not (tmp_path / "none").exists()
    assert decrypt_object(SecretKey(material), encrypt_object(key, b"y", "k"), "k") == b"y"


def test_data_key_survives_restart_and_is_wrapped(tmp_path: Path) -> None:
    ring = _keyring(tmp_path)
    blob = encrypt_object(ring.data_key("org1"), b"secret", "k")
    restarted = _keyring(tmp_path)
    assert decrypt_object(restarted.data_key("org1"), blob, "k") == b"secret"
    assert b"secret" not in (tmp_path / "keys.db").read_bytes()


def test_wrong_master_key_cannot_unwrap(tmp_path: Path) -> None:
    _keyring(tmp_path).data_key("org1")
    intruder = KeyRing(SecretKey(b"\x09" * 32), create_engine(f"sqlite:///{tmp_path / 'keys.db'}"))
    with pytest.raises(DecryptionError, match="wrong master key"):
        intruder.data_key("org1")


def test_missing_key_is_not_recreated_on_read(tmp_path: Path) -> None:
    with pytest.raises(KeyDestroyed):
        _keyring(tmp_path).data_key("gone", create=False)


def test_keys_never_reach_logs_or_reprs(tmp_path: Path, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    ring = _keyring(tmp_path)
    key = ring.data_key("org1")
    material = key._material
    assert material.hex() not in repr(key) and "***" in repr(key)
    vault = Vault(LocalObjectStore(tmp_path / "objects"), ring, retention_years=0)
    vault.put("org1", PLAINTEXT)
    logged = caplog.text
    assert material.hex() not in logged
    assert base64.b64encode(material).decode() not in logged
