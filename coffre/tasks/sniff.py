"""What a file really is, from its bytes (never from its name)."""

from __future__ import annotations

from dataclasses import dataclass

import magic

ACCEPTED_MEDIA_TYPES = {
    "application/pdf": "pdf",
    "image/jpeg": "image",
    "image/png": "image",
    "image/tiff": "image",
    "image/webp": "image",
    "image/heic": "image",
    "image/heif": "image",
    "image/avif": "unsupported",
}

_DESCRIPTIONS = {
    "application/zip": "a ZIP archive",
    "text/html": "a web page (HTML)",
    "application/x-executable": "a program",
    "application/x-dosexec": "a Windows program",
    "application/x-sharedlib": "a program library",
    "application/x-pie-executable": "a program",
    "text/plain": "plain text",
    "application/octet-stream": "unrecognised binary data",
}


# What libmagic says when it recognises nothing in particular.
_UNRECOGNISED = {"application/octet-stream", "text/plain", "application/x-empty"}


@dataclass(frozen=True)
class Sniffed:
    media_type: str
    family: str  # "pdf", "image" or "other"

    @property
    def description(self) -> str:
        return _DESCRIPTIONS.get(self.media_type, self.media_type)


def sniff(head: bytes) -> Sniffed:
    """Detect the media type from the first bytes with libmagic.

    A PDF may carry up to 1 KiB of junk before its header (readers accept it), so the
    header is looked for there too when libmagic does not recognise it.
    """
    media_type = magic.from_buffer(head[:65536], mime=True) if head else "application/x-empty"
    if media_type in _UNRECOGNISED and b"%PDF-" in head[:1024]:
        media_type = "application/pdf"
    family = ACCEPTED_MEDIA_TYPES.get(media_type, "other")
    return Sniffed(media_type, family if family != "unsupported" else "other")
