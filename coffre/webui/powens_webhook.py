"""The Powens webhook: a signed CONNECTION_SYNCED is only a trigger for sync-bank.

Nothing of the body is stored or trusted beyond the connection id: the sync fetches the
data itself, with the token Coffre keeps. Deliveries must be signed (BI-Signature over
method, path, date and body) and recent (a replayed delivery is refused).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Awaitable, Callable
from datetime import timedelta

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse
from sqlmodel import select

from coffre.models import session_scope
from coffre.models.bank import BankConnection, BankConnectionState
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.tasks.powens import connection_id_from_webhook, verify_webhook

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
MAX_AGE = timedelta(minutes=10)
SYNC_BANK_DEPLOYMENT = "sync-bank/sync-bank"

Trigger = Callable[[str, str, str], Awaitable[None]]


def webhook_secret() -> str | None:
    settings = get_settings()
    if settings.powens_block:
        from coffre.blocks.bank import PowensApp

        block = PowensApp.load(settings.powens_block)
        assert isinstance(block, PowensApp)
        return block.webhook_secret.get_secret_value() if block.webhook_secret else None
    secret = settings.powens_webhook_secret
    return secret.get_secret_value() if secret else None


async def trigger_sync_bank(org_id: str, connection_id: str, idempotency_key: str) -> None:
    from prefect.deployments import arun_deployment

    await arun_deployment(
        SYNC_BANK_DEPLOYMENT,
        parameters={"org": org_id, "connection_id": connection_id},
        idempotency_key=idempotency_key,
        timeout=0,
        as_subflow=False,
        tags=["webhook", "powens"],
    )


def powens_router(trigger: Trigger = trigger_sync_bank) -> APIRouter:
    router = APIRouter()

    @router.post("/webhooks/powens")
    async def notification(request: Request) -> Response:
        secret = webhook_secret()
        if not secret:
            return JSONResponse({"error": "webhooks are not configured"}, status_code=503)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        if not verify_webhook(request.headers, raw, secret, path=request.url.path, max_age=MAX_AGE):
            log.warning("refused a Powens webhook delivery with a missing or wrong signature")
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        try:
            payload = json.loads(raw)
        except (UnicodeDecodeError, json.JSONDecodeError):
            return JSONResponse({"error": "not JSON"}, status_code=400)
        remote_id = connection_id_from_webhook(payload)
        if remote_id is None:
            return JSONResponse({"ignored": "no connection"})
        with session_scope(get_engine()) as session:
            targets = session.exec(
                select(BankConnection.org_id, BankConnection.id).where(
                    BankConnection.powens_connection_id == remote_id,
                    BankConnection.state != BankConnectionState.DELETED,
                )
            ).all()
        # One sync per delivery, even when Powens delivers it twice.
        delivery = hashlib.sha256(
            request.headers.get("BI-Signature-Date", "").encode() + b"|" + raw
        ).hexdigest()[:32]
        for org_id, connection_id in targets:
            await trigger(org_id, connection_id, f"powens:{delivery}:{connection_id}")
        return JSONResponse({"triggered": len(targets)})

    return router
