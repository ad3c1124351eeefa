"""Filenames from outside are data, not paths."""

from __future__ import annotations

import re
import unicodedata

_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")
_SEPARATORS = re.compile(r"[/\\]")
MAX_BYTES = 200


def safe_filename(name: str | None, fallback: str = "document") -> str:
    """Keep the last path component, drop control characters, bound the length.

    The result is only ever displayed and used as a download name; it never names a
    file on disk.
    """
    text = unicodedata.normalize("NFC", name or "")
    text = _SEPARATORS.split(text)[-1]
    text = _CONTROL.sub("", text).strip().lstrip(".")
    if not text:
        return fallback
    encoded = text.encode()
    if len(encoded) > MAX_BYTES:
        _stem, dot, ext = text.rpartition(".")
        ext = ext if dot and len(ext) <= 10 else ""
        room = MAX_BYTES - len(ext.encode()) - 1
        text = encoded[:room].decode(errors="ignore") + (f".{ext}" if ext else "")
    return text
