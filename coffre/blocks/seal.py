"""The seal's HSM and TSA settings as a Prefect block (production)."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from prefect.blocks.core import Block
from pydantic import Field, SecretStr

from coffre.tasks.seal import SealConfig, SealLevel


class SealHsm(Block):
    """Where the seal key lives (PKCS#11), its certificate, and the timestamp authority."""

    _block_type_name = "Coffre seal HSM"
    _description = "PKCS#11 module, token and key of the server seal, its certificate and TSA."

    module_path: str = Field(description="Path of the HSM's PKCS#11 library on the workers.")
    token_label: str = "coffre-seal"  # noqa: S105 - a label, not a secret
    key_label: str = "coffre-seal-key"
    pin: SecretStr = Field(description="User PIN of the token.")
    certificate_pem: str | None = Field(
        default=None, description="Seal certificate (PEM); read from the token when empty."
    )
    chain_pem: str = Field(default="", description="Intermediate certificates (PEM).")
    trust_roots_pem: str = Field(description="Roots trusted for seals and timestamps (PEM).")
    tsa_url: str = Field(description="RFC 3161 timestamp authority (qualified in production).")
    level: Literal["B-T", "B-LT", "B-LTA"] = "B-LTA"
    revocation_mode: Literal["soft-fail", "hard-fail", "require"] = "hard-fail"
    visible_stamp: bool = False

    def to_config(self, folder: Path) -> SealConfig:
        """Materialise the PEMs in ``folder`` (pyHanko reads files) and build the config."""
        folder.mkdir(parents=True, exist_ok=True)

        def write(name: str, content: str) -> Path:
            path = folder / name
            path.write_text(content)
            return path

        cert = write("seal.pem", self.certificate_pem) if self.certificate_pem else None
        chain = (write("chain.pem", self.chain_pem),) if self.chain_pem.strip() else ()
        return SealConfig(
            module_path=self.module_path,
            token_label=self.token_label,
            key_label=self.key_label,
            pin=self.pin,
            tsa_url=self.tsa_url,
            trust_root_paths=(write("roots.pem", self.trust_roots_pem),),
            cert_path=cert,
            chain_paths=chain,
            level=SealLevel(self.level),
            revocation_mode=self.revocation_mode,
            visible_stamp=self.visible_stamp,
        )
