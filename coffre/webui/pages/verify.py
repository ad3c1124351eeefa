"""The public page: anyone can check whether a PDF carries a valid Coffre seal."""

from __future__ import annotations

from typing import Any

from nicegui import events, run, ui

from coffre.settings import get_settings
from coffre.webui.i18n import t

INTRODUCTION = (
    "Déposez un PDF : Coffre vérifie son sceau électronique et son horodatage. "
    "Le fichier n'est pas conservé."
)


def verify_upload(data: bytes) -> Any:
    from coffre.tasks.pki import load_certificates
    from coffre.tasks.sealing import seal_config
    from coffre.tasks.verify import verify_pdf

    settings = get_settings()
    roots = load_certificates(list(seal_config(settings).trust_root_paths))
    return verify_pdf(data, roots, revocation_mode=settings.seal_revocation_mode)


@ui.page("/verifier", title="Coffre — vérifier un document")
def verify_page() -> None:
    with ui.column().classes("q-pa-md max-w-xl"):
        ui.label(t("Vérifier un document scellé")).classes("text-h5")
        ui.label(t(INTRODUCTION))
        verdict = ui.column()

        async def received(event: events.UploadEventArguments) -> None:
            data = await event.file.read()
            report = await run.io_bound(verify_upload, data)
            if report is None:  # the portal is shutting down
                return
            verdict.clear()
            with verdict:
                ui.label(t("Sceau valide") if report.ok else t("Sceau non valide")).classes(
                    "text-h6 " + ("text-positive" if report.ok else "text-negative")
                ).props(f"data-testid=verdict-{'valid' if report.ok else 'invalid'}")
                if report.ok:
                    ui.label(f"Scellé par : {report.signer}")
                    ui.label(f"Scellé le : {report.signing_time}")
                    ui.label(f"Horodatage : {report.timestamp_time} ({report.level})")
                for reason in report.reasons:
                    ui.label(reason).classes("text-negative")

        ui.upload(
            auto_upload=True,
            max_file_size=get_settings().max_upload_bytes,
            on_upload=received,
        ).props('accept="application/pdf"').classes("w-full")
