"""Encode each freshly built ASN.1 value once, not twice per nesting level.

asn1crypto 1.5.1's ``Asn1Value.dump`` reads ``self.contents`` two or three times, and for a
value built in memory (rather than parsed) every read re-encodes the whole subtree. Each
level of nesting therefore doubles the work: a CMS signed attribute naming a certificate
(``signingCertificateV2``) costs about 7 ms to encode instead of 0.3 ms, and a time-stamp
token 25 ms instead of 2 ms. Seals, time stamps and their checks spend most of their time
there (upstream: wbond/asn1crypto#256, still open).

``install()`` replaces that one method with the same steps reading ``contents`` once; the
bytes produced are identical (``tests/test_asn1_dump.py`` compares them with the original
on seals, time stamps and BER input). It only patches the release whose code it mirrors;
another asn1crypto is left as it is.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import asn1crypto
from asn1crypto import core
from asn1crypto.parser import _dump_header

PATCHED_RELEASE = "1.5.1"
ORIGINAL_DUMP: Callable[..., bytes] = core.Asn1Value.dump


def _dump_reading_contents_once(self: Any, force: bool = False) -> bytes:
    """``Asn1Value.dump`` of asn1crypto 1.5.1, with ``self.contents`` evaluated once."""
    contents = self.contents

    # If the length is indefinite, force the re-encoding
    if self._header is not None and self._header[-1:] == b"\x80":
        force = True

    if self._header is None or force:
        if isinstance(self, core.Constructable) and self._indefinite:
            self.method = 0

        header = _dump_header(self.class_, self.method, self.tag, contents)

        if self.explicit is not None:
            for class_, tag in self.explicit:
                header = _dump_header(class_, 1, tag, header + contents) + header

        self._header = header
        self._trailer = b""

    encoded: bytes = self._header + contents + self._trailer
    return encoded


def install() -> bool:
    """Patch asn1crypto in this process (idempotent); False when its release differs."""
    if asn1crypto.__version__ != PATCHED_RELEASE:
        return False
    core.Asn1Value.dump = _dump_reading_contents_once
    return True


def installed() -> bool:
    return core.Asn1Value.dump is _dump_reading_contents_once
