"""HTML → PDF/A-3b for issued e-invoices, with WeasyPrint and no network access.

The visual part of a Factur-X invoice must be PDF/A-3 (the only PDF/A part that allows the
embedded XML). WeasyPrint writes PDF/A-3b natively: fonts subset and embedded, sRGB output
intent, XMP identification. Rendering must be reproducible and must never reach out to the
network, so resources are limited to ``data:`` URIs and files under the template's folder.
"""

from __future__ import annotations

import logging
import mimetypes
import threading
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit
from urllib.request import url2pathname

from PIL import ImageFile
from weasyprint import CSS, HTML
from weasyprint.urls import FatalURLFetchingError, URLFetcher, URLFetcherResponse

# Importing WeasyPrint makes Pillow accept truncated images, for the whole process.
# Capture relies on Pillow refusing them (a cut-off photo is quarantined, not archived
# half grey), and our invoice templates hold no images that could be truncated.
ImageFile.LOAD_TRUNCATED_IMAGES = False

PDF_VARIANT = "pdf/a-3b"

# Lowest-priority (user-origin) style: the invoice template can override it, but a template
# that names no font, or an unavailable one, still gets the same metric-stable Debian font
# (fonts-dejavu-core) on every machine.
_DEFAULT_STYLE = 'html { font-family: "DejaVu Sans", sans-serif; }'


class RenderError(ValueError):
    """The HTML could not be rendered faithfully: a refused, missing or unreadable resource."""


class ResourceRefused(Exception):
    """A resource outside ``data:`` URIs and the template folder was requested."""


class ConfinedFetcher(URLFetcher):
    """WeasyPrint URL fetcher that serves ``data:`` URIs and files under ``root`` only.

    Anything else (http, https, ftp, files elsewhere, symlinks leading out of ``root``) is
    refused. With ``fail_on_errors`` every refused or missing resource stops the rendering:
    an invoice silently missing its logo or stylesheet is worse than no invoice.
    """

    def __init__(self, root: Path | None) -> None:
        super().__init__(
            timeout=5,
            allowed_protocols=("data", "file"),
            allow_redirects=False,
            fail_on_errors=True,
        )
        self._root = root.resolve() if root is not None else None

    def fetch(self, url: str, headers: Any = None) -> URLFetcherResponse:
        scheme = url.partition(":")[0].lower()
        if scheme == "data":
            return super().fetch(url, headers)
        if scheme == "file" and self._root is not None:
            return _fetch_file(url, self._root)
        raise ResourceRefused(f"resource refused (only data: URIs and template files): {url}")


def _fetch_file(url: str, root: Path) -> URLFetcherResponse:
    """Read a ``file:`` URL if it lies under ``root`` once symlinks are resolved."""
    parts = urlsplit(url)
    if parts.netloc not in ("", "localhost"):
        raise ResourceRefused(f"resource refused (remote file): {url}")
    # Resolve first, then read the resolved path: no escape through a symlink.
    path = Path(url2pathname(parts.path)).resolve()
    if not path.is_relative_to(root):
        raise ResourceRefused(f"resource refused (outside {root}): {url}")
    if not path.is_file():
        raise FileNotFoundError(f"missing resource: {path}")
    media_type = mimetypes.guess_type(path.name)[0] or "application/octet-stream"
    return URLFetcherResponse(
        path.as_uri(), body=path.read_bytes(), headers={"Content-Type": media_type}
    )


def _resource_root(base_url: str | None) -> tuple[str | None, Path | None]:
    """The base URL WeasyPrint should use and the folder resources are confined to.

    ``base_url`` is a folder, as a path or a ``file:`` URL; a file there means its folder.
    The returned URL ends with a slash so that relative references resolve inside it.
    """
    if base_url is None:
        return None, None
    if "://" in base_url or base_url.startswith("file:"):
        parts = urlsplit(base_url)
        if parts.scheme != "file" or parts.netloc not in ("", "localhost"):
            raise RenderError(f"base_url must be a local folder, not {base_url!r}")
        folder = Path(url2pathname(parts.path))
    else:
        folder = Path(base_url)
    folder = folder.resolve()
    if folder.is_file():
        folder = folder.parent
    if not folder.is_dir():
        raise RenderError(f"base_url folder does not exist: {folder}")
    return folder.as_uri() + "/", folder


class _ErrorCollector(logging.Handler):
    """Collects WeasyPrint's ERROR records from this thread only.

    WeasyPrint logs, and then skips, what it cannot use (a relative URL without a base, an
    image it cannot decode): for an invoice that is a failure, not a warning. Records are
    filtered by thread so that concurrent renderings do not see each other's errors.
    """

    def __init__(self) -> None:
        super().__init__(logging.ERROR)
        self._thread = threading.get_ident()
        self.messages: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        if record.thread == self._thread:
            self.messages.append(record.getMessage())


def render_pdf(html: str, *, base_url: str | None = None) -> bytes:
    """Render invoice HTML to PDF/A-3b bytes, ready for :func:`embed_facturx`.

    ``base_url`` is the template's folder: relative images, stylesheets and fonts are read
    from it and from nowhere else. Without it, only ``data:`` URIs are allowed. Raises
    :class:`RenderError` when the HTML asks for anything else, for a missing file, or
    when WeasyPrint reports a resource it could not use.
    """
    url, root = _resource_root(base_url)
    fetcher = ConfinedFetcher(root)
    errors = _ErrorCollector()
    logger = logging.getLogger("weasyprint")
    logger.addHandler(errors)
    try:
        document = HTML(string=html, base_url=url, url_fetcher=fetcher)
        pdf = document.write_pdf(
            pdf_variant=PDF_VARIANT,
            stylesheets=[CSS(string=_DEFAULT_STYLE, url_fetcher=fetcher)],
        )
    except FatalURLFetchingError as error:
        cause = error.__cause__ if error.__cause__ is not None else error
        raise RenderError(str(cause)) from error
    finally:
        logger.removeHandler(errors)
    if errors.messages:
        raise RenderError("; ".join(errors.messages))
    if not isinstance(pdf, bytes):  # write_pdf() without a target returns bytes
        raise TypeError(f"WeasyPrint returned {type(pdf).__name__}, expected bytes")
    return pdf
