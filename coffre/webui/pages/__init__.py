"""The portal's pages; importing the package registers them with NiceGUI."""

from coffre.webui.pages import (
    account,
    bank,
    dashboard,
    documents,
    invoices,
    mailboxes,
    organisation,
    upload,
    verify,
)

__all__ = [
    "account",
    "bank",
    "dashboard",
    "documents",
    "invoices",
    "mailboxes",
    "organisation",
    "upload",
    "verify",
]
