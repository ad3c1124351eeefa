"""The customer portal: NiceGUI on FastAPI, served over HTTPS only.

`python -m coffre.webui.portal` (started by `make run`) serves it on
COFFRE_PORTAL_HOST:COFFRE_PORTAL_PORT with the operator's certificate, or a
self-signed one for the embedded default.
"""

from __future__ import annotations

import os
import secrets

from fastapi import FastAPI, Request
from fastapi.responses import PlainTextResponse

from coffre.bootstrap import configure_prefect_home
from coffre.settings import Settings, get_settings


def storage_secret(settings: Settings) -> str:
    """The key that signs session cookies: configured, or made once under home."""
    if settings.portal_storage_secret:
        return settings.portal_storage_secret.get_secret_value()
    path = settings.resolved_home / "secrets" / "portal-session.key"
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(fd, "w") as handle:
            handle.write(secrets.token_urlsafe(48))
    except FileExistsError:
        pass
    return path.read_text().strip()


def create_app() -> FastAPI:
    """The portal's ASGI app (NiceGUI reads its storage path when first imported)."""
    settings = get_settings()
    configure_prefect_home(settings)
    os.environ.setdefault("NICEGUI_STORAGE_PATH", str(settings.portal_storage_path))
    from nicegui import app as nicegui_app
    from nicegui import ui

    import coffre.webui.pages  # noqa: F401 - registers the pages
    from coffre.webui.downloads import router as downloads_router
    from coffre.webui.nylas_webhook import nylas_router
    from coffre.webui.powens_webhook import powens_router
    from coffre.webui.security import SecurityHeaders, security_txt

    app = FastAPI(title="Coffre", docs_url=None, redoc_url=None, openapi_url=None)
    # Inside NiceGUI's app, so that its session middleware tells who is asking.
    nicegui_app.include_router(downloads_router)
    app.include_router(nylas_router())
    app.include_router(powens_router())

    @app.get("/.well-known/security.txt", response_class=PlainTextResponse)
    def security(request: Request) -> str:
        return security_txt(str(request.base_url))

    @app.get("/healthz")
    def health() -> dict[str, str]:
        return {"status": "ok"}

    ui.run_with(
        app,
        title="Coffre",
        language="fr",
        favicon="🔒",
        storage_secret=storage_secret(settings),
        session_middleware_kwargs={
            "https_only": True,  # Secure; Starlette's session cookie is always HttpOnly
            "same_site": "lax",
            "max_age": settings.portal_session_max_hours * 3600,
            "session_cookie": "coffre_session",
        },
        show_welcome_message=False,
    )
    app.add_middleware(SecurityHeaders)
    return app


def main() -> None:
    import uvicorn

    from coffre.bootstrap import prepare_home
    from coffre.webui.tls import portal_certificate

    settings = get_settings()
    prepare_home(settings)
    cert, key = portal_certificate(settings)
    uvicorn.run(
        create_app(),
        host=settings.portal_host,
        port=settings.portal_port,
        ssl_certfile=str(cert),
        ssl_keyfile=str(key),
        log_level="warning",
        access_log=False,  # query strings stay out of the logs
        proxy_headers=True,
        timeout_graceful_shutdown=5,  # open pages reconnect to the next process
        forwarded_allow_ips=settings.portal_forwarded_allow_ips,
    )


if __name__ == "__main__":
    main()
