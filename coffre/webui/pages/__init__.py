"""The portal's pages; importing the package registers them with NiceGUI."""

from coffre.webui.pages import account, dashboard, documents, organisation, upload, verify

__all__ = ["account", "dashboard", "documents", "organisation", "upload", "verify"]
