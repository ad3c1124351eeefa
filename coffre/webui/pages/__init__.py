"""The portal's pages; importing the package registers them with NiceGUI."""

from coffre.webui.pages import account, dashboard, documents, upload, verify

__all__ = ["account", "dashboard", "documents", "upload", "verify"]
