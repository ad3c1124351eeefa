"""The dashboard: this month at a glance, and what needs the customer."""

from __future__ import annotations

from nicegui import ui

from coffre.webui.dashboard_figures import dashboard_figures
from coffre.webui.i18n import t
from coffre.webui.layout import signed_in


@ui.page("/", title="Coffre")
def dashboard_page() -> None:
    user = signed_in("read")
    if user is None:
        return
    figures = dashboard_figures(user.org_id)
    share = figures.reconciled_share
    with ui.row().classes("q-pa-md gap-4"):
        for label, key, value in (
            ("Documents ce mois-ci", "month", str(figures.documents_this_month)),
            ("Opérations rapprochées", "reconciled", "—" if share is None else f"{share:.0%}"),
            ("Suggestions à valider", "suggestions", str(figures.pending_suggestions)),
        ):
            with ui.card().props(f"data-testid=figure-{key}"):
                ui.label(t(label)).classes("text-caption")
                ui.label(value).classes("text-h4")
    if figures.needs_you:
        with ui.card().classes("q-mx-md").props("data-testid=needs-you"):
            ui.label(t("À faire")).classes("text-h6 text-negative")
            for item in figures.needs_you:
                ui.label(item)
    months = list(figures.spending_by_month)
    ui.echart(
        {
            "title": {"text": t("Dépenses par mois (TTC)"), "textStyle": {"fontSize": 14}},
            "tooltip": {},
            "xAxis": {"type": "category", "data": months},
            "yAxis": {"type": "value"},
            "series": [
                {
                    "type": "bar",
                    "data": [float(figures.spending_by_month[m]) for m in months],
                }
            ],
        }
    ).classes("q-mx-md h-72 max-w-3xl")
