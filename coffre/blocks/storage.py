"""Object storage and the master key as Prefect blocks (production)."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from coffre.tasks.storage import S3ObjectStore


class ObjectStorage(Block):
    """An S3-compatible bucket with Object Lock (OVH Object Storage, a MinIO fork…)."""

    _block_type_name = "Coffre object storage"
    _description = "S3 endpoint, credentials and bucket of the vault (Object Lock required)."

    endpoint: str = Field(description="host:port, without scheme.")
    access_key: SecretStr
    secret_key: SecretStr
    bucket: str = "coffre"
    region: str | None = None
    secure: bool = True
    ca_bundle_pem: str | None = Field(
        default=None, description="PEM of a private CA that signs the endpoint's certificate."
    )

    def open(self, ca_bundle_path: str | None = None) -> S3ObjectStore:
        store = S3ObjectStore(
            self.endpoint,
            self.access_key.get_secret_value(),
            self.secret_key.get_secret_value(),
            self.bucket,
            region=self.region,
            secure=self.secure,
            ca_bundle=ca_bundle_path,
        )
        store.ensure_bucket()
        return store


class MasterKey(Block):
    """The key that wraps every organisation's data key (base64 of 32 random bytes)."""

    _block_type_name = "Coffre master key"
    _description = "Wraps the organisations' data keys. Losing it loses every document."

    value: SecretStr
