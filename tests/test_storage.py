"""Both object-store back-ends honour the same write-once contract."""

from __future__ import annotations

import datetime as dt
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
from minio.error import S3Error

from coffre.settings import Settings
from coffre.tasks.storage import (
    InvalidKey,
    LocalObjectStore,
    ObjectNotFound,
    ObjectStore,
    S3ObjectStore,
    open_object_store,
)
from tests.s3server import S3Server, s3_server  # noqa: F401


def _s3_store(server: S3Server) -> S3ObjectStore:
    settings = Settings(
        objects_backend="s3",
        s3_endpoint=server.endpoint,
        s3_access_key=server.access_key,
        s3_secret_key=server.secret_key,
        s3_bucket=server.unique_bucket(),
        s3_region=server.region,
        s3_secure=True,
        s3_ca_bundle=server.ca_bundle,
    )
    store = open_object_store(settings)
    assert isinstance(store, S3ObjectStore)
    return store


@pytest.fixture(params=["local", "s3"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[ObjectStore]:
    if request.param == "local":
        yield LocalObjectStore(tmp_path / "objects")
    else:
        yield _s3_store(request.getfixturevalue("s3_server"))


@pytest.fixture
def s3_store(s3_server: S3Server) -> S3ObjectStore:  # noqa: F811
    return _s3_store(s3_server)


def test_put_get_exists_keys(store: ObjectStore) -> None:
    assert isinstance(store, ObjectStore)
    assert list(store.keys()) == []
    assert not store.exists("ab/cdef.pdf")

    assert store.put("ab/cdef.pdf", b"%PDF-1.7 one") is True
    assert store.put("ab/cd99.pdf", b"two") is True
    assert store.put("ff/00.pdf", b"") is True

    assert store.exists("ab/cdef.pdf")
    assert store.get("ab/cdef.pdf") == b"%PDF-1.7 one"
    assert store.get("ff/00.pdf") == b""
    assert sorted(store.keys()) == ["ab/cd99.pdf", "ab/cdef.pdf", "ff/00.pdf"]
    assert sorted(store.keys("ab/")) == ["ab/cd99.pdf", "ab/cdef.pdf"]
    assert sorted(store.keys("ab/cde")) == ["ab/cdef.pdf"]
    assert list(store.keys("zz")) == []
    assert list(store.keys("../")) == []
    assert list(store.keys("ab//")) == []


def test_missing_key_raises_object_not_found(store: ObjectStore) -> None:
    with pytest.raises(ObjectNotFound):
        store.get("nope/missing.bin")
    with pytest.raises(KeyError):  # ObjectNotFound is a KeyError
        store.get("nope/missing.bin")


def test_second_put_never_overwrites(store: ObjectStore) -> None:
    assert store.put("k/obj", b"original") is True
    assert store.put("k/obj", b"original") is False
    assert store.put("k/obj", b"something else entirely") is False
    assert store.get("k/obj") == b"original"
    assert list(store.keys()) == ["k/obj"]


def test_larger_object_roundtrip(store: ObjectStore) -> None:
    # Above MinIO's 5 MiB part size: must still be one PUT, and come back intact.
    data = bytes(range(256)) * (6 * 1024 * 1024 // 256 + 3)
    assert store.put("big/blob", data) is True
    assert store.get("big/blob") == data


def test_concurrent_puts_exactly_one_wins(store: ObjectStore) -> None:
    n = 12
    barrier = threading.Barrier(n)
    results: list[bool] = []
    errors: list[BaseException] = []
    lock = threading.Lock()

    def worker(i: int) -> None:
        try:
            barrier.wait()
            ok = store.put("race/same-key", f"writer {i}".encode())
        except BaseException as exc:  # noqa: BLE001
            with lock:
                errors.append(exc)
            return
        with lock:
            results.append(ok)

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    assert not errors
    assert len(results) == n
    assert results.count(True) == 1
    assert store.get("race/same-key").startswith(b"writer ")


@pytest.mark.parametrize(
    "key",
    [
        "",
        "/abs",
        "../escape",
        "a/../../etc/passwd",
        "a/..",
        "a/./b",
        "a//b",
        "trailing/",
        "sp ace",
        "back\\slash",
        "tilde~",
        "nul\x00byte",
        "é",
    ],
)
def test_local_rejects_bad_keys(tmp_path: Path, key: str) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    with pytest.raises(InvalidKey):
        store.put(key, b"x")
    with pytest.raises(InvalidKey):
        store.get(key)
    with pytest.raises(InvalidKey):
        store.exists(key)
    assert not any(p.is_file() for p in tmp_path.rglob("*"))


def test_local_files_are_read_only_and_no_temporaries_left(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    assert store.put("a/b/c.bin", b"data") is True
    path = tmp_path / "objects" / "a" / "b" / "c.bin"
    assert path.stat().st_mode & 0o777 == 0o440
    assert [p.name for p in path.parent.iterdir()] == ["c.bin"]
    assert store.put("a/b/c.bin", b"other") is False
    assert [p.name for p in path.parent.iterdir()] == ["c.bin"]
    assert path.read_bytes() == b"data"


def test_local_ignores_stray_temporaries_in_keys(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put("a/x", b"1")
    (tmp_path / "objects" / "a" / ".~crashed.tmp").write_bytes(b"half")
    assert list(store.keys()) == ["a/x"]


def test_local_key_prefix_clash_is_an_error_not_false(tmp_path: Path) -> None:
    store = LocalObjectStore(tmp_path / "objects")
    store.put("a/b", b"1")
    with pytest.raises(InvalidKey):
        store.put("a", b"2")
    with pytest.raises(InvalidKey):
        store.put("a/b/c", b"3")


def test_open_object_store_local(tmp_path: Path) -> None:
    store = open_object_store(Settings(objects_backend="local", objects_dir=tmp_path / "o"))
    assert isinstance(store, LocalObjectStore)
    assert store.put("x", b"1") is True


def test_s3_repr_hides_credentials(s3_store: S3ObjectStore, s3_server: S3Server) -> None:  # noqa: F811
    text = repr(s3_store) + str(vars(s3_store))
    assert s3_server.secret_key not in text
    assert s3_server.access_key not in text


def test_s3_bucket_has_object_lock(s3_store: S3ObjectStore, s3_server: S3Server) -> None:  # noqa: F811
    client = s3_server.minio_client()
    config = client.get_object_lock_config(s3_store.bucket)
    assert config is not None  # raises when the bucket has no Object Lock
    assert client.get_bucket_versioning(s3_store.bucket).status == "Enabled"
    s3_store.ensure_bucket()  # idempotent


def test_s3_retention_is_compliance_and_blocks_version_delete(
    s3_store: S3ObjectStore,
    s3_server: S3Server,  # noqa: F811
) -> None:
    until = (dt.datetime.now(dt.UTC) + dt.timedelta(days=3)).replace(microsecond=0)
    assert s3_store.put("sealed/doc.pdf", b"%PDF sealed", retain_until=until) is True

    client = s3_server.minio_client()
    stat = client.stat_object(s3_store.bucket, "sealed/doc.pdf")
    assert stat.metadata["x-amz-object-lock-mode"] == "COMPLIANCE"
    retained = dt.datetime.fromisoformat(
        stat.metadata["x-amz-object-lock-retain-until-date"].replace("Z", "+00:00")
    )
    assert retained == until
    assert stat.version_id

    with pytest.raises(S3Error) as err:
        client.remove_object(s3_store.bucket, "sealed/doc.pdf", version_id=stat.version_id)
    assert err.value.code == "AccessDenied"
    assert err.value.response.status == 403
    assert s3_store.get("sealed/doc.pdf") == b"%PDF sealed"

    # A plain delete only adds a delete marker; the locked version survives underneath.
    client.remove_object(s3_store.bucket, "sealed/doc.pdf")
    versions = [
        o
        for o in client.list_objects(s3_store.bucket, include_version=True, recursive=True)
        if o.object_name == "sealed/doc.pdf"
    ]
    assert any(o.version_id == stat.version_id and not o.is_delete_marker for o in versions)
    kept = client.get_object(s3_store.bucket, "sealed/doc.pdf", version_id=stat.version_id)
    try:
        assert kept.read() == b"%PDF sealed"
    finally:
        kept.close()
        kept.release_conn()


def test_s3_unlocked_version_can_be_deleted(
    s3_store: S3ObjectStore,
    s3_server: S3Server,  # noqa: F811
) -> None:
    """Control for the test above: the refusal comes from the lock, not from the request."""
    assert s3_store.put("free/doc.pdf", b"no retention") is True
    client = s3_server.minio_client()
    stat = client.stat_object(s3_store.bucket, "free/doc.pdf")
    assert "x-amz-object-lock-mode" not in stat.metadata
    client.remove_object(s3_store.bucket, "free/doc.pdf", version_id=stat.version_id)
    assert not s3_store.exists("free/doc.pdf")


def test_s3_rejects_naive_retention_date(s3_store: S3ObjectStore) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        s3_store.put("n/x", b"1", retain_until=dt.datetime(2099, 1, 1))
    assert not s3_store.exists("n/x")


def test_s3_rejects_bad_keys(s3_store: S3ObjectStore) -> None:
    with pytest.raises(InvalidKey):
        s3_store.put("../x", b"1")


def test_s3_refuses_existing_bucket_without_object_lock(s3_server: S3Server) -> None:  # noqa: F811
    bucket = s3_server.unique_bucket("nolock")
    s3_server.minio_client().make_bucket(bucket, location=s3_server.region)
    store = S3ObjectStore(
        s3_server.endpoint,
        s3_server.access_key,
        s3_server.secret_key,
        bucket,
        region=s3_server.region,
        ca_bundle=s3_server.ca_bundle,
    )
    with pytest.raises(RuntimeError, match="without Object Lock"):
        store.ensure_bucket()


def test_s3_retention_over_plain_http() -> None:
    """MinIO sends Content-MD5 only over HTTPS; Object Lock puts need it or a checksum."""
    from moto.server import ThreadedMotoServer

    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    try:
        host, port = server.get_host_and_port()
        store = S3ObjectStore(
            f"{host}:{port}",
            "plain-access",
            "plain-secret",
            f"plain-{uuid.uuid4().hex[:12]}",
            region="eu-west-par",
            secure=False,
        )
        store.ensure_bucket()
        until = dt.datetime.now(dt.UTC) + dt.timedelta(days=1)
        assert store.put("p/doc", b"over http", retain_until=until) is True
        stat = store.client.stat_object(store.bucket, "p/doc")
        assert stat.metadata is not None
        assert stat.metadata["x-amz-object-lock-mode"] == "COMPLIANCE"
        assert store.get("p/doc") == b"over http"
    finally:
        server.stop()
