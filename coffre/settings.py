"""One place for configuration: embedded defaults, overridden by ``COFFRE_*`` variables.

Everything the embedded default writes lives under ``COFFRE_HOME`` so that several
instances can run side by side. Production values (S3 credentials, master key) are
loaded from Prefect blocks by the deployment and exported as these variables.
"""

from __future__ import annotations

from functools import lru_cache
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr
from pydantic_settings import BaseSettings, SettingsConfigDict


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="COFFRE_", extra="ignore")

    home: Path = Field(default=Path("./var"), description="Root of all embedded state.")
    database_url: str | None = Field(
        default=None, description="SQLAlchemy URL of the store; default: SQLite under home."
    )
    keystore_url: str | None = Field(
        default=None,
        description="SQLAlchemy URL of the key store (wrapped organisation keys), kept apart "
        "from the store so that it can be backed up with a short retention.",
    )
    master_key: SecretStr | None = Field(
        default=None, description="Base64 of the 32-byte master key; default: a file under home."
    )

    storage_block: str | None = Field(
        default=None, description="Name of an ObjectStorage block (S3); overrides the s3_* values."
    )
    master_key_block: str | None = Field(
        default=None, description="Name of a MasterKey block; overrides master_key."
    )
    objects_backend: Literal["local", "s3"] = "local"
    objects_dir: Path | None = None
    s3_endpoint: str = "localhost:9000"
    s3_access_key: SecretStr = SecretStr("")
    s3_secret_key: SecretStr = SecretStr("")
    s3_bucket: str = "coffre"
    s3_region: str = "eu-west-par"
    s3_secure: bool = True
    s3_ca_bundle: Path | None = None
    retention_years: int = Field(default=10, ge=0)

    max_upload_bytes: int = Field(default=64 * 1024 * 1024, gt=0)
    max_pages: int = Field(default=300, gt=0)
    max_image_pixels: int = Field(default=120_000_000, gt=0)
    ocr_languages: str = "fra+eng"
    ocr_timeout_seconds: int = Field(default=900, gt=0)
    capture_concurrency: int = Field(default=2, gt=0)

    # Sealing. Without COFFRE_SEAL_MODULE_PATH (or a block), the embedded default is used:
    # a SoftHSM2 token, a development CA and a local TSA, all created under home.
    seal_block: str | None = Field(
        default=None, description="Name of a SealHsm Prefect block holding the HSM settings."
    )
    seal_module_path: str | None = None
    seal_token_label: str = "coffre-seal"  # noqa: S105 - a label, not a secret
    seal_key_label: str = "coffre-seal-key"
    seal_pin: SecretStr | None = None
    seal_cert_path: Path | None = None
    seal_chain_paths: list[Path] = Field(default_factory=list)
    trust_root_paths: list[Path] = Field(
        default_factory=list, description="Roots trusted for seals and timestamps (PEM)."
    )
    tsa_url: str | None = None
    tsa_port: int = 4310
    seal_level: Literal["B-T", "B-LT", "B-LTA"] = "B-LTA"
    seal_revocation_mode: Literal["soft-fail", "hard-fail", "require"] = "soft-fail"
    seal_visible_stamp: bool = False
    seal_organisation: str = "Coffre (instance locale)"
    seal_batch_size: int = Field(default=25, gt=0)
    seal_concurrency: int = Field(default=2, gt=0)
    seal_retries: int = Field(default=3, ge=0)
    seal_retry_delay_seconds: float = Field(default=10, ge=0)
    timestamp_renewal_margin_days: int = Field(default=365, gt=0)

    # Mail fetchers. The Nylas application is one per instance; each customer's grant id
    # is kept (encrypted) on their mail connection.
    nylas_block: str | None = Field(
        default=None, description="Name of a NylasApp Prefect block; overrides nylas_*."
    )
    nylas_api_key: SecretStr | None = None
    nylas_api_uri: str = "https://api.eu.nylas.com"
    nylas_webhook_secret: SecretStr | None = None
    mail_ca_file: Path | None = Field(
        default=None, description="Extra CA certificates for IMAP servers with a private CA."
    )
    mail_timeout_seconds: float = Field(default=60, gt=0)
    mail_retries: int = Field(default=4, ge=0)
    mail_retry_max_seconds: float = Field(default=60, ge=0)
    mail_lease_minutes: int = Field(default=60, gt=0)
    mail_sweep_cron: str = "*/15 * * * *"
    # Bank sync through Powens (one application per instance; one Powens user per
    # organisation, its token encrypted on the organisation's bank connections).
    powens_block: str | None = Field(
        default=None, description="Name of a PowensApp Prefect block; overrides powens_*."
    )
    powens_base_url: str = ""  # https://{domain}.biapi.pro/2.0
    powens_client_id: str = ""
    powens_client_secret: SecretStr | None = None
    powens_webhook_secret: SecretStr | None = None
    powens_redirect_uri: str = "https://localhost:8443/banque/retour"
    bank_retries: int = Field(default=4, ge=0)
    bank_retry_max_seconds: float = Field(default=60, ge=0)

    webhook_host: str = "127.0.0.1"
    webhook_port: int = 8470

    prefect_host: str = "127.0.0.1"
    prefect_port: int = 4200

    @property
    def resolved_home(self) -> Path:
        return self.home.resolve()

    @property
    def store_url(self) -> str:
        return self.database_url or f"sqlite:///{self.resolved_home / 'coffre.db'}"

    @property
    def keys_url(self) -> str:
        return self.keystore_url or f"sqlite:///{self.resolved_home / 'keys.db'}"

    @property
    def objects_path(self) -> Path:
        return (self.objects_dir or self.resolved_home / "objects").resolve()

    @property
    def master_key_path(self) -> Path:
        return self.resolved_home / "secrets" / "master.key"

    @property
    def inbox_path(self) -> Path:
        return self.resolved_home / "inbox"

    @property
    def work_path(self) -> Path:
        """Scratch space for conversions; never holds anything that must survive."""
        return self.resolved_home / "work"


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    return Settings()


def reset_settings() -> None:
    """Forget cached settings (tests and the CLI change the environment)."""
    get_settings.cache_clear()
