"""The dashboard: this month at a glance."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

from nicegui import ui
from sqlalchemy import func
from sqlmodel import col, select

from coffre.models import session_scope
from coffre.models.document import Document, DocumentStatus
from coffre.runtime import get_engine
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in


def month_figures(org_id: str) -> dict[str, int]:
    start = datetime.now(UTC).replace(day=1, hour=0, minute=0, second=0, microsecond=0)
    with session_scope(get_engine()) as session:

        def count(*conditions: Any) -> int:
            query = (
                select(func.count())
                .select_from(Document)
                .where(col(Document.org_id) == org_id, *conditions)
            )
            return int(session.exec(query).one())

        return {
            "month": count(col(Document.created_at) >= start),
            "sealed": count(col(Document.status) == DocumentStatus.SEALED),
            "quarantined": count(col(Document.status) == DocumentStatus.QUARANTINED),
        }


@ui.page("/", title="Coffre")
def dashboard_page() -> None:
    user = signed_in("read")
    if user is None:
        return
    figures = month_figures(user.org_id)
    with ui.row().classes("q-pa-md gap-4"):
        for label, key in (
            ("Documents ce mois-ci", "month"),
            ("Scellés", "sealed"),
            ("En quarantaine", "quarantined"),
        ):
            with ui.card().props(f"data-testid=figure-{key}"):
                ui.label(t(label)).classes("text-caption")
                ui.label(str(figures[key])).classes("text-h4")
