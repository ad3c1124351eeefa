"""Which importer reads a statement file, decided from its bytes (never from its name)."""

from __future__ import annotations

import re

from coffre.tasks.bank_types import ParsedStatement, StatementError
from coffre.tasks.statements.camt053 import parse_camt053
from coffre.tasks.statements.cfonb120 import parse_cfonb120
from coffre.tasks.statements.common import check_size
from coffre.tasks.statements.csvfile import CsvMapping, parse_csv
from coffre.tasks.statements.ofx import parse_ofx

_SNIFF_BYTES = 65536
_CFONB_HEADER = re.compile(r"01\d{5}.{9}[A-Z]{3}\d")  # a 01 record: bank, …, currency, decimals

# Files customers send instead of a statement export, and what to tell them.
_NOT_STATEMENTS = {
    b"%PDF": "c'est un PDF ; il faut l'export du relevé (OFX, CAMT.053, CFONB ou CSV)",
    b"PK\x03\x04": "c'est une archive ZIP ou un classeur Excel ; exportez le relevé en CSV",
    b"\xd0\xcf\x11\xe0": "c'est un ancien classeur Excel ; exportez le relevé en CSV",
}


def detect_format(data: bytes) -> str | None:
    """ "ofx", "camt053", "cfonb120", or None when the bytes say nothing of these."""
    head = data[:_SNIFF_BYTES].removeprefix(b"\xef\xbb\xbf").decode("latin-1").lstrip()
    if "OFXHEADER" in head[:1024] or head[:5].upper() == "<OFX>":
        return "ofx"
    if head.startswith("<") and ("BkToCstmrStmt" in head or re.search(r"camt\.\d{3}", head)):
        return "camt053"  # other camt messages are refused by name there
    if _CFONB_HEADER.match(head):
        return "cfonb120"
    return None


def parse_statement(
    data: bytes, filename: str | None = None, *, csv_mapping: CsvMapping | None = None
) -> ParsedStatement:
    """Parse a statement in whichever format it is; CSV only with a column mapping.

    `filename` only names the file in the reason of an error.
    """
    check_size(data)
    found = detect_format(data)
    if found == "ofx":
        return parse_ofx(data)
    if found == "camt053":
        return parse_camt053(data)
    if found == "cfonb120":
        return parse_cfonb120(data)
    named = f"« {filename} » : " if filename else ""
    for magic, reason in _NOT_STATEMENTS.items():
        if data.startswith(magic):
            raise StatementError(named + reason)
    if csv_mapping is not None:
        return parse_csv(data, csv_mapping)
    if data.lstrip().startswith(b"<"):
        raise StatementError(named + "fichier XML qui n'est pas un relevé CAMT.053 ni OFX")
    raise StatementError(
        named + "format non reconnu : ni OFX, ni CAMT.053, ni CFONB 120 "
        "(pour un CSV, il faut d'abord indiquer ses colonnes)"
    )
