"""The instance's Powens application as a Prefect block (production)."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class PowensApp(Block):
    """Powens API domain, client credentials and webhook secret."""

    _block_type_name = "Coffre Powens application"
    _description = "Powens base URL (https://{domain}.biapi.pro/2.0), client id and secrets."

    base_url: str = Field(description="https://{domain}.biapi.pro/2.0")
    client_id: str
    client_secret: SecretStr
    webhook_secret: SecretStr | None = None
