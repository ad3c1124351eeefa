"""Statement importers: the sample files of tests/samples/bank (written by others,
with figures checked by hand) and generated files for every variant and every way a file
can be refused."""

from __future__ import annotations

import random
import time
from datetime import date
from pathlib import Path

import pytest
from schwifty import IBAN

from coffre.tasks.bank_types import ParsedStatement, StatementError, StatementTransaction
from coffre.tasks.statements import (
    MAX_STATEMENT_BYTES,
    CsvMapping,
    detect_format,
    parse_camt053,
    parse_cfonb120,
    parse_csv,
    parse_ofx,
    parse_statement,
    simplify_wording,
)

SAMPLES = Path(__file__).with_name("samples") / "bank"


def sample(name: str) -> bytes:
    return (SAMPLES / name).read_bytes()


def mod97_valid(iban: str) -> bool:
    """The IBAN checksum computed here, independently of the code under test."""
    moved = iban[4:] + iban[:4]
    return int("".join(str(int(c, 36)) for c in moved)) % 97 == 1


def refused(data: bytes, **kwargs: object) -> StatementError:
    with pytest.raises(StatementError) as caught:
        parse_statement(data, **kwargs)  # type: ignore[arg-type]
    return caught.value


# --------------------------------------------------------------------------- CFONB 120

CFONB_AMOUNTS = [
    104017,
    132100,
    477291,
    234112,
    21880,
    51080,
    52078,
    155223,
    569076,
    -1999,
    -1999,
    -61714,
    -303755,
]


def test_cfonb_classic_figures() -> None:
    parsed = parse_statement(sample("cfonb_classic.cfo"), "releve.cfo")
    assert parsed.format == "cfonb120"
    assert len(parsed.statements) == 1
    statement = parsed.statements[0]
    account = statement.account
    assert account.currency == "EUR"
    assert (account.bank_code, account.branch_code, account.account_number) == (
        "30003",
        "01234",
        "01234567890",
    )
    # The IBAN is the RIB's: FR, check digits, bank, branch, account, RIB key.
    assert account.iban == "FR7630003012340123456789057"
    assert mod97_valid(account.iban)
    assert account.opening_balance_cents == 101_731_189
    assert account.opening_date == date(2024, 1, 12)
    assert account.closing_balance_cents == 103_158_579
    assert account.closing_date == date(2024, 1, 13)

    transactions = statement.transactions
    assert len(transactions) == 13
    assert [t.amount_cents for t in transactions] == CFONB_AMOUNTS
    assert sum(t.amount_cents for t in transactions) == 1_427_390
    assert account.opening_balance_cents + 1_427_390 == account.closing_balance_cents
    assert {t.booking_date for t in transactions} == {date(2024, 1, 13)}
    assert {t.value_date for t in transactions} == {date(2024, 1, 13)}
    assert {t.currency for t in transactions} == {"EUR"}
    assert [t.line for t in transactions] == [2, 6, 12, 18, 23, 27, 32, 37, 41, 46, 52, 59, 68]
    assert {t.bank_reference for t in transactions} == {None}  # the sample has only zeros

    first = transactions[0]
    assert first == StatementTransaction(
        booking_date=date(2024, 1, 13),
        value_date=date(2024, 1, 13),
        amount_cents=104017,
        currency="EUR",
        wording="VIR INST MA JOLIE BOUTIQUE",
        counterparty_name="MA JOLIE BOUTIQUE",  # NPY: the payer of a credit
        remittance="facture F230875",  # LIB
        line=2,
    )
    durancia = transactions[1]
    assert durancia.remittance == "F230866 F230765 F238765"  # LIB and LCC, said once
    assert durancia.end_to_end_id == "0018937"  # RCN
    ditri = transactions[2]
    assert ditri.wording == "VIR DITRI CAMPING NORD"
    assert ditri.end_to_end_id == "F230987, F231234"
    assert ditri.remittance == "ACOMPTE PROJET CIMENT LOT2"
    print_sarl = transactions[7]
    assert print_sarl.counterparty_name == "PRINT SARL"
    assert print_sarl.remittance is None
    assert print_sarl.end_to_end_id == "REGLEMENT PRINT SARL"

    free_1, free_2 = transactions[9], transactions[10]
    assert free_1.wording == free_2.wording == "PRLV SEPA FREE MOBILE"
    assert free_1.counterparty_name is None  # a debit without NBE: the NPY is the customer
    assert free_2.counterparty_name == "FREE MOBILE"  # NBE: the payee of a debit
    assert (free_1.end_to_end_id, free_2.end_to_end_id) == ("fmpmt-1168225394", "fmpmt-1290437493")
    assert free_1.counterparty_iban is None  # IBE is the creditor identifier, not an IBAN

    orange = transactions[11]
    assert orange.wording == "PRLV SEPA Orange"
    assert orange.counterparty_name == "Orange"
    # LCC (70 characters, full) continued by LC2.
    assert orange.remittance == (
        "FIBENT - FR - Facture: 76662391 - Compte Fact: 30008765 - Ident: 00003263"
    )
    assert orange.end_to_end_id == ")30008765 76662391         45 3"
    assert transactions[12].remittance.endswith("Ident: 00003074")  # type: ignore[union-attr]


def test_cfonb_without_line_breaks_gives_the_identical_statement() -> None:
    classic = parse_cfonb120(sample("cfonb_classic.cfo"))
    flat = sample("cfonb_no_line_breaks.cfo")
    assert b"\n" not in flat and len(flat) == 77 * 120
    assert parse_statement(flat) == classic
    crlf = sample("cfonb_classic.cfo").replace(b"\n", b"\r\n")
    assert parse_cfonb120(crlf) == classic


def cfonb(
    code: str,
    *,
    amount: str = "",
    day: str = "150324",
    label: str = "",
    qualifier: str = "",
    info: str = "",
    account: str = "00012345678",
    currency: str = "EUR",
    decimals: str = "2",
    value_day: str = "",
) -> str:
    """One 120-character record, fields at their CFONB positions."""
    record = code + "30004" + ("0001" if code in ("04", "05") else "    ") + "00123"
    record += currency + decimals + " " + account + ("05" if code in ("04", "05") else "  ")
    record += day
    if code == "05":
        record += "     " + qualifier + info.ljust(70)[:70] + "  "
    else:
        record += "  " + value_day.ljust(6) + label.ljust(31)[:31] + " " * 11
        record += amount.rjust(14, "0") if amount else " " * 14
        record += " " * 16
    assert len(record) == 120, (code, len(record))
    return record


def cfonb_file(*records: str, eol: str = "\n") -> bytes:
    return eol.join(records).encode("latin-1") + eol.encode()


def simple_cfonb(*middle: str) -> list[str]:
    return [cfonb("01", amount="10000{"), *middle, cfonb("07", amount="8766{")]


def test_cfonb_generated_variants() -> None:
    records = simple_cfonb(
        cfonb("04", amount="1234}", label="PRLV SEPA ÉLECTRICITÉ", value_day="160324"),
        cfonb("05", qualifier="NBE", info="EDF"),
        cfonb("05", qualifier="RCN", info="NOTPROVIDED"),
        cfonb("05", qualifier="REF", info="OP-778"),
    )
    parsed = parse_statement(cfonb_file(*records, eol="\r\n"))
    [statement] = parsed.statements
    assert statement.account.opening_balance_cents == 100000
    assert statement.account.closing_balance_cents == 87660
    assert statement.account.iban == "FR7630004001230001234567843"
    assert mod97_valid(statement.account.iban)
    [tx] = statement.transactions
    assert tx.amount_cents == -12340
    assert tx.wording == "PRLV SEPA ÉLECTRICITÉ"  # latin-1, kept as written
    assert tx.value_date == date(2024, 3, 16)
    assert tx.counterparty_name == "EDF"
    assert tx.end_to_end_id is None  # NOTPROVIDED
    assert tx.bank_reference == "OP-778"

    # A complement already contained in another is said once.
    repeated = simple_cfonb(
        cfonb("04", amount="1234}", label="PRLV"),
        cfonb("05", qualifier="LIB", info="FACTURE 12 ET 13 MARS"),
        cfonb("05", qualifier="LCC", info="FACTURE 12"),
    )
    [tx] = parse_cfonb120(cfonb_file(*repeated)).statements[0].transactions
    assert tx.remittance == "FACTURE 12 ET 13 MARS"

    # Two statements in one file; a 0-decimal and a 3-decimal currency.
    two = cfonb_file(
        *simple_cfonb(cfonb("04", amount="1234}")),
        cfonb("01", amount="50{", decimals="0", currency="JPY"),
        cfonb("04", amount="25J", decimals="0", currency="JPY"),
        cfonb("07", amount="24I", decimals="0", currency="JPY"),
        cfonb("01", amount="1000{", decimals="3", currency="TND"),
        cfonb("04", amount="50}", decimals="3", currency="TND"),
        cfonb("07", amount="950{", decimals="3", currency="TND"),
    )
    parsed = parse_cfonb120(two)
    assert [s.account.currency for s in parsed.statements] == ["EUR", "JPY", "TND"]
    assert parsed.statements[1].transactions[0].amount_cents == -25100  # 251 yen
    assert parsed.statements[1].account.closing_balance_cents == 24900
    assert parsed.statements[2].transactions[0].amount_cents == -50  # 0.500 dinar
    assert parsed.statements[2].account.opening_balance_cents == 1000


@pytest.mark.parametrize(
    ("records", "line", "reason"),
    [
        (
            simple_cfonb(cfonb("04", amount="1234}")[:-1]),
            2,
            "la ligne a 119 caractères au lieu de 120",
        ),
        (simple_cfonb(cfonb("03", amount="1234}")), 2, "code d'enregistrement inconnu « 03 »"),
        (
            simple_cfonb(cfonb("05", qualifier="LIB", info="x")),
            2,
            "complément (05) sans mouvement (04) avant lui",
        ),
        (simple_cfonb(cfonb("04", amount="1234X")), 2, "montant illisible « 0000000001234X »"),
        (
            simple_cfonb(cfonb("04", amount="1234}", day="310224")),
            2,
            "date de comptabilisation illisible « 310224 »",
        ),
        (
            simple_cfonb(cfonb("04", amount="1235}")),
            3,
            "les mouvements (-123,50) ne mènent pas de l'ancien solde (1 000,00) au "
            "nouveau (876,60)",
        ),
        (
            simple_cfonb(cfonb("04", amount="1234}", account="99999999999")),
            2,
            "mouvement du compte 99999999999 dans le relevé du compte 00012345678",
        ),
        (
            [cfonb("01", amount="10000{"), cfonb("04", amount="1234}")],
            1,
            "fichier tronqué : le relevé ouvert n'a pas de nouveau solde (07)",
        ),
        (
            [cfonb("04", amount="1234}"), cfonb("07", amount="8765{")],
            1,
            "mouvement (04) hors d'un relevé (01 manquant)",
        ),
    ],
)
def test_cfonb_refused_with_line(records: list[str], line: int, reason: str) -> None:
    with pytest.raises(StatementError) as caught:
        parse_cfonb120(cfonb_file(*records))
    assert (caught.value.line, caught.value.reason) == (line, reason)


def test_cfonb_without_line_breaks_truncated() -> None:
    flat = sample("cfonb_no_line_breaks.cfo")
    error = refused(flat[:-50])
    assert error.line == 77
    assert (
        error.reason == "fichier tronqué : le dernier enregistrement a 70 caractères au lieu de 120"
    )
    with pytest.raises(StatementError) as caught:
        parse_cfonb120(flat[: 120 * 40])  # cut between two records: no 07
    assert caught.value.line == 1


# --------------------------------------------------------------------------- CAMT.053


def test_camt053_batched_txdtls_sample() -> None:
    parsed = parse_statement(sample("camt053_batched_txdtls.xml"))
    assert parsed.format == "camt053"
    [statement] = parsed.statements
    account = statement.account
    assert account.currency == "CHF"
    # The sample's IBANs fail their checksum: kept as an account number, never as an IBAN.
    assert not mod97_valid("CH1111000000123456789")
    assert account.iban is None
    assert account.account_number == "CH1111000000123456789"
    assert account.name == "Open Net S. à r.l. Prilly"
    assert (account.opening_balance_cents, account.opening_date) == (7_596_015, date(2017, 3, 22))
    assert (account.closing_balance_cents, account.closing_date) == (7_944_315, date(2017, 3, 23))

    # One entry of 3,483.00 CHF made of two TxDtls: two transactions.
    first, second = statement.transactions
    assert (first.amount_cents, second.amount_cents) == (218_700, 129_600)
    assert first.amount_cents + second.amount_cents == 348_300
    assert 7_596_015 + first.amount_cents + second.amount_cents == 7_944_315
    wording = (
        "CRÉDIT GROUPÉ BVR TRAITEMENT DU 22.03.2017 NUMÉRO CLIENT 01-70884-3 "
        "PAQUET ID: 123456CHCAFEBABE"
    )
    assert first == StatementTransaction(
        booking_date=date(2017, 3, 22),
        value_date=date(2017, 3, 23),
        amount_cents=218_700,
        currency="CHF",
        wording=wording,
        counterparty_name="Banque Cantonale Vaudoise",  # Dbtr of a credit, not UltmtDbtr
        counterparty_iban=None,  # CH2222000000123456789: invalid checksum
        remittance="302388292000011111111111111",  # Strd/CdtrRefInf/Ref
        bank_reference="123456CHCAFEBABE",
        line=79,
    )
    assert second.remittance == "302388292000022222222222222"
    assert second.counterparty_name == "Banque Cantonale Vaudoise"
    assert second.line == 147
    assert not mod97_valid("CH3333000000123456789")


def camt(
    version: str, entries: str, *, iban: str = "FR7630006000011234567890189", ccy: str = "EUR"
) -> bytes:
    return f"""<?xml version="1.0" encoding="UTF-8"?>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.{version}">
 <BkToCstmrStmt>
  <GrpHdr><MsgId>M1</MsgId><CreDtTm>2024-03-31T20:00:00</CreDtTm></GrpHdr>
  <Stmt>
   <Id>S1</Id>
   <Acct><Id><IBAN>{iban}</IBAN></Id><Ccy>{ccy}</Ccy><Nm>Compte courant</Nm></Acct>
   <Bal><Tp><CdOrPrtry><Cd>PRCD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">50.00</Amt>
    <CdtDbtInd>DBIT</CdtDbtInd><Dt><Dt>2024-03-29</Dt></Dt></Bal>
   <Bal><Tp><CdOrPrtry><Cd>CLBD</Cd></CdOrPrtry></Tp><Amt Ccy="EUR">1000.00</Amt>
    <CdtDbtInd>CRDT</CdtDbtInd><Dt><DtTm>2024-03-31T23:59:59+01:00</DtTm></Dt></Bal>
   {entries}
  </Stmt>
 </BkToCstmrStmt>
</Document>
""".encode()


SEPA_DEBITS_V02 = """
   <Ntry>
    <Amt Ccy="EUR">150.00</Amt><CdtDbtInd>DBIT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><Dt>2024-03-30</Dt></BookgDt><ValDt><Dt>2024-03-31</Dt></ValDt>
    <AcctSvcrRef>E-1</AcctSvcrRef>
    <NtryDtls>
     <TxDtls>
      <Refs><EndToEndId>NOTPROVIDED</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="EUR">100.00</Amt></TxAmt></AmtDtls>
      <RltdPties>
       <Dbtr><Nm>Ma Societe</Nm></Dbtr>
       <Cdtr><Nm>Papeterie Dupont</Nm></Cdtr>
       <CdtrAcct><Id><IBAN>FR76 3000 6000 0112 3456 7890 189</IBAN></Id></CdtrAcct>
      </RltdPties>
      <RmtInf><Ustrd>FACTURE F-2024-001</Ustrd><Ustrd>ET AVOIR A-7</Ustrd></RmtInf>
     </TxDtls>
     <TxDtls>
      <Refs><AcctSvcrRef>T-2</AcctSvcrRef><EndToEndId>E2E-42</EndToEndId></Refs>
      <AmtDtls><TxAmt><Amt Ccy="EUR">50.00</Amt></TxAmt></AmtDtls>
      <RltdPties><Cdtr><Nm>Imprimerie Martin</Nm></Cdtr></RltdPties>
      <RmtInf><Strd><RfrdDocInf><Nb>F-88</Nb></RfrdDocInf>
       <CdtrRefInf><Ref>RF18539007547034</Ref></CdtrRefInf></Strd></RmtInf>
     </TxDtls>
    </NtryDtls>
    <AddtlNtryInf>PRLV SEPA GROUPE</AddtlNtryInf>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">1200.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>BOOK</Sts>
    <BookgDt><DtTm>2024-03-31T23:30:00-05:00</DtTm></BookgDt>
    <NtryDtls><TxDtls>
     <RltdPties><Dbtr><Nm>Client Durand</Nm></Dbtr></RltdPties>
     <RmtInf><Ustrd>Facture 2024-17</Ustrd></RmtInf>
    </TxDtls></NtryDtls>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">999.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts>PDNG</Sts>
    <BookgDt><Dt>2024-03-31</Dt></BookgDt>
   </Ntry>
"""


def test_camt053_v02_split_debits_single_details_and_pending() -> None:
    parsed = parse_camt053(camt("02", SEPA_DEBITS_V02))
    [statement] = parsed.statements
    account = statement.account
    assert account.iban == "FR7630006000011234567890189"
    assert account.account_number is None
    assert account.name == "Compte courant"
    assert (account.opening_balance_cents, account.opening_date) == (-5000, date(2024, 3, 29))
    assert (account.closing_balance_cents, account.closing_date) == (100_000, date(2024, 3, 31))
    papeterie, imprimerie, durand = statement.transactions  # the pending entry is left out
    assert sum(t.amount_cents for t in statement.transactions) == 105_000
    assert -5000 + sum(t.amount_cents for t in statement.transactions) == 100_000

    assert papeterie.amount_cents == -10_000
    assert papeterie.counterparty_name == "Papeterie Dupont"  # Cdtr of a debit
    assert papeterie.counterparty_iban == "FR7630006000011234567890189"
    assert papeterie.end_to_end_id is None  # NOTPROVIDED
    assert papeterie.remittance == "FACTURE F-2024-001 ET AVOIR A-7"
    assert papeterie.bank_reference == "E-1"  # the entry's, having none of its own
    assert papeterie.wording == "PRLV SEPA GROUPE"
    assert (papeterie.booking_date, papeterie.value_date) == (date(2024, 3, 30), date(2024, 3, 31))

    assert imprimerie.amount_cents == -5_000
    assert imprimerie.end_to_end_id == "E2E-42"
    assert imprimerie.bank_reference == "T-2"
    assert imprimerie.remittance == "F-88 / RF18539007547034"
    assert imprimerie.counterparty_iban is None

    # A single TxDtls without an amount of its own takes the entry's.
    assert durand.amount_cents == 120_000
    assert durand.booking_date == date(2024, 3, 31)  # as written, not moved to UTC
    assert durand.value_date is None
    assert durand.counterparty_name == "Client Durand"
    assert durand.wording == "Facture 2024-17"  # no AddtlNtryInf: the remittance


def test_camt053_v08_party_and_status_codes() -> None:
    entry = """
   <Ntry>
    <Amt Ccy="EUR">1050.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>BOOK</Cd></Sts>
    <BookgDt><Dt>2024-03-30</Dt></BookgDt><AcctSvcrRef>A-9</AcctSvcrRef>
    <NtryDtls><TxDtls>
     <Amt Ccy="EUR">1050.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
     <RltdPties><Dbtr><Pty><Nm>SARL Les Tilleuls</Nm></Pty></Dbtr>
      <DbtrAcct><Id><IBAN>DE89370400440532013000</IBAN></Id></DbtrAcct></RltdPties>
    </TxDtls></NtryDtls>
    <AddtlNtryInf>VIR SEPA RECU</AddtlNtryInf>
   </Ntry>
   <Ntry>
    <Amt Ccy="EUR">5.00</Amt><CdtDbtInd>CRDT</CdtDbtInd><Sts><Cd>INFO</Cd></Sts>
    <BookgDt><Dt>2024-03-30</Dt></BookgDt>
   </Ntry>"""
    [statement] = parse_statement(camt("08", entry)).statements
    [tx] = statement.transactions
    assert tx.amount_cents == 105_000
    assert tx.counterparty_name == "SARL Les Tilleuls"
    assert tx.counterparty_iban == "DE89370400440532013000"
    assert tx.bank_reference == "A-9"
    assert tx.wording == "VIR SEPA RECU"


def test_camt053_details_not_adding_up_give_the_entry() -> None:
    entry = """
   <Ntry>
    <Amt Ccy="EUR">995.00</Amt><CdtDbtInd>CRDT</CdtDbtInd>
    <BookgDt><Dt>2024-03-30</Dt></BookgDt><AcctSvcrRef>B-1</AcctSvcrRef>
    <NtryDtls>
     <TxDtls><Amt Ccy="EUR">600.00</Amt><RmtInf><Ustrd>F-1</Ustrd></RmtInf></TxDtls>
     <TxDtls><Amt Ccy="EUR">400.00</Amt><RmtInf><Ustrd>F-2</Ustrd></RmtInf></TxDtls>
    </NtryDtls>
   </Ntry>"""
    [tx] = parse_camt053(camt("04", entry)).statements[0].transactions
    assert tx.amount_cents == 99_500  # charges kept by the bank: the balance moved by this
    assert tx.remittance == "F-1 / F-2"
    assert tx.bank_reference == "B-1"


BILLION_LAUGHS = b"""<?xml version="1.0"?>
<!DOCTYPE lolz [
 <!ENTITY lol "lol">
 <!ENTITY lol1 "&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;&lol;">
 <!ENTITY lol2 "&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;&lol1;">
 <!ENTITY lol3 "&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;&lol2;">
 <!ENTITY lol4 "&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;&lol3;">
 <!ENTITY lol5 "&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;&lol4;">
 <!ENTITY lol6 "&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;&lol5;">
 <!ENTITY lol7 "&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;&lol6;">
 <!ENTITY lol8 "&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;&lol7;">
 <!ENTITY lol9 "&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;&lol8;">
]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt><Stmt><Id>&lol9;</Id></Stmt></BkToCstmrStmt>
</Document>
"""

XXE = b"""<?xml version="1.0"?>
<!DOCTYPE d [<!ENTITY xxe SYSTEM "file:///etc/passwd">]>
<Document xmlns="urn:iso:std:iso:20022:tech:xsd:camt.053.001.02">
 <BkToCstmrStmt><Stmt><Id>&xxe;</Id></Stmt></BkToCstmrStmt>
</Document>
"""


@pytest.mark.parametrize("bomb", [BILLION_LAUGHS, XXE], ids=["billion-laughs", "xxe"])
def test_camt053_hostile_xml_refused(bomb: bytes) -> None:
    started = time.perf_counter()
    error = refused(bomb)
    assert time.perf_counter() - started < 1
    assert error.reason.startswith("fichier XML refusé : il déclare une DTD ou des entités")


def test_camt053_refusals() -> None:
    good = sample("camt053_batched_txdtls.xml")
    truncated = refused(good[:3000])
    assert (
        truncated.reason == "fichier XML illisible : fin de fichier prématurée (fichier tronqué ?)"
    )
    assert truncated.line == 107

    other = refused(good.replace(b"camt.053.001.04", b"camt.054.001.04"))
    assert other.reason == "ce fichier est un message camt.054, pas un relevé camt.053"

    bad_amount = refused(good.replace(b">1296.00<", b">12g6.00<"))
    assert (bad_amount.line, bad_amount.reason) == (155, "montant illisible « 12g6.00 »")

    three_decimals = refused(good.replace(b">2187.00<", b">2187.005<"))
    assert three_decimals.reason == "montant « 2187.005 » : plus de deux décimales"

    no_sign = refused(good.replace(b"<CdtDbtInd>CRDT</CdtDbtInd>\n        <RvslInd>", b"<RvslInd>"))
    assert no_sign.reason == "sens crédit/débit (CdtDbtInd) absent"
    assert no_sign.line == 55  # the entry amount without its sense

    bad_date = refused(camt("02", SEPA_DEBITS_V02.replace("2024-03-30", "2024-02-30")))
    assert bad_date.reason == "date de comptabilisation illisible « 2024-02-30 »"

    with pytest.raises(StatementError) as caught:
        parse_camt053(b"<?xml version='1.0'?><Document><Other/></Document>")
    assert caught.value.reason == "ce fichier XML n'est pas un relevé CAMT.053 (BkToCstmrStmt)"


# --------------------------------------------------------------------------- OFX


def test_ofx_sgml_cp1252_sample() -> None:
    parsed = parse_statement(sample("ofx_sgml_cp1252.ofx"))
    assert parsed.format == "ofx"
    [statement] = parsed.statements
    account = statement.account
    assert (account.currency, account.account_number, account.bank_code) == (
        "EUR",
        "123456",
        "0341",
    )
    assert account.iban is None and account.branch_code is None
    assert (account.closing_balance_cents, account.closing_date) == (100_000, date(2026, 6, 18))
    assert account.opening_balance_cents is None  # OFX gives none
    [tx] = statement.transactions
    assert tx == StatementTransaction(
        booking_date=date(2026, 6, 17),
        amount_cents=85_000,
        currency="EUR",
        wording="Loyer 850€ café Müller",  # cp1252: € is byte 0x80
        remittance="Loyer 850€ café Müller",
        bank_reference="20260617001",
        line=39,
    )


def test_ofx_v2_samples() -> None:
    parsed = parse_ofx(sample("ofx_v2.ofx"))
    bank, card = parsed.statements
    # Four BANKTRANLIST in one STMTRS (out of the OFX spec): all read.
    assert [t.amount_cents for t in bank.transactions] == [-8000, -9000, -10000, -9000]
    assert sum(t.amount_cents for t in bank.transactions) == -36_000
    assert [t.bank_reference for t in bank.transactions] == ["219378", "219379", "219380", "219381"]
    assert [t.wording for t in bank.transactions] == [
        "Agrolait",
        "China Export",
        "Axelor Scuba",
        "China Scuba",
    ]
    assert [t.counterparty_name for t in bank.transactions] == [
        "Agrolait",
        "China Export",
        "Axelor Scuba",
        "China Scuba",
    ]
    assert {t.booking_date for t in bank.transactions} == {date(2013, 8, 24)}
    assert {t.currency for t in bank.transactions} == {"USD"}
    assert [t.line for t in bank.transactions] == [31, 42, 53, 64]
    assert (bank.account.account_number, bank.account.bank_code) == ("123456", "000000123")
    assert bank.account.iban is None
    assert (bank.account.closing_balance_cents, bank.account.closing_date) == (
        215_656,
        date(2013, 8, 31),
    )
    assert card.transactions == []
    assert card.account.account_number == "123412341234"
    assert card.account.closing_balance_cents == -56_200

    iban_file = parse_statement(sample("ofx_v2_iban.ofx"))
    account = iban_file.statements[0].account
    # BANKID/BRANCHID/ACCTID form a French RIB: its IBAN.
    assert account.iban == "FR7630001007941234567890185"
    assert mod97_valid(account.iban)
    assert (account.bank_code, account.branch_code, account.account_number) == (
        "30001",
        "00794",
        "12345678901",
    )
    assert len(iban_file.statements[0].transactions) == 4


OFX_V1 = """OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:{charset}
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX>
<SIGNONMSGSRSV1><SONRS><STATUS><CODE>0<SEVERITY>INFO</STATUS>
<DTSERVER>20240402<LANGUAGE>FRA</SONRS></SIGNONMSGSRSV1>
<BANKMSGSRSV1><STMTTRNRS><TRNUID>1<STATUS><CODE>0<SEVERITY>INFO</STATUS>
<STMTRS><CURDEF>EUR
<BANKACCTFROM><BANKID>30006<BRANCHID>00001<ACCTID>{acctid}<ACCTTYPE>CHECKING</BANKACCTFROM>
<BANKTRANLIST><DTSTART>20240301<DTEND>20240331
<STMTTRN>
<TRNTYPE>DEBIT
<DTPOSTED>20240331230000[-3:BRT]
<DTUSER>20240401
<TRNAMT>{amount}
<FITID>F1
<NAME>PRLV SEPA Électricité
<MEMO>
</STMTTRN>
<STMTTRN>
<TRNTYPE>CREDIT
<DTPOSTED>20240315
<TRNAMT>+1 200.00
<FITID>F2
<PAYEE><NAME>Client Dupont &amp; Fils<ADDR1>1 rue<CITY>Paris<STATE>75<POSTALCODE>75001</PAYEE>
<NAME>VIR SEPA DUPONT
<MEMO>Facture 2024-17 – 1 200 €
</STMTTRN>
</BANKTRANLIST>
<LEDGERBAL><BALAMT>-12,50<DTASOF>20240331</LEDGERBAL>
</STMTRS></STMTTRNRS></BANKMSGSRSV1>
</OFX>
"""


def ofx_v1(
    charset: str = "1252",
    encoding: str = "cp1252",
    acctid: str = "12345678901",
    amount: str = "-12,50",
) -> bytes:
    return OFX_V1.format(charset=charset, acctid=acctid, amount=amount).encode(encoding)


def test_ofx_v1_generated_variants() -> None:
    parsed = parse_statement(ofx_v1())
    [statement] = parsed.statements
    account = statement.account
    assert account.iban == "FR7630006000011234567890189"
    assert mod97_valid(account.iban)
    assert account.closing_balance_cents == -1250  # decimal comma, allowed by OFX
    debit, credit = statement.transactions
    # 23:00 in Brazil is the next day in UTC: the date stays the one the bank wrote.
    assert debit.booking_date == date(2024, 3, 31)
    assert debit.value_date == date(2024, 4, 1)  # DTUSER
    assert debit.amount_cents == -1250
    assert debit.wording == "PRLV SEPA Électricité"
    assert debit.remittance is None  # an empty <MEMO>, closed by </STMTTRN>
    assert debit.line == 18
    assert credit.amount_cents == 120_000
    assert credit.counterparty_name == "Client Dupont & Fils"  # PAYEE/NAME first
    assert credit.wording == "VIR SEPA DUPONT"
    assert credit.remittance == "Facture 2024-17 – 1 200 €"
    assert credit.line == 27

    # Banks declaring no charset, or ISO-8859-1, and sending Windows-1252: € and – survive.
    for charset in ("NONE", "ISO-8859-1"):
        again = parse_ofx(ofx_v1(charset=charset))
        assert again == parsed
    # UTF-8 declared and sent.
    assert parse_ofx(ofx_v1(charset="NONE", encoding="utf-8")) == parsed

    # ACCTID already an IBAN (with spaces).
    with_iban = parse_ofx(ofx_v1(acctid="FR76 3000 6000 0112 3456 7890 189"))
    assert with_iban.statements[0].account.iban == "FR7630006000011234567890189"
    assert with_iban.statements[0].account.account_number is None


def test_ofx_refusals() -> None:
    good = ofx_v1()
    cut = good.index(b"<TRNAMT>+1") + 5
    truncated = refused(good[:cut])
    assert truncated.reason == "fichier OFX illisible : fichier tronqué au milieu d'une balise"
    assert truncated.line == 30
    unclosed = refused(good.replace(b"</OFX>", b""))
    assert unclosed.reason == "fichier OFX illisible : fichier tronqué : <OFX> n'est pas refermée"

    bad = refused(ofx_v1(amount="-12,5x"))
    assert (bad.line, bad.reason) == (18, "montant illisible « -12,5x »")
    assert (
        refused(ofx_v1(amount="-12.505")).reason == "montant « -12.505 » : plus de deux décimales"
    )

    junk = refused(good.replace(b"<TRNUID>1", b"<TRNUID>1\n@@ <> @@"))
    assert junk.reason == "fichier OFX illisible : texte hors de toute balise"
    assert junk.line == 15

    no_date = refused(good.replace(b"<DTPOSTED>20240315\n", b""))
    assert no_date.reason == "date de l'opération (DTPOSTED) absente"
    assert no_date.line == 27
    bad_date = refused(good.replace(b"<DTPOSTED>20240315", b"<DTPOSTED>20240230"))
    assert bad_date.reason == "date de l'opération (DTPOSTED) illisible « 20240230 »"

    header = refused(b"OFXHEADER:100\nDATA:OFXSGML\nVERSION:1\x85\n<OFX></OFX>")
    assert (header.line, header.reason) == (1, "en-tête OFX illisible")

    error_response = b"""OFXHEADER:100
DATA:OFXSGML
VERSION:102
SECURITY:NONE
ENCODING:USASCII
CHARSET:1252
COMPRESSION:NONE
OLDFILEUID:NONE
NEWFILEUID:NONE

<OFX><SIGNONMSGSRSV1><SONRS><STATUS><CODE>15500<SEVERITY>ERROR
<MESSAGE>Identifiants refuses</STATUS><DTSERVER>20240402<LANGUAGE>FRA</SONRS></SIGNONMSGSRSV1>
</OFX>
"""
    assert refused(error_response).reason == (
        "aucun relevé de compte dans ce fichier OFX (réponse de la banque : Identifiants refuses)"
    )


# --------------------------------------------------------------------------- CSV

CSV_EXPORT = (
    "Compte courant n° 12345678901;;;;\r\n"
    "Solde au 31/03/2024;1 234,56 €;;;\r\n"
    "\r\n"
    "Date;Date de valeur;Libellé;Montant;Référence\r\n"
    "01/03/2024;02/03/2024;PRLV SEPA Électricité;-12,30;R1\r\n"
    '05/03/2024;;"VIR DUPONT; facture 17";1 234,56;R2\r\n'
    "06/03/2024;06/03/2024;CB BOULANGERIE;12,30-;R3\r\n"
    "\r\n"
    "07/03/2024;07/03/2024;REMISE CHEQUES;+1.000,00;R4\r\n"
    "Total;;;2 444,26;\r\n"
)

CSV_MAPPING = CsvMapping(
    booking_date="date",
    value_date="Date de valeur",
    wording="LIBELLE",
    amount="Montant",
    reference="Référence",
    skip_rows=3,
    skip_footer_rows=1,
    account_iban="FR76 3000 6000 0112 3456 7890 189",
)


def test_csv_french_export() -> None:
    parsed = parse_statement(CSV_EXPORT.encode("cp1252"), csv_mapping=CSV_MAPPING)
    assert parsed.format == "csv"
    [statement] = parsed.statements
    assert statement.account.iban == "FR7630006000011234567890189"
    assert statement.account.currency == "EUR"
    assert [t.amount_cents for t in statement.transactions] == [-1230, 123_456, -1230, 100_000]
    assert [t.line for t in statement.transactions] == [5, 6, 7, 9]
    first, second, _, _ = statement.transactions
    assert first == StatementTransaction(
        booking_date=date(2024, 3, 1),
        value_date=date(2024, 3, 2),
        amount_cents=-1230,
        currency="EUR",
        wording="PRLV SEPA Électricité",
        bank_reference="R1",
        line=5,
    )
    assert second.wording == "VIR DUPONT; facture 17"
    assert second.value_date is None

    # The same export in UTF-8 with a byte-order mark reads the same.
    with_bom = b"\xef\xbb\xbf" + CSV_EXPORT.encode("utf-8")
    assert parse_csv(with_bom, CSV_MAPPING) == parsed


def test_csv_debit_credit_columns_without_header() -> None:
    rows = (
        "2024-03-01,Card payment,12.30,,Shop\n"
        '2024-03-02,Transfer in,,"1,234.56",ACME\n'
        "2024-03-03,Fee,-4.00,,\n"
    )
    mapping = CsvMapping(
        booking_date=0,
        wording=1,
        debit=2,
        credit=3,
        counterparty=4,
        has_header=False,
        date_format="%Y-%m-%d",
        delimiter=",",
        decimal_comma=False,
        encoding="utf-8",
        account_number="12345678901",
    )
    [statement] = parse_csv(rows.encode(), mapping).statements
    assert [t.amount_cents for t in statement.transactions] == [-1230, 123_456, -400]
    assert [t.counterparty_name for t in statement.transactions] == ["Shop", "ACME", None]
    assert statement.account.account_number == "12345678901"
    assert statement.account.iban is None


@pytest.mark.parametrize(
    ("row", "reason"),
    [
        ("08/03/2024;;X;12,3x;", "montant illisible « 12,3x »"),
        ("08/03/2024;;X;12.30;", "montant illisible « 12.30 »"),
        ("08/03/2024;;X;12,305;", "montant « 12,305 » : plus de deux décimales"),
        ("08/03/2024;;X;;", "montant absent"),
        ("2024-03-08;;X;1,00;", "date illisible « 2024-03-08 » (format attendu : %d/%m/%Y)"),
        ("08/03/2024;;X", "la ligne n'a que 3 colonnes (colonne 4 attendue)"),
    ],
)
def test_csv_bad_row_refused_with_its_line(row: str, reason: str) -> None:
    data = CSV_EXPORT.replace("Total;", row + "\r\nTotal;").encode("cp1252")
    error = refused(data, csv_mapping=CSV_MAPPING)
    assert (error.line, error.reason) == (10, reason)


def test_csv_refusals() -> None:
    split = CsvMapping(booking_date=0, wording=1, debit=2, credit=3, has_header=False)
    both = parse_csv_error(b"01/03/2024;X;1,00;2,00\n", split)
    assert (both.line, both.reason) == (1, "débit « 1,00 » et crédit « 2,00 » à la fois")
    neither = parse_csv_error(b"01/03/2024;X;;\n01/03/2024;Y;;\n", split)
    assert (neither.line, neither.reason) == (1, "ni débit ni crédit")

    missing = parse_csv_error(b"Date;Libelle;Debit\n", CsvMapping("Date", "Libelle", "Montant"))
    assert (missing.line, missing.reason) == (1, "colonne « Montant » absente de l'en-tête")
    empty = parse_csv_error(b"Date;Libelle;Montant\n", CsvMapping("Date", "Libelle", "Montant"))
    assert empty.reason == "aucune opération dans le fichier CSV"

    not_cp1252 = parse_csv_error(b"Date;Libelle;Montant\n01/03/2024;X\x81;1,00\n", CSV_MAPPING)
    assert (not_cp1252.line, not_cp1252.reason) == (2, "le fichier n'est pas encodé en cp1252")

    with pytest.raises(ValueError):
        CsvMapping(booking_date=0, wording=1)  # no amount column
    with pytest.raises(ValueError):
        CsvMapping(booking_date=0, wording=1, amount=2, account_iban="FR7630006000011234567890180")


def parse_csv_error(data: bytes, mapping: CsvMapping) -> StatementError:
    with pytest.raises(StatementError) as caught:
        parse_csv(data, mapping)
    return caught.value


# --------------------------------------------------------------------------- any file


def test_detection_is_by_content() -> None:
    assert detect_format(sample("cfonb_classic.cfo")) == "cfonb120"
    assert detect_format(sample("cfonb_no_line_breaks.cfo")) == "cfonb120"
    assert detect_format(sample("camt053_batched_txdtls.xml")) == "camt053"
    assert detect_format(sample("ofx_sgml_cp1252.ofx")) == "ofx"
    assert detect_format(sample("ofx_v2.ofx")) == "ofx"
    assert detect_format(CSV_EXPORT.encode("cp1252")) is None
    # The bytes decide, even with a mapping given or a misleading name.
    parsed = parse_statement(sample("ofx_v2.ofx"), "export.csv", csv_mapping=CSV_MAPPING)
    assert parsed.format == "ofx"


def test_files_that_are_not_statements() -> None:
    assert refused(b"").reason == "le fichier est vide"
    assert refused(b" \r\n\t").reason == "le fichier est vide"
    junk = random.Random(120).randbytes(200_000)
    assert refused(junk, filename="x.bin").reason == (
        "« x.bin » : format non reconnu : ni OFX, ni CAMT.053, ni CFONB 120 "
        "(pour un CSV, il faut d'abord indiquer ses colonnes)"
    )
    assert refused(b"%PDF-1.7\n...").reason.startswith("c'est un PDF")
    assert refused(b"<html><body>Relev\xe9</body></html>").reason == (
        "fichier XML qui n'est pas un relevé CAMT.053 ni OFX"
    )
    assert refused(CSV_EXPORT.encode("cp1252")).reason.endswith(
        "(pour un CSV, il faut d'abord indiquer ses colonnes)"
    )


def test_big_garbage_fails_fast() -> None:
    started = time.perf_counter()
    too_big = b"\x00" * (MAX_STATEMENT_BYTES + 1)
    assert (
        refused(too_big).reason == "fichier trop volumineux pour un relevé (64 Mo ; 64 Mo au plus)"
    )
    del too_big
    noise = random.Random(7).randbytes(8 * 1024 * 1024)
    # Garbage that starts like each format is refused at its first record or tag.
    assert refused(b"0130003    01234EUR2 01234567890  120124" + noise).line == 1
    assert refused(b"OFXHEADER:100\n" + noise).reason == "en-tête OFX illisible"
    assert refused(b"<?xml version='1.0'?><Document>camt.053" + noise).reason.startswith(
        "fichier XML illisible"
    )
    csv_noise = parse_csv_error(noise, CsvMapping(booking_date=0, wording=1, amount=2))
    assert csv_noise.line is not None
    assert time.perf_counter() - started < 3


def test_errors_keep_nothing() -> None:
    """A file with a bad record at its end gives no statement at all, not the first part."""
    lines = sample("cfonb_classic.cfo").decode("latin-1").splitlines()
    assert lines[67].startswith("04")  # the last movement
    lines[67] = lines[67][:90] + "0000000000000X" + lines[67][104:]
    result: ParsedStatement | None = None
    with pytest.raises(StatementError) as caught:
        result = parse_statement("\n".join(lines).encode("latin-1"))
    assert result is None
    assert caught.value.line == 68
    assert str(caught.value) == "line 68: montant illisible « 0000000000000X »"


def test_damaged_files_give_a_statement_error_or_a_statement() -> None:
    """Bytes changed, cut, inserted or repeated anywhere: never another exception."""
    rng = random.Random(2024)
    seeds = [
        *(p.read_bytes() for p in sorted(SAMPLES.iterdir()) if p.suffix != ".md"),
        ofx_v1(),
        camt("02", SEPA_DEBITS_V02),
        CSV_EXPORT.encode("cp1252"),
    ]
    for _ in range(40):
        for seed in seeds:
            data = bytearray(seed)
            for _ in range(rng.randint(1, 4)):
                at = rng.randrange(len(data) + 1)
                kind = rng.randrange(4)
                if kind == 0 and at < len(data):
                    data[at] = rng.randrange(256)
                elif kind == 1:
                    del data[at : at + rng.randint(1, 40)]
                elif kind == 2:
                    data[at:at] = rng.randbytes(rng.randint(1, 12))
                else:
                    data[at:at] = data[rng.randrange(len(data) + 1) :][:120]
            try:
                parsed = parse_statement(bytes(data), csv_mapping=CSV_MAPPING)
            except StatementError as error:
                assert error.reason
            else:
                assert parsed.statements


def test_simplify_wording() -> None:
    assert simplify_wording("  Prlv  SEPA\u00a0Électricité  de\tFrance ") == (
        "PRLV SEPA ELECTRICITE DE FRANCE"
    )
    assert simplify_wording("Cœur de Bœuf – Müller") == "COEUR DE BOEUF – MULLER"
    assert simplify_wording("") == ""


def test_iban_helper_matches_schwifty() -> None:
    """The figures above were checked with the mod-97 rule; schwifty agrees."""
    for iban in ("FR7630003012340123456789057", "FR7630001007941234567890185"):
        assert IBAN(iban).compact == iban
