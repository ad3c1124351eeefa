"""Upload: drag and drop photos and PDFs (or take a photo on a phone), then see what the
capture flow made of each file."""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

from nicegui import events, run, ui

from coffre.settings import get_settings
from coffre.tasks.filenames import safe_filename
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in
from coffre.webui.pages.documents import STATUS_LABELS

ACCEPT = "application/pdf,image/jpeg,image/png,image/tiff,image/webp,image/heic,.heic"


def capture_upload(org_id: str, filename: str, data: bytes) -> dict[str, Any]:
    """Run the capture flow on one uploaded file (a Prefect flow run, seen by operators)."""
    from coffre.flows.capture import capture

    work = get_settings().work_path
    work.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=work) as folder:
        path = Path(folder) / safe_filename(filename)
        path.write_bytes(data)
        [outcome] = capture(org=org_id, paths=[str(path)], source="upload")
    return dict(outcome)


@ui.page("/envoyer", title="Coffre — envoyer")
def upload_page() -> None:
    user = signed_in("upload")
    if user is None:
        return
    ui.label(t("Déposez vos tickets et factures (photos ou PDF)")).classes("text-h6 q-pa-md")
    outcomes = ui.column().classes("q-px-md")

    async def received(event: events.UploadEventArguments) -> None:
        name = event.file.name
        data = await event.file.read()
        with outcomes:
            line = ui.label(f"{name} : capture en cours…")
        outcome = await run.io_bound(capture_upload, user.org_id, name, data)
        if outcome is None:  # the portal is shutting down; the flow run tells the rest
            return
        status = STATUS_LABELS.get(str(outcome["status"]), str(outcome["status"]))
        text = f"{name} : {status}"
        if outcome.get("duplicate_of"):
            text += " (déjà reçu)"
        if outcome.get("reason"):
            text += f" — {outcome['reason']}"
        line.set_text(text)
        line.props(f"data-testid=outcome-{outcome['status']}")

    ui.upload(
        multiple=True,
        auto_upload=True,
        max_file_size=get_settings().max_upload_bytes,
        on_upload=received,
        on_rejected=lambda: ui.notify("Fichier trop volumineux.", type="negative"),
    ).props(f'accept="{ACCEPT}" capture=environment').classes("q-mx-md w-full max-w-xl")
