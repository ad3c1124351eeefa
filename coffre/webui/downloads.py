"""Downloads of sealed archives and originals: the session's organisation only.

A document of another organisation answers exactly like one that does not exist.
"""

from __future__ import annotations

import tempfile
from datetime import date
from pathlib import Path
from typing import Literal

from fastapi import APIRouter, HTTPException
from fastapi.responses import FileResponse, Response
from starlette.background import BackgroundTask

from coffre.models import NotFound, get_document, session_scope
from coffre.runtime import get_engine, get_vault
from coffre.webui.session import current_user

router = APIRouter()


@router.get("/fichiers/{document_id}/{which}")
def download(document_id: str, which: Literal["archive", "original"]) -> Response:
    user = current_user()
    if user is None:
        raise HTTPException(status_code=401, detail="Connexion requise.")
    try:
        with session_scope(get_engine()) as session:
            document = get_document(session, user.org_id, document_id)
    except NotFound:
        raise HTTPException(status_code=404, detail="Document introuvable.") from None
    key = document.archive_key if which == "archive" else document.original_key
    if not key:
        raise HTTPException(status_code=404, detail="Pas de copie d'archive pour ce document.")
    data = get_vault().get(user.org_id, key)
    stem = document.filename.rsplit(".", 1)[0] or document.id
    name = f"{stem}-archive.pdf" if which == "archive" else document.filename
    media_type = "application/pdf" if which == "archive" else document.media_type
    safe_name = "".join(c if c.isalnum() or c in "-_." else "_" for c in name)
    return Response(
        data,
        media_type=media_type,
        headers={
            "content-disposition": f'attachment; filename="{safe_name}"',
            "cache-control": "no-store",
        },
    )


@router.get("/export")
def export() -> FileResponse:
    """A zip of every sealed archive (or original) and a CSV index, for owners and
    accountants."""
    from coffre.settings import get_settings
    from coffre.tasks.export import export_to_file

    user = current_user()
    if user is None:
        raise HTTPException(status_code=401, detail="Connexion requise.")
    if not user.may("export"):
        raise HTTPException(status_code=403, detail="Export non autorisé pour votre rôle.")
    work = get_settings().work_path
    work.mkdir(parents=True, exist_ok=True)
    handle = tempfile.NamedTemporaryFile(dir=work, suffix=".zip", delete=False)  # noqa: SIM115
    handle.close()
    path = Path(handle.name)
    export_to_file(user.org_id, path)
    return FileResponse(
        path,
        media_type="application/zip",
        filename=f"coffre-export-{date.today().isoformat()}.zip",
        headers={"cache-control": "no-store"},
        background=BackgroundTask(path.unlink, missing_ok=True),
    )
