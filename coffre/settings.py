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

    # Nightly backups. Without repository blocks, the embedded default backs up to one
    # restic repository under home, encrypted to an age identity kept under home (for
    # trying Coffre only: in production the identity must live off the machine).
    backup_repository_blocks: list[str] = Field(
        default_factory=list, description="Names of BackupRepository blocks (one per copy)."
    )
    backup_recipients: list[str] = Field(
        default_factory=list, description="age public recipients of the operators."
    )
    backup_identity_block: str | None = Field(
        default=None, description="Name of a BackupIdentity block; loaded by the drill only."
    )
    backup_host: str = "coffre"
    backup_keep_daily: int = Field(default=14, ge=0)
    backup_keep_weekly: int = Field(default=8, ge=0)
    backup_keep_monthly: int = Field(default=24, ge=0)
    backup_keep_yearly: int = Field(default=10, ge=0)
    backup_keys_keep_days: int = Field(
        default=35, gt=0, description="Key-store snapshots older than this are forgotten."
    )
    backup_check_weekday: int = Field(default=6, ge=0, le=6, description="0 = Monday.")
    backup_check_subsets: int = Field(
        default=12, gt=0, description="check --read-data-subset=n/N: all data every N weeks."
    )
    backup_timeout_seconds: float = Field(default=6 * 3600, gt=0)
    backup_lock_wait_seconds: float = Field(
        default=300, gt=0, description="How long pg_dump waits for a table lock before failing."
    )
    backup_drill_sample: int = Field(default=5, ge=0)
    backup_drill_database_url: str | None = Field(
        default=None, description="PostgreSQL server for the drill's scratch database."
    )

    # Customer portal (NiceGUI), HTTPS only. Without a certificate, the embedded default
    # makes a self-signed one under home/pki/portal.
    portal_host: str = "127.0.0.1"
    portal_port: int = 8443
    portal_cert_path: Path | None = None
    portal_key_path: Path | None = None
    portal_storage_secret: SecretStr | None = Field(
        default=None, description="Signs session cookies; default: a file under home/secrets."
    )
    portal_session_idle_minutes: float = Field(default=30, gt=0)
    portal_session_max_hours: int = Field(default=12, gt=0)
    portal_login_attempts: int = Field(
        default=5, gt=0, description="Failed logins per account and address before a pause."
    )
    portal_login_window_minutes: int = Field(default=15, gt=0)
    portal_verifications_per_hour: int = Field(
        default=30, gt=0, description="Seal checks on the public page per client address."
    )
    portal_page_size: int = Field(default=50, gt=0, le=500)
    portal_forwarded_allow_ips: str = Field(
        default="127.0.0.1",
        description="Proxies whose X-Forwarded-For is trusted (the TLS proxy in production).",
    )
    security_contact: str = "mailto:securite@coffre.example"

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
    def backup_path(self) -> Path:
        """Staging, hash cache, S3 mirror and drill scratch space of the backups."""
        return self.resolved_home / "backup"

    @property
    def portal_storage_path(self) -> Path:
        """NiceGUI's server-side session storage."""
        return self.resolved_home / "portal"

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
