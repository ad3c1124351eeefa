"""An S3 endpoint for tests: moto's server over HTTPS with a throw-away CA.

HTTPS matters: production talks to S3 over TLS with a private CA bundle, and the MinIO
SDK only sends ``Content-MD5`` (required for Object Lock puts) over HTTPS.

The server runs in a thread of the test process, so moto's state is process-global:
tests must use their own bucket names (``unique_bucket``) rather than rely on a reset,
and a ``moto.mock_aws`` elsewhere in the session would wipe the server's buckets.

Enable with ``from tests.s3server import s3_server  # noqa: F401`` in a conftest.
"""

from __future__ import annotations

import datetime as dt
import http.client
import ssl
import threading
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import pytest
from werkzeug.serving import BaseWSGIServer, make_server

from tests.tls import write_server_certificates


@dataclass(frozen=True)
class S3Server:
    endpoint: str  # "127.0.0.1:PORT", as Minio() wants it (no scheme)
    ca_bundle: Path
    access_key: str = "testing-access-key"
    secret_key: str = field(default="testing-secret-key", repr=False)
    region: str = "eu-west-par"

    @property
    def url(self) -> str:
        return f"https://{self.endpoint}"

    def unique_bucket(self, stem: str = "coffre") -> str:
        """A bucket name no other test uses (moto's state is shared by the session)."""
        return f"{stem}-{uuid.uuid4().hex[:16]}"

    def ssl_context(self) -> ssl.SSLContext:
        return ssl.create_default_context(cafile=str(self.ca_bundle))

    def minio_client(self):  # -> minio.Minio, imported lazily
        """A raw client, for what the store deliberately cannot do (delete, inspect)."""
        import urllib3
        from minio import Minio

        http = urllib3.PoolManager(cert_reqs="CERT_REQUIRED", ca_certs=str(self.ca_bundle))
        return Minio(
            self.endpoint,
            access_key=self.access_key,
            secret_key=self.secret_key,
            secure=True,
            region=self.region,
            http_client=http,
        )

    def reset(self) -> None:
        """Drop all of moto's state (every bucket of every test)."""
        conn = http.client.HTTPSConnection(self.endpoint, context=self.ssl_context(), timeout=10)
        try:
            conn.request("POST", "/moto-api/reset")
            conn.getresponse().read()
        finally:
            conn.close()


def _write_certs(directory: Path) -> tuple[Path, Path, Path]:
    """Self-signed CA plus a localhost/127.0.0.1 server certificate signed by it."""
    return write_server_certificates(
        directory, "coffre test CA", ["localhost", "127.0.0.1"], dt.timedelta(days=2)
    )


def _wait_until_up(server: S3Server, deadline: float) -> None:
    """Poll with a verifying TLS client: proves both the listener and the certificate."""
    last: Exception | None = None
    while time.monotonic() < deadline:
        conn = http.client.HTTPSConnection(server.endpoint, context=server.ssl_context(), timeout=2)
        try:
            conn.request("GET", "/moto-api/")
            conn.getresponse().read()
            return
        except (OSError, http.client.HTTPException) as exc:
            last = exc
            time.sleep(0.05)
        finally:
            conn.close()
    raise RuntimeError(f"moto S3 server did not answer over HTTPS: {last!r}")


def start_s3_server(directory: Path) -> tuple[S3Server, BaseWSGIServer, threading.Thread]:
    """Start moto over HTTPS on an OS-chosen loopback port; caller must stop it."""
    # Imported here: moto is a dev dependency and slow to import.
    from moto.server import DomainDispatcherApplication, MotoRequestHandler, create_backend_app

    ca_path, cert_path, key_path = _write_certs(directory)
    ssl_ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ssl_ctx.minimum_version = ssl.TLSVersion.TLSv1_2
    ssl_ctx.load_cert_chain(cert_path, key_path)

    app = DomainDispatcherApplication(create_backend_app)
    # ThreadedMotoServer has no TLS option, so build the same server with an SSL context.
    wsgi = make_server(
        "127.0.0.1",
        0,  # let the kernel pick a free port: no race with other sessions
        app,
        threaded=True,
        request_handler=MotoRequestHandler,
        ssl_context=ssl_ctx,
    )
    thread = threading.Thread(target=wsgi.serve_forever, name="moto-s3-https", daemon=True)
    thread.start()
    server = S3Server(endpoint=f"127.0.0.1:{wsgi.server_port}", ca_bundle=ca_path)
    try:
        _wait_until_up(server, time.monotonic() + 30)
    except BaseException:
        wsgi.shutdown()
        thread.join(timeout=10)
        wsgi.server_close()
        raise
    return server, wsgi, thread


@pytest.fixture(scope="session")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    """moto's S3 over HTTPS for the whole session; use ``unique_bucket()`` per test."""
    server, wsgi, thread = start_s3_server(tmp_path_factory.mktemp("s3-tls"))
    try:
        yield server
    finally:
        wsgi.shutdown()
        thread.join(timeout=10)
        wsgi.server_close()
