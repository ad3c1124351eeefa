"""The Nylas webhook: new mail in a connected mailbox → a fetch_mail run, and nothing
else. Every delivery is authenticated before its body is even parsed.

Nylas signs each notification with the destination's webhook secret: the
``x-nylas-signature`` header is the hex HMAC-SHA256 of the body as sent. With
compressed delivery the body arrives gzip-encoded; the signature is accepted over the
bytes as received or over the decompressed JSON (either can only come from someone
holding the secret), and decompression is bounded so a gzip bomb costs nothing.
"""

from __future__ import annotations

import gzip
import hashlib
import hmac
import json
import logging
import zlib
from collections.abc import Awaitable, Callable
from typing import Any

from fastapi import APIRouter, Request, Response
from fastapi.responses import JSONResponse, PlainTextResponse

from coffre.models import session_scope
from coffre.models.mail import MailConnectionStatus
from coffre.models.mail_queries import connections_for_grant, get_connection
from coffre.runtime import get_engine
from coffre.settings import get_settings
from coffre.tasks.org_secrets import grant_lookup

log = logging.getLogger(__name__)
MAX_BODY_BYTES = 1024 * 1024
FETCH_MAIL_DEPLOYMENT = "fetch-mail/fetch-mail"
MESSAGE_TRIGGERS = {"message.created", "message.created.truncated", "message.created.transformed"}
GRANT_LOST_TRIGGERS = {"grant.expired", "grant.deleted"}

Trigger = Callable[[str, str, str], Awaitable[None]]


class BodyTooLarge(ValueError):
    pass


def webhook_secret() -> str | None:
    settings = get_settings()
    if settings.nylas_block:
        from coffre.blocks.mail import NylasApp

        block = NylasApp.load(settings.nylas_block)
        assert isinstance(block, NylasApp)
        return block.webhook_secret.get_secret_value() if block.webhook_secret else None
    secret = settings.nylas_webhook_secret
    return secret.get_secret_value() if secret else None


def _signed_by(secret: str, body: bytes, signature: str) -> bool:
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, signature.strip().lower())


def gunzip_bounded(body: bytes, limit: int = MAX_BODY_BYTES) -> bytes:
    """Decompress a gzip body, refusing to produce more than `limit` bytes."""
    inflater = zlib.decompressobj(16 + zlib.MAX_WBITS)
    out = inflater.decompress(body, limit + 1)
    if len(out) > limit or inflater.unconsumed_tail:
        raise BodyTooLarge("the decompressed notification is too large")
    return out


def authenticated_json(
    secret: str, raw: bytes, signature: str | None, encoding: str | None
) -> dict[str, Any] | None:
    """The notification as JSON if it is genuinely from Nylas, else None."""
    if not signature:
        return None
    compressed = (encoding or "").lower() == "gzip" or raw[:2] == b"\x1f\x8b"
    try:
        body = gunzip_bounded(raw) if compressed else raw
    except (BodyTooLarge, zlib.error, EOFError, gzip.BadGzipFile):
        return None
    if not (
        _signed_by(secret, raw, signature) or (compressed and _signed_by(secret, body, signature))
    ):
        return None
    try:
        value = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError):
        return None
    return value if isinstance(value, dict) else None


async def trigger_fetch_mail(org_id: str, connection_id: str, idempotency_key: str) -> None:
    """Create a fetch-mail flow run through the Prefect API; the same key twice is one run."""
    from prefect.deployments import arun_deployment

    await arun_deployment(
        FETCH_MAIL_DEPLOYMENT,
        parameters={"org": org_id, "connection_id": connection_id},
        idempotency_key=idempotency_key,
        timeout=0,
        as_subflow=False,
        tags=["webhook", "nylas"],
    )


def nylas_router(trigger: Trigger = trigger_fetch_mail) -> APIRouter:
    router = APIRouter()

    @router.get("/webhooks/nylas")
    async def challenge(challenge: str = "") -> Response:
        """Nylas checks a new destination by asking it to echo a challenge."""
        if not challenge or len(challenge) > 512:
            return PlainTextResponse("missing challenge", status_code=400)
        return PlainTextResponse(challenge)

    @router.post("/webhooks/nylas")
    async def notification(request: Request) -> Response:
        secret = webhook_secret()
        if not secret:
            return JSONResponse({"error": "webhooks are not configured"}, status_code=503)
        declared = request.headers.get("content-length")
        if declared and declared.isdigit() and int(declared) > MAX_BODY_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        raw = await request.body()
        if len(raw) > MAX_BODY_BYTES:
            return JSONResponse({"error": "too large"}, status_code=413)
        payload = authenticated_json(
            secret,
            raw,
            request.headers.get("x-nylas-signature"),
            request.headers.get("content-encoding"),
        )
        if payload is None:
            log.warning("refused a Nylas webhook delivery with a missing or wrong signature")
            return JSONResponse({"error": "invalid signature"}, status_code=401)
        return JSONResponse(await _handle(payload, trigger))

    return router


async def _handle(payload: dict[str, Any], trigger: Trigger) -> dict[str, Any]:
    kind = str(payload.get("type") or "")
    data = payload.get("data") if isinstance(payload.get("data"), dict) else {}
    subject = data.get("object") if isinstance(data, dict) else None
    grant_id = str(subject.get("grant_id") or "") if isinstance(subject, dict) else ""
    if not grant_id or (kind not in MESSAGE_TRIGGERS and kind not in GRANT_LOST_TRIGGERS):
        return {"ignored": kind or "unknown"}
    with session_scope(get_engine()) as session:
        targets = connections_for_grant(session, grant_lookup(grant_id))
    if kind in GRANT_LOST_TRIGGERS:
        _mark_needs_reauth(targets)
        return {"needs_reauth": len(targets)}
    # Nylas retries a delivery with the same notification id: one run per id.
    notification_id = (
        str(payload.get("id") or "")
        or hashlib.sha256(json.dumps(payload, sort_keys=True).encode()).hexdigest()
    )
    for org_id, connection_id in targets:
        await trigger(org_id, connection_id, f"nylas:{notification_id}:{connection_id}")
    return {"triggered": len(targets)}


def _mark_needs_reauth(targets: list[tuple[str, str]]) -> None:
    with session_scope(get_engine()) as session:
        for org_id, connection_id in targets:
            row = get_connection(session, org_id, connection_id)
            row.status = MailConnectionStatus.NEEDS_REAUTH
            row.last_error = "Nylas reports the mailbox's access as expired; reconnect it."
            session.add(row)
