"""The webhook endpoints as an ASGI app of their own (`make run` serves it on loopback;
a reverse proxy with TLS publishes it). The portal mounts the same routers."""

from __future__ import annotations

from fastapi import FastAPI

from coffre.settings import get_settings
from coffre.webui.nylas_webhook import nylas_router
from coffre.webui.powens_webhook import powens_router


def create_app() -> FastAPI:
    app = FastAPI(title="Coffre webhooks", docs_url=None, redoc_url=None, openapi_url=None)
    app.include_router(nylas_router())
    app.include_router(powens_router())

    @app.get("/healthz")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    return app


def main() -> None:
    import uvicorn

    settings = get_settings()
    uvicorn.run(
        create_app(),
        host=settings.webhook_host,
        port=settings.webhook_port,
        log_level="warning",
        access_log=False,  # query strings and headers stay out of the logs
    )


if __name__ == "__main__":
    main()
