"""The PDFs inside a message: every part whose bytes are a PDF, forwarded mail included.

Mail in the wild is often malformed (missing boundaries, bad base64, lying content
types), so nothing here trusts a header: each leaf part is decoded as best the parser
can and kept only if its bytes sniff as a PDF. Attached messages (.eml, message/rfc822)
are opened in turn, to a bounded depth.
"""

from __future__ import annotations

import email
import email.policy
from collections.abc import Iterator
from dataclasses import dataclass
from email.message import Message

from coffre.tasks.sniff import sniff

MAX_NESTING = 5
_MESSAGE_TYPES = {"message/rfc822", "message/global"}


@dataclass(frozen=True)
class FoundPdf:
    filename: str
    data: bytes


def pdfs_in_message(raw: bytes) -> list[FoundPdf]:
    """The PDF attachments of an RFC 5322 message, in order, each once."""
    message = email.message_from_bytes(raw, policy=email.policy.compat32)
    found: list[FoundPdf] = []
    seen: set[bytes] = set()
    for index, (filename, data) in enumerate(_leaves(message, depth=0), start=1):
        if not is_pdf(data) or data in seen:
            continue
        seen.add(data)
        found.append(FoundPdf(filename or f"piece-jointe-{index}.pdf", data))
    return found


def is_pdf(data: bytes) -> bool:
    return bool(data) and sniff(data[:65536]).family == "pdf"


def _leaves(message: Message, depth: int) -> Iterator[tuple[str | None, bytes]]:
    for part in message.walk():
        if part.is_multipart():
            continue
        content_type = part.get_content_type()
        data = _decoded(part)
        filename = _filename(part)
        nested = content_type in _MESSAGE_TYPES or (filename or "").lower().endswith(".eml")
        if nested and depth < MAX_NESTING:
            inner = _as_message(part, data)
            if inner is not None:
                yield from _leaves(inner, depth + 1)
                continue
        if data:
            yield filename, data


def _decoded(part: Message) -> bytes:
    try:
        payload = part.get_payload(decode=True)
    except Exception:  # noqa: BLE001 - a broken transfer encoding: take the raw text
        payload = None
    if isinstance(payload, bytes):
        return payload
    raw = part.get_payload()
    return raw.encode("latin-1", "replace") if isinstance(raw, str) else b""


def _as_message(part: Message, data: bytes) -> Message | None:
    """A forwarded message, whether the parser opened it already or left it as bytes."""
    payload = part.get_payload()
    if isinstance(payload, list) and payload and isinstance(payload[0], Message):
        return payload[0]
    return email.message_from_bytes(data, policy=email.policy.compat32) if data else None


def _filename(part: Message) -> str | None:
    try:
        name = part.get_filename()
    except Exception:  # noqa: BLE001 - undecodable RFC 2231 parameters
        return None
    return str(name) if name else None
