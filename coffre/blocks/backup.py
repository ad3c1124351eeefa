"""Backup repositories and the drill's age identity as Prefect blocks (production)."""

from __future__ import annotations

from pathlib import Path

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from coffre.tasks.restic import ResticRepository


class BackupRepository(Block):
    """One restic repository holding one copy of the nightly backups.

    The block's name names the copy in reports (for example ``ovh-rbx``, ``eu-de``).
    """

    _block_type_name = "Coffre backup repository"
    _description = "restic repository URL, its password, and the provider's credentials."

    repository: str = Field(
        description="restic repository, e.g. s3:https://s3.gra.io.cloud.ovh.net/bucket/coffre."
    )
    password: SecretStr = Field(description="restic password of the repository.")
    access_key_id: SecretStr | None = Field(default=None, description="S3 access key.")
    secret_access_key: SecretStr | None = Field(default=None, description="S3 secret key.")
    region: str | None = Field(default=None, description="S3 region (AWS_DEFAULT_REGION).")
    ca_bundle_pem: str | None = Field(
        default=None, description="PEM of a private CA that signs the endpoint's certificate."
    )
    timeout_seconds: float = Field(default=6 * 3600, gt=0)
    limit_upload_kib: int | None = Field(
        default=None, gt=0, description="Upload limit in KiB/s (restic --limit-upload)."
    )

    def to_repository(self, name: str, pki_dir: Path, host: str) -> ResticRepository:
        env: dict[str, str] = {}
        if self.access_key_id:
            env["AWS_ACCESS_KEY_ID"] = self.access_key_id.get_secret_value()
        if self.secret_access_key:
            env["AWS_SECRET_ACCESS_KEY"] = self.secret_access_key.get_secret_value()
        if self.region:
            env["AWS_DEFAULT_REGION"] = self.region
        cacert = None
        if self.ca_bundle_pem:
            pki_dir.mkdir(parents=True, exist_ok=True)
            cacert = pki_dir / f"backup-{name}-ca.pem"
            cacert.write_text(self.ca_bundle_pem)
        return ResticRepository(
            name=name,
            url=self.repository,
            password=self.password.get_secret_value(),
            env=env,
            cacert=cacert,
            timeout_seconds=self.timeout_seconds,
            host=host,
            limit_upload_kib=self.limit_upload_kib,
        )


class BackupIdentity(Block):
    """The age identity that decrypts backups; given to the restore drill only."""

    _block_type_name = "Coffre backup identity"
    _description = "age secret key (AGE-SECRET-KEY-1…) of the restore drill."

    identity: SecretStr
