"""Bank statement files to `ParsedStatement`s: OFX/QFX, CAMT.053, CFONB 120 and CSV.

Pure functions, no database: a file is parsed whole or refused with a `StatementError`
saying why (in French, for the accountant) and where.
"""

from __future__ import annotations

from coffre.tasks.statements.camt053 import parse_camt053
from coffre.tasks.statements.cfonb120 import parse_cfonb120
from coffre.tasks.statements.common import MAX_STATEMENT_BYTES, simplify_wording
from coffre.tasks.statements.csvfile import CsvMapping, parse_csv
from coffre.tasks.statements.detect import detect_format, parse_statement
from coffre.tasks.statements.ofx import parse_ofx

__all__ = [
    "MAX_STATEMENT_BYTES",
    "CsvMapping",
    "detect_format",
    "parse_camt053",
    "parse_cfonb120",
    "parse_csv",
    "parse_ofx",
    "parse_statement",
    "simplify_wording",
]
