"""Write-once object storage for sealed documents: a local directory or an S3 bucket.

Objects are content-addressed and must never change once written (legal archiving),
so every back-end refuses to overwrite: ``put`` on an existing key is a no-op that
returns False. On S3 the bucket also has Object Lock, so that a COMPLIANCE retention
keeps even the credentials' owner from deleting or replacing a stored version.
"""

from __future__ import annotations

import base64
import hashlib
import io
import logging
import os
import re
import tempfile
import threading
import zlib
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol, runtime_checkable

import urllib3
from minio import Minio
from minio.commonconfig import COMPLIANCE
from minio.error import S3Error
from minio.helpers import MAX_PART_SIZE, MIN_PART_SIZE
from minio.retention import Retention

if TYPE_CHECKING:
    from coffre.settings import Settings

__all__ = [
    "InvalidKey",
    "LocalObjectStore",
    "ObjectNotFound",
    "ObjectStore",
    "S3ObjectStore",
    "open_object_store",
]

# Path-safe on every filesystem and S3 provider; excludes the characters we use for
# temporary files, so a half-written file can never be mistaken for an object.
_KEY_RE = re.compile(r"[A-Za-z0-9._-]+(?:/[A-Za-z0-9._-]+)*")
_log = logging.getLogger(__name__)
_NOT_FOUND_CODES = frozenset({"NoSuchKey", "NotFound", "NoSuchVersion"})


class ObjectNotFound(KeyError):
    """No object under that key (a KeyError so that mapping-style callers work)."""


class InvalidKey(ValueError):
    """The key could escape the store's root or is not portable across back-ends."""


def check_key(key: str) -> str:
    """Return ``key`` if it is safe, else raise InvalidKey (same rules on every back-end,
    so that objects can be moved between them)."""
    if not isinstance(key, str) or not _KEY_RE.fullmatch(key) or ".." in key:
        raise InvalidKey(f"invalid object key: {key!r}")
    if any(part == "." for part in key.split("/")):
        raise InvalidKey(f"invalid object key: {key!r}")
    return key


@runtime_checkable
class ObjectStore(Protocol):
    """What the pipeline needs from storage: write-once puts and reads, nothing else
    (no delete, no overwrite — those are deliberately absent)."""

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> bool:
        """Store ``data`` under ``key`` unless the key exists; True when this call wrote.

        ``retain_until`` is the COMPLIANCE retention date where the back-end supports it.
        """
        ...

    def get(self, key: str) -> bytes:
        """Return the bytes under ``key``; raise ObjectNotFound when there are none."""
        ...

    def exists(self, key: str) -> bool: ...

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Keys starting with ``prefix`` (a plain string prefix, not a directory)."""
        ...


class LocalObjectStore:
    """Objects as read-only files under ``root``; for the embedded single-host setup.

    Write-once holds between processes: the data goes to a temporary file that is then
    hard-linked to its final name, and ``link`` refuses an existing target atomically.
    A crash leaves at most an orphan temporary file, never a truncated object.
    """

    def __init__(self, root: Path) -> None:
        self.root = Path(root)

    def __repr__(self) -> str:
        return f"LocalObjectStore({str(self.root)!r})"

    def _path(self, key: str) -> Path:
        return self.root.joinpath(*check_key(key).split("/"))

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> bool:
        """Write-once put; ``retain_until`` is ignored (a local disk cannot enforce it)."""
        final = self._path(key)
        if final.is_file():
            return False
        parent = final.parent
        try:
            parent.mkdir(parents=True, exist_ok=True)
        except (FileExistsError, NotADirectoryError) as exc:
            raise InvalidKey(f"object key clashes with an existing object: {key!r}") from exc
        # "~" cannot appear in a key, so keys() never lists temporaries.
        fd, tmp_name = tempfile.mkstemp(dir=parent, prefix=".~", suffix=".tmp")
        tmp = Path(tmp_name)
        try:
            with os.fdopen(fd, "wb") as fh:
                fh.write(data)
                fh.flush()
                os.fsync(fh.fileno())
                # Read-only before it becomes visible: no window where it is writable.
                os.fchmod(fh.fileno(), 0o440)
            try:
                os.link(tmp, final)
            except FileExistsError:
                if final.is_file():
                    return False
                raise InvalidKey(f"object key clashes with an existing prefix: {key!r}") from None
        finally:
            tmp.unlink(missing_ok=True)
        _fsync_dir(parent)
        return True

    def get(self, key: str) -> bytes:
        path = self._path(key)
        try:
            return path.read_bytes()
        except (FileNotFoundError, IsADirectoryError, NotADirectoryError):
            raise ObjectNotFound(key) from None

    def exists(self, key: str) -> bool:
        return self._path(key).is_file()

    def keys(self, prefix: str = "") -> Iterator[str]:
        """Sorted keys under ``prefix``; walks only the directory the prefix points into."""
        start = self.root
        head, _, _ = prefix.rpartition("/")
        if head:
            # Any key under the prefix starts with ``head/``, so ``head`` is itself a
            # valid key; checking it also keeps the walk inside root ("../" prefixes).
            try:
                check_key(head)
            except InvalidKey:
                return
            start = self.root.joinpath(*head.split("/"))
        if not start.is_dir():
            return
        for dirpath, dirnames, filenames in os.walk(start):
            dirnames.sort()
            rel_dir = Path(dirpath).relative_to(self.root).as_posix()
            for name in sorted(filenames):
                key = name if rel_dir == "." else f"{rel_dir}/{name}"
                if key.startswith(prefix) and _KEY_RE.fullmatch(key) and ".." not in key:
                    yield key


def _fsync_dir(path: Path) -> None:
    """Make the new directory entry durable, not only the file's bytes."""
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


class S3ObjectStore:
    """Objects in an S3 bucket with Object Lock, through the MinIO SDK.

    Write-once is checked with ``stat_object`` before ``put_object``. Within one process
    the check and the put are serialised per key, so concurrent threads see exactly one
    winner. Between processes S3 offers no portable compare-and-swap through this SDK:
    two writers racing on the same key can both write. That is accepted because keys are
    content addresses, so both wrote identical bytes; with versioning (implied by Object
    Lock) each write is a separate, locked version, so nothing stored is ever lost.

    Credentials are handed to the MinIO client and not kept as attributes of this
    object; the repr shows only endpoint and bucket, and no message built here
    contains them.
    """

    _STRIPES = 64

    def __init__(
        self,
        endpoint: str,
        access_key: str,
        secret_key: str,
        bucket: str,
        *,
        region: str | None = None,
        secure: bool = True,
        ca_bundle: Path | str | None = None,
    ) -> None:
        http_client = None
        if ca_bundle is not None:
            # A private CA (on-premises S3); same timeouts and retries as MinIO's default.
            http_client = urllib3.PoolManager(
                cert_reqs="CERT_REQUIRED",
                ca_certs=str(ca_bundle),
                timeout=urllib3.Timeout(connect=300, read=300),
                maxsize=10,
                retries=urllib3.Retry(
                    total=5, backoff_factor=0.2, status_forcelist=[500, 502, 503, 504]
                ),
            )
        self.endpoint = endpoint
        self.bucket = bucket
        self.region = region
        self.secure = secure
        self.client = Minio(
            endpoint,
            access_key=access_key,
            secret_key=secret_key,
            secure=secure,
            region=region,
            http_client=http_client,
        )
        self._locks = [threading.Lock() for _ in range(self._STRIPES)]

    def __repr__(self) -> str:
        return f"S3ObjectStore(endpoint={self.endpoint!r}, bucket={self.bucket!r})"

    def ensure_bucket(self) -> None:
        """Create the bucket with Object Lock if missing (it can only be enabled at creation).

        An existing bucket without Object Lock is refused: retention dates would then be
        rejected on every put, and nothing would stop deletions.
        """
        if not self.client.bucket_exists(self.bucket):
            try:
                self.client.make_bucket(self.bucket, location=self.region, object_lock=True)
            except S3Error as exc:
                # Another process created it between the check and here.
                if exc.code not in {"BucketAlreadyOwnedByYou", "BucketAlreadyExists"}:
                    raise
            return
        try:
            self.client.get_object_lock_config(self.bucket)
        except S3Error as exc:
            if exc.code == "ObjectLockConfigurationNotFoundError":
                raise RuntimeError(
                    f"bucket {self.bucket!r} exists without Object Lock; it cannot be added "
                    "afterwards, use a new bucket"
                ) from None
            if exc.code != "AccessDenied":
                raise
            # Least-privilege credentials may not read the lock configuration; the
            # first put with a retention date will fail loudly if the lock is missing.
            _log.warning("cannot check Object Lock on bucket %r (access denied)", self.bucket)

    def _lock_for(self, key: str) -> threading.Lock:
        return self._locks[zlib.crc32(key.encode()) % self._STRIPES]

    def put(self, key: str, data: bytes, *, retain_until: datetime | None = None) -> bool:
        """Write-once put, with COMPLIANCE retention until ``retain_until`` when given.

        ``retain_until`` must be timezone-aware: a retention date cannot be shortened
        afterwards, so an ambiguous local time is refused rather than guessed.
        """
        check_key(key)
        retention = None
        if retain_until is not None:
            if retain_until.tzinfo is None or retain_until.utcoffset() is None:
                raise ValueError("retain_until must be timezone-aware")
            retention = Retention(COMPLIANCE, retain_until.astimezone(UTC))
        metadata = None
        if retention is not None and not self.secure:
            # Object Lock puts need Content-MD5 or a checksum; MinIO only adds Content-MD5
            # over HTTPS (it signs the SHA-256 payload over HTTP), so send a checksum.
            metadata = _sha256_checksum_headers(data)
        with self._lock_for(key):
            if self.exists(key):
                return False
            # One PUT even for large objects: no half-finished multipart upload can be
            # left behind, and the lock headers apply to the single request.
            part_size = min(max(len(data), MIN_PART_SIZE), MAX_PART_SIZE)
            self.client.put_object(
                self.bucket,
                key,
                io.BytesIO(data),
                len(data),
                content_type="application/octet-stream",
                metadata=metadata,
                retention=retention,
                part_size=part_size,
            )
        return True

    def get(self, key: str) -> bytes:
        check_key(key)
        try:
            response = self.client.get_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                raise ObjectNotFound(key) from None
            raise
        try:
            return response.read()
        finally:
            response.close()
            response.release_conn()

    def exists(self, key: str) -> bool:
        check_key(key)
        try:
            self.client.stat_object(self.bucket, key)
        except S3Error as exc:
            if exc.code in _NOT_FOUND_CODES:
                return False
            raise
        return True

    def keys(self, prefix: str = "") -> Iterator[str]:
        for obj in self.client.list_objects(self.bucket, prefix=prefix or None, recursive=True):
            name = obj.object_name
            if name is not None and not obj.is_dir:
                yield name


def _sha256_checksum_headers(data: bytes) -> dict[str, str | list[str] | tuple[str]]:
    digest = base64.b64encode(hashlib.sha256(data).digest()).decode()
    return {"x-amz-sdk-checksum-algorithm": "SHA256", "x-amz-checksum-sha256": digest}


def open_object_store(settings: Settings) -> ObjectStore:
    """The configured back-end, ready to use (for S3: bucket created with Object Lock)."""
    if settings.objects_backend == "s3":
        store = S3ObjectStore(
            settings.s3_endpoint,
            settings.s3_access_key.get_secret_value(),
            settings.s3_secret_key.get_secret_value(),
            settings.s3_bucket,
            region=settings.s3_region or None,
            secure=settings.s3_secure,
            ca_bundle=settings.s3_ca_bundle,
        )
        store.ensure_bucket()
        return store
    if settings.objects_backend == "local":
        return LocalObjectStore(settings.objects_path)
    raise ValueError(f"unknown objects_backend: {settings.objects_backend!r}")
