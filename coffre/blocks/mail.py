"""The instance's Nylas application as a Prefect block (production)."""

from __future__ import annotations

from prefect.blocks.core import Block
from pydantic import Field, SecretStr


class NylasApp(Block):
    """API key, region and webhook secret of the Nylas v3 application Coffre uses."""

    _block_type_name = "Coffre Nylas application"
    _description = "Nylas v3 API key, API URI (region) and webhook secret."

    api_key: SecretStr
    api_uri: str = Field(default="https://api.eu.nylas.com", description="EU region by default.")
    webhook_secret: SecretStr | None = None
