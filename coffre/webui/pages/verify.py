"""The public page: anyone can check whether a PDF carries a valid Coffre seal."""

from __future__ import annotations

from typing import Any

from nicegui import events, run, ui

from coffre.settings import get_settings
from coffre.webui.i18n import t
from coffre.webui.limits import SlidingWindow, minutes_to_say

INTRODUCTION = (
    "Déposez un PDF : Coffre vérifie son sceau électronique et son horodatage. "
    "Le fichier n'est pas conservé."
)

#: Checks per client address: the page is public and a check costs real CPU.
checks = SlidingWindow()


def minutes_to_wait(address: str) -> int:
    """0 when this address may check a file now (the check is then counted)."""
    wait = checks.wait(address, get_settings().portal_verifications_per_hour, 3600)
    if wait > 0:
        return minutes_to_say(wait)
    checks.record(address)
    return 0


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
            minutes = minutes_to_wait(ui.context.client.ip or "unknown")
            if minutes:
                verdict.clear()
                with verdict:
                    ui.label(
                        t("Trop de vérifications depuis votre adresse.")
                        + " "
                        + t("Réessayez dans {minutes} minute(s).").format(minutes=minutes)
                    ).classes("text-negative").props("data-testid=too-soon")
                return
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
