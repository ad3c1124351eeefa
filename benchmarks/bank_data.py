"""Realistic French bank data with ground truth, for the reconciliation benchmark and tests.

One business's current accounts over a period that grows with the volume asked for
(about 100 movements a day at 100,000 transactions): customer transfers and cheques
paying issued invoices, direct debits of utilities, telecoms, URSSAF, insurers and
leasers, transfers to suppliers, card payments with their receipts, and everything a
statement holds that no document explains (salaries, taxes, bank fees, loans, cash,
internal transfers, payment-provider payouts).

The difficulties of real data are drawn in, at rates of the same order as seen in
practice: invoice numbers in varied formats, cited exactly, reformatted, shortened,
with transposed digits or not at all; payer names with typos or paid by another entity;
grouped payments (one transfer for 2–4 invoices); partial payments and instalments;
foreign bank fees deducted; documents never captured; open documents never paid;
recurring identical amounts; round amounts shared by unrelated parties; a few foreign
currency invoices. Transactions and documents are shuffled so that input order says
nothing about the truth.

    transactions, documents, truth = generate(2_000, seed=1)

`truth` maps every transaction id to the set of document ids it pays (empty: it pays no
open document and should not be matched).
"""

from __future__ import annotations

import random
import string
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from datetime import date, timedelta

from coffre.tasks.bank_types import DocumentView, TransactionView

START = date(2024, 1, 1)


def _words(text: str) -> list[str]:
    return text.split()


SURNAMES = _words(
    """
MARTIN BERNARD THOMAS PETIT ROBERT RICHARD DURAND DUBOIS MOREAU LAURENT SIMON
MICHEL LEFEBVRE LEROY ROUX DAVID BERTRAND MOREL FOURNIER GIRARD BONNET DUPONT LAMBERT FONTAINE
ROUSSEAU VINCENT MULLER LEFEVRE FAURE ANDRE MERCIER BLANC GUERIN BOYER GARNIER CHEVALIER
FRANCOIS LEGRAND GAUTHIER GARCIA PERRIN ROBIN CLEMENT MORIN NICOLAS HENRY ROUSSEL MATHIEU
GAUTIER MASSON MARCHAND DUVAL DENIS DUMONT MARIE LEMAIRE NOEL MEYER DUFOUR MEUNIER BRUN
BLANCHARD GIRAUD JOLY RIVIERE LUCAS BRUNET GAILLARD BARBIER ARNAUD MARTINEZ GERARD ROCHE
RENARD SCHMITT ROY LEROUX COLIN VIDAL CARON PICARD ROGER FABRE AUBERT LEMOINE RENAUD DUMAS
LACROIX OLIVIER PHILIPPE BOURGEOIS PIERRE BENOIT REY LECLERC PAYET ROLLAND LECLERCQ GUILLAUME
LECOMTE LOPEZ JEAN DUPUY GUILLOT HUBERT BERGER CARPENTIER SANCHEZ DUPUIS MOULIN LOUIS DESCHAMPS
HUET VASSEUR PEREZ BOUCHER FLEURY ROYER KLEIN JACQUET ADAM PARIS POIRIER MARTY AUBRY GUYOT
CARRE CHARLES RENAULT CHARPENTIER MENARD MAILLARD BARON BERTIN BAILLY HERVE SCHNEIDER
FERNANDEZ LEGALL COLLET LEGER BOUVIER JULIEN PREVOST MILLET PERROT DANIEL COUSIN
GERMAIN BRETON BESSON LANGLOIS REMY LEGOFF PELLETIER LEVEQUE PERRIER LEBLANC BARRE LEBRUN
MARCHAL WEBER MALLET HAMON BOULANGER JACOB MONNIER MICHAUD RODRIGUEZ GUICHARD GILLET ETIENNE
GRONDIN POULAIN TESSIER CHEVALLIER COLLIN CHAUVIN SILVA BOUCHET GAY LEMAITRE BENARD
MARECHAL HUMBERT REYNAUD ANTOINE HOARAU PERRET BARTHELEMY CORDIER PICHON LEJEUNE GILBERT
LAMY DELAUNAY PASQUIER CARLIER LAPORTE
"""
)
FIRST_NAMES = _words(
    """
JEAN PIERRE MARIE NATHALIE ISABELLE SYLVIE PHILIPPE MICHEL ALAIN PATRICK NICOLAS
CHRISTOPHE CATHERINE FREDERIC LAURENT STEPHANE SANDRINE VALERIE JULIEN CELINE SEBASTIEN AURELIE
THOMAS CAMILLE LEA MANON HUGO LUCAS EMMA CHLOE ANTOINE SOPHIE
"""
)
TRADES = _words(
    """
PLOMBERIE ELECTRICITE MENUISERIE CHARPENTE MACONNERIE PEINTURE COUVERTURE TRANSPORTS
BOULANGERIE PATISSERIE BOUCHERIE RESTAURANT TRAITEUR GARAGE CARROSSERIE CONSEIL INFORMATIQUE
ARCHITECTURE IMMOBILIER PAYSAGES NETTOYAGE SECURITE FORMATION COMMUNICATION IMPRIMERIE
PHARMACIE OPTIQUE COIFFURE FLEURS CAVE EPICERIE HOTEL CAMPING AMBULANCES TAXI
DIAGNOSTICS EXPERTISE
"""
)
FORMS = ["SARL", "SAS", "SASU", "EURL", "SCI", "SA", "SELARL", "SNC"]
CITIES = _words(
    """
PARIS LYON MARSEILLE TOULOUSE NICE NANTES STRASBOURG MONTPELLIER BORDEAUX LILLE RENNES
REIMS TOURS ANGERS DIJON GRENOBLE NIMES ANNECY ORLEANS ROUEN CAEN NANCY METZ PAU LIMOGES
"""
)


@dataclass
class Party:
    """A counterparty: how documents print it, how the bank shows it, its accounts."""

    doc_name: str
    bank_name: str
    ibans: list[str]
    weight: float = 1.0
    number: Callable[[random.Random, date, int], str] | None = None
    seq: int = 0
    median_cents: int = 50_000
    sigma: float = 0.8
    recurring_cents: int | None = None  # a retainer billed monthly at the same amount


@dataclass
class Stream:
    """A direct-debit contract: one supplier invoice a period, debited on its due date."""

    supplier: Party
    ics: str
    mandate: str
    contract: str
    day_of_month: int
    period_months: int
    base_cents: int
    fixed: bool


@dataclass
class Merchant:
    receipt_name: str  # as printed on the receipt
    labels: list[str]  # as the card network shows it
    median_cents: int
    kind: str = "receipt"  # online services send an invoice instead


@dataclass
class Dataset:
    transactions: list[TransactionView] = field(default_factory=list)
    documents: list[DocumentView] = field(default_factory=list)
    truth: dict[str, set[str]] = field(default_factory=dict)


def iban_fr(rng: random.Random) -> str:
    """A French IBAN with valid check digits."""
    bban = "".join(rng.choice(string.digits) for _ in range(23))
    rearranged = bban + "152700"  # "FR00": F=15, R=27
    check = 98 - int(rearranged) % 97
    return f"FR{check:02d}{bban}"


def _typo(rng: random.Random, text: str) -> str:
    """One keyboard slip: a swapped, dropped, doubled or replaced letter."""
    letters = [i for i, c in enumerate(text) if c.isalpha()]
    if len(letters) < 4:
        return text
    i = rng.choice(letters[1:-1])
    kind = rng.randrange(4)
    if kind == 0 and i + 1 < len(text) and text[i + 1].isalpha():
        return text[:i] + text[i + 1] + text[i] + text[i + 2 :]
    if kind == 1:
        return text[:i] + text[i + 1 :]
    if kind == 2:
        return text[:i] + text[i] + text[i:]
    return text[:i] + rng.choice(string.ascii_uppercase) + text[i + 1 :]


def _ddmm(day: date) -> str:
    return day.strftime("%d/%m")


def _price(rng: random.Random, median_cents: int) -> int:
    """A subscription price near the median, as plans are priced: 39,99 €, 65,00 €…"""
    euros = max(1, int(median_cents * rng.uniform(0.5, 2.0)) // 100)
    return euros * 100 + rng.choice([0, 0, 50, 90, 99])


def _money(rng: random.Random, median_cents: int, sigma: float, low: int = 100) -> int:
    return max(low, int(rng.lognormvariate(0, sigma) * median_cents))


# Invoice number formats seen on supplier invoices.
def _fmt_dash(rng: random.Random, day: date, seq: int) -> str:
    return f"F-{day.year}-{seq:04d}"


def _fmt_fa(rng: random.Random, day: date, seq: int) -> str:
    return f"FA{day.year}{seq:04d}"


def _fmt_slash(rng: random.Random, day: date, seq: int) -> str:
    return f"{day.year}/{seq:03d}"


def _fmt_fac(rng: random.Random, day: date, seq: int) -> str:
    return f"FAC-{seq:06d}"


def _fmt_month(rng: random.Random, day: date, seq: int) -> str:
    return f"F{day.year % 100:02d}{day.month:02d}-{seq:05d}"


def _fmt_inv(rng: random.Random, day: date, seq: int) -> str:
    return f"INV-{seq}"


def _fmt_long(rng: random.Random, day: date, seq: int) -> str:
    return f"{10_000_000_000 + seq * 7919 % 9_000_000_000}"


def _fmt_ymd(rng: random.Random, day: date, seq: int) -> str:
    return f"{day.year}-{day.month:02d}-{seq:04d}"


def _fmt_prefixed(prefix: str, width: int) -> Callable[[random.Random, date, int], str]:
    def fmt(rng: random.Random, day: date, seq: int) -> str:
        return f"{prefix}{seq:0{width}d}"

    return fmt


SUPPLIER_FORMATS = [
    _fmt_dash,
    _fmt_fa,
    _fmt_slash,
    _fmt_fac,
    _fmt_month,
    _fmt_inv,
    _fmt_ymd,
    _fmt_prefixed("FC", 7),
]

# Direct-debit suppliers: printed name, bank names, median monthly amount (cents), fixed,
# period (months), number format.
DEBITORS: list[tuple[str, list[str], int, bool, int, Callable[..., str]]] = [
    ("EDF", ["EDF SA", "EDF CLIENTS PROFESSIONNELS"], 21_000, False, 1, _fmt_long),
    ("ENGIE", ["ENGIE", "ENGIE ENTREPRISES ET COLLECTIVITES"], 16_000, False, 1, _fmt_long),
    ("Orange Business", ["ORANGE SA", "ORANGE"], 6_500, True, 1, _fmt_prefixed("FO", 9)),
    (
        "SFR Business",
        ["SOCIETE FRANCAISE DU RADIOTELEPHONE", "SFR"],
        4_999,
        True,
        1,
        _fmt_prefixed("SFR", 10),
    ),
    ("Free Pro", ["FREE PRO", "FREE TELECOM"], 3_999, True, 1, _fmt_prefixed("FP", 8)),
    ("Bouygues Telecom", ["BOUYGUES TELECOM"], 3_600, True, 1, _fmt_prefixed("BT", 9)),
    ("OVH SAS", ["OVH SAS", "OVHCLOUD"], 2_399, False, 1, _fmt_prefixed("FR", 8)),
    ("URSSAF Île-de-France", ["URSSAF ILE DE FRANCE", "URSSAF IDF"], 180_000, False, 1, _fmt_ymd),
    ("AXA France IARD", ["AXA FRANCE IARD"], 12_000, True, 1, _fmt_prefixed("AX-", 8)),
    ("MMA IARD", ["MMA IARD ASSURANCES MUTUELLES"], 31_000, True, 3, _fmt_prefixed("MMA", 9)),
    ("DIAC", ["DIAC SA", "DIAC LOCATION"], 45_000, True, 1, _fmt_prefixed("L", 9)),
    (
        "TotalEnergies Marketing France",
        ["TOTALENERGIES MARKETING FRANCE", "TOTAL MARKETING FRANCE"],
        60_000,
        False,
        1,
        _fmt_prefixed("TE", 9),
    ),
    ("Veolia Eau", ["VEOLIA EAU COMPAGNIE GENERALE DES EAUX"], 9_000, False, 3, _fmt_long),
    ("Fiducial Expertise", ["FIDUCIAL EXPERTISE"], 24_000, True, 1, _fmt_prefixed("FID", 6)),
    ("Malakoff Humanis", ["MALAKOFF HUMANIS PREVOYANCE"], 38_000, False, 3, _fmt_ymd),
    ("Grenke Location", ["GRENKE LOCATION SAS"], 8_900, True, 1, _fmt_prefixed("GR", 8)),
    ("Google Cloud France", ["GOOGLE CLOUD FRANCE SARL"], 1_380, True, 1, _fmt_prefixed("GC", 10)),
]

# Suppliers paid by transfer: printed name, bank name, median amount.
TRANSFER_SUPPLIERS: list[tuple[str, str, int]] = [
    ("METRO France", "METRO FRANCE", 35_000),
    ("Leroy Merlin", "LEROY MERLIN FRANCE", 25_000),
    ("Würth France", "WURTH FRANCE SA", 30_000),
    ("Rexel France", "REXEL FRANCE", 60_000),
    ("Point.P", "POINT P SAS", 80_000),
    ("Kiloutou", "KILOUTOU", 45_000),
    ("Manutan", "MANUTAN SA", 20_000),
    ("Bureau Vallée", "BUREAU VALLEE", 9_000),
    ("Cedeo", "CEDEO", 40_000),
    ("Loxam", "LOXAM", 50_000),
    ("Chronopost", "CHRONOPOST SAS", 7_000),
    ("La Poste Colissimo", "LA POSTE", 6_000),
]

MERCHANTS: list[Merchant] = [
    Merchant("Carrefour Market", ["CARREFOUR MARKET", "CARREFOUR MKT", "CARREFOUR"], 4_500),
    Merchant("Carrefour City", ["CARREFOUR CITY", "CARREFOUR"], 1_800),
    Merchant("E.Leclerc", ["E.LECLERC", "LECLERC", "SAS LECLERC DIS"], 6_000),
    Merchant("Auchan Supermarché", ["AUCHAN SUPERMARCHE", "AUCHAN"], 5_000),
    Merchant("Intermarché", ["INTERMARCHE", "ITM ALIMENTAIRE"], 4_000),
    Merchant("Monoprix", ["MONOPRIX"], 2_500),
    Merchant("Picard Surgelés", ["PICARD"], 3_000),
    Merchant("Lidl", ["LIDL"], 3_500),
    Merchant("TotalEnergies Station", ["TOTAL STATION", "TOTALENERGIES", "RELAIS TOTAL"], 7_500),
    Merchant("Shell", ["SHELL", "STATION SHELL"], 7_000),
    Merchant("Esso Express", ["ESSO EXPRESS", "ESSO"], 7_000),
    Merchant("Leroy Merlin", ["LEROY MERLIN", "LEROY MERLIN MAG"], 9_000),
    Merchant("Castorama", ["CASTORAMA"], 8_000),
    Merchant("Brico Dépôt", ["BRICO DEPOT"], 9_000),
    Merchant("Fnac", ["FNAC", "FNAC DARTY"], 12_000),
    Merchant("Darty", ["DARTY"], 15_000),
    Merchant("Boulanger", ["BOULANGER"], 14_000),
    Merchant("Decathlon", ["DECATHLON"], 6_000),
    Merchant("IKEA", ["IKEA"], 16_000),
    Merchant("Action", ["ACTION"], 2_500),
    Merchant("SNCF Voyageurs", ["SNCF", "SNCF INTERNET", "OUI SNCF"], 9_500),
    Merchant("Air France", ["AIR FRANCE"], 32_000),
    Merchant("Ibis", ["IBIS", "HOTEL IBIS"], 9_000),
    Merchant("Novotel", ["NOVOTEL"], 14_000),
    Merchant("McDonald's", ["MCDONALDS", "MC DONALD S"], 1_500),
    Merchant("Paul", ["PAUL", "BOULANGERIE PAUL"], 1_200),
    Merchant("La Poste", ["LA POSTE", "LA POSTE BUREAU"], 1_800),
    Merchant("Sanef", ["SANEF", "SANEF PEAGE"], 1_600),
    Merchant("APRR", ["APRR", "APRR AUTOROUTE"], 2_000),
    Merchant("Vinci Autoroutes", ["VINCI AUTOROUTES", "ASF"], 1_900),
    Merchant("Indigo Parking", ["INDIGO", "INDIGO PARK"], 1_400),
    Merchant("Uber", ["UBER", "UBER TRIP"], 2_200),
    Merchant("G7 Taxi", ["G7", "TAXI G7"], 3_000),
    Merchant("Norauto", ["NORAUTO"], 11_000),
    Merchant(
        "Amazon EU", ["AMAZON PAYMENTS", "AMAZON MKTPLACE", "AMZN MKTP FR"], 4_000, "invoice_in"
    ),
    Merchant("Adobe Systems", ["ADOBE", "ADOBE SYSTEMS"], 7_199, "invoice_in"),
    Merchant("OVH SAS", ["OVH SAS", "OVH"], 1_199, "invoice_in"),
    Merchant("Microsoft Ireland", ["MICROSOFT", "MSFT"], 1_260, "invoice_in"),
]


class _Builder:
    """Draws one business's year(s) of bank data. Not thread-safe; use once."""

    def __init__(self, n_transactions: int, seed: int) -> None:
        self.rng = random.Random(seed)
        self.n = n_transactions
        self.span = max(120, n_transactions // 100)
        self.end = START + timedelta(days=self.span)
        self.data = Dataset()
        self.tx_count = 0
        self.doc_count = 0
        self.own_seq: dict[int, int] = {}
        self.forgotten: set[str] = set()
        self.customers = self._customers(max(40, n_transactions // 25))
        self.suppliers = self._suppliers(max(15, n_transactions // 250))
        self.employees = [
            f"{self.rng.choice(['M.', 'MME'])} {self.rng.choice(FIRST_NAMES)} "
            f"{self.rng.choice(SURNAMES)}"
            for _ in range(max(3, n_transactions // 2500))
        ]
        self.own_name = f"SAS {self.rng.choice(SURNAMES)} {self.rng.choice(TRADES)}"

    # -- parties -----------------------------------------------------------------------

    def _company(self) -> tuple[str, str]:
        """(printed name, name at the bank) of a small company or a private customer."""
        rng = self.rng
        surname = rng.choice(SURNAMES)
        roll = rng.random()
        if roll < 0.25:
            first = rng.choice(FIRST_NAMES)
            printed = f"{first.title()} {surname.title()}"
            bank = f"{rng.choice(['M', 'MME', 'M OU MME'])} {first} {surname}"
            return printed, bank
        form = rng.choice(FORMS)
        trade = rng.choice(TRADES)
        core = (
            f"{trade} {surname}"
            if roll < 0.55
            else f"{surname} {trade}"
            if roll < 0.8
            else f"{surname} ET FILS"
            if roll < 0.9
            else f"{surname} {rng.choice(SURNAMES)} ASSOCIES"
        )
        printed = f"{form} {core.title()}"
        bank = f"{form} {core}" if rng.random() < 0.7 else core
        return printed, bank

    def _customers(self, count: int) -> list[Party]:
        parties = []
        for rank in range(count):
            printed, bank = self._company()
            ibans = [iban_fr(self.rng)]
            if self.rng.random() < 0.15:
                ibans.append(iban_fr(self.rng))
            party = Party(
                printed,
                bank,
                ibans,
                weight=1.0 / (rank + 5) ** 0.9,  # a few large customers, many small ones
                median_cents=self.rng.choice([30_000, 60_000, 120_000, 250_000]),
            )
            if self.rng.random() < 0.12:
                party.recurring_cents = self.rng.choice([30_000, 45_000, 60_000, 90_000, 120_000])
            parties.append(party)
        return parties

    def _suppliers(self, count: int) -> list[Party]:
        parties = [
            Party(printed, bank, [iban_fr(self.rng)], weight=3.0, median_cents=median)
            for printed, bank, median in TRANSFER_SUPPLIERS
        ]
        for _ in range(count):
            printed, bank = self._company()
            parties.append(
                Party(
                    printed,
                    bank,
                    [iban_fr(self.rng)],
                    weight=self.rng.random() + 0.2,
                    median_cents=self.rng.choice([15_000, 40_000, 90_000, 200_000]),
                )
            )
        for party in parties:
            party.number = self.rng.choice(SUPPLIER_FORMATS)
            party.seq = self.rng.randrange(1, 5000)
        return parties

    # -- records -----------------------------------------------------------------------

    def _doc(
        self,
        kind: str,
        total: int,
        issue: date,
        due: date | None,
        number: str | None,
        name: str | None,
        iban: str | None,
        currency: str = "EUR",
        open_cents: int | None = None,
    ) -> str:
        self.doc_count += 1
        doc_id = f"D{self.doc_count:07d}"
        rng = self.rng
        if name is not None and rng.random() < 0.03:
            name = None  # the extraction missed the name
        elif name is not None and rng.random() < 0.03:
            name = _typo(rng, name)  # OCR slip
        self.data.documents.append(
            DocumentView(
                id=doc_id,
                kind=kind,
                currency=currency,
                total_cents=total,
                open_cents=total if open_cents is None else open_cents,
                issue_date=issue,
                due_date=due,
                number=number,
                counterparty_name=name,
                counterparty_iban=iban,
            )
        )
        return doc_id

    def _tx(
        self,
        booked: date,
        amount: int,
        wording: str,
        pays: set[str],
        remittance: str = "",
        name: str | None = None,
        iban: str | None = None,
        card: bool = False,
        currency: str = "EUR",
    ) -> bool:
        if booked >= self.end or amount == 0:
            return False  # after the statement: the documents stay open
        self.tx_count += 1
        tx_id = f"T{self.tx_count:07d}"
        self.data.transactions.append(
            TransactionView(
                id=tx_id,
                booking_date=booked,
                amount_cents=amount,
                currency=currency,
                wording=" ".join(wording.upper().split()),
                remittance=remittance,
                counterparty_name=name,
                counterparty_iban=iban,
                is_card=card,
            )
        )
        self.data.truth[tx_id] = set(pays)
        return True

    def _day(self, low: int = -45, high: int | None = None) -> date:
        high = self.span - 5 if high is None else high
        return START + timedelta(days=self.rng.randrange(low, high))

    def _e2e(self) -> str:
        rng = self.rng
        if rng.random() < 0.4:
            return "NOTPROVIDED"
        return "".join(rng.choice(string.ascii_uppercase + string.digits) for _ in range(16))

    # -- customers ---------------------------------------------------------------------

    def _own_number(self, issue: date) -> str:
        seq = self.own_seq[issue.year] = self.own_seq.get(issue.year, 0) + 1
        return f"F-{issue.year}-{seq:04d}"

    def _cite(self, number: str) -> str:
        """How a customer quotes an invoice number in a transfer's motif."""
        rng = self.rng
        roll = rng.random()
        year, seq = number[2:6], number[7:]
        if roll < 0.45:
            return rng.choice(["FACTURE {}", "{}", "REGLEMENT FACTURE {}", "FACT {}"]).format(
                number
            )
        if roll < 0.62:
            return rng.choice(
                [
                    f"F{year}{seq}",
                    f"F {year} {seq}",
                    f"FACTURE {year}-{seq}",
                    f"FACT N F{year}/{int(seq)}",
                    f"F-{year}-{int(seq)}",
                ]
            )
        if roll < 0.69:
            return rng.choice([f"FACTURE {int(seq)}", f"FACT N {seq}", f"FACTURE N{int(seq)}"])
        if roll < 0.73 and len(seq) >= 2:
            i = rng.randrange(len(seq) - 1)
            swapped = seq[:i] + seq[i + 1] + seq[i] + seq[i + 2 :]
            return f"FACTURE F-{year}-{swapped}"
        return rng.choice(
            [
                "REGLEMENT",
                "VIREMENT",
                "PAIEMENT FACTURE",
                f"CDE {rng.randrange(10_000, 99_999)}",
                f"REF CLIENT {rng.randrange(100, 9_999)}",
                "HONORAIRES",
            ]
        )

    def _payer(self, customer: Party) -> tuple[str | None, str | None, str]:
        """(counterparty name, IBAN, name shown in the wording) of a customer's transfer."""
        rng = self.rng
        shown = customer.bank_name
        roll = rng.random()
        if roll < 0.08:
            shown = _typo(rng, shown)
        elif roll < 0.11:
            shown = f"{rng.choice(FORMS)} {rng.choice(SURNAMES)} HOLDING"  # paid by a parent
        name = shown if rng.random() < 0.9 else None
        iban = rng.choice(customer.ibans) if rng.random() < 0.85 else None
        return name, iban, shown

    def _customer_invoice(self, customer: Party, issue: date, total: int | None = None) -> str:
        rng = self.rng
        if total is None:
            if customer.recurring_cents and rng.random() < 0.7:
                total = customer.recurring_cents
            elif rng.random() < 0.35:  # round services: 1 000,00 € HT → 1 200,00 € TTC
                total = round(_money(rng, customer.median_cents, 0.9) * 1.2, -3)
            else:
                total = _money(rng, customer.median_cents, 0.9)
        due = issue + timedelta(days=rng.choice([0, 15, 30, 30, 30, 45, 60]))
        iban = rng.choice(customer.ibans) if rng.random() < 0.2 else None
        number = self._own_number(issue)
        return self._doc("invoice_out", int(total), issue, due, number, customer.doc_name, iban)

    def customer_payments(self, count: int) -> None:
        rng = self.rng
        weights = [c.weight for c in self.customers]
        first = self.tx_count
        while self.tx_count - first < count:
            customer = rng.choices(self.customers, weights)[0]
            issue = self._day()
            roll = rng.random()
            if roll < 0.06:  # grouped: 2–4 invoices paid by one transfer
                self._grouped_customer(customer, issue)
                continue
            doc_id = self._customer_invoice(customer, issue)
            doc = self.data.documents[-1]
            number = doc.number or ""
            delay = rng.choices(
                [
                    rng.randrange(-10, 6),
                    rng.randrange(5, 31),
                    rng.randrange(30, 76),
                    -rng.randrange(0, 30),
                ],
                [40, 35, 15, 10],
            )[0]
            assert doc.due_date is not None
            booked = max(doc.due_date + timedelta(days=delay), issue)
            name, iban, shown = self._payer(customer)
            if rng.random() < 0.01:  # foreign customer invoiced and paying in dollars
                self.data.documents[-1] = replace(doc, currency="USD", counterparty_iban=None)
                wording = f"VIR SEPA RECU /DE {shown} /MOTIF {self._cite(number)}"
                self._tx(booked, doc.open_cents, wording, {doc_id}, "", name, None, currency="USD")
                continue
            if roll < 0.12:  # cheque: no name, no reference
                wording = f"REMISE CHEQUE N {rng.randrange(1_000_000, 9_999_999)}"
                self._tx(
                    booked + timedelta(days=rng.randrange(2, 10)), doc.open_cents, wording, {doc_id}
                )
                continue
            amount = doc.open_cents
            motif = self._cite(number)
            if roll < 0.17:  # partial payment, sometimes followed by the balance
                share = rng.choice([0.3, 0.4, 0.5, 0.5])
                part = int(amount * share)
                motif = f"{rng.choice(['ACOMPTE', 'PAIEMENT PARTIEL', 'ACPT'])} {motif}"
                self._transfer_in(booked, part, motif, name, iban, shown, {doc_id})
                if rng.random() < 0.5:
                    later = booked + timedelta(days=rng.randrange(15, 60))
                    self._transfer_in(
                        later, amount - part, self._cite(number), name, iban, shown, {doc_id}
                    )
                continue
            if roll < 0.21:  # foreign or intermediary bank fees deducted
                fee = min(rng.randrange(50, 501), max(1, amount // 100))
                amount -= fee
            elif roll < 0.22:  # fees beyond any tolerance
                amount -= rng.randrange(1_500, 3_000)
            if roll > 0.97:  # already partly paid (and reconciled) before this statement
                paid_before = int(doc.total_cents * rng.choice([0.3, 0.5]))
                self.data.documents[-1] = replace(doc, open_cents=doc.total_cents - paid_before)
                amount = doc.total_cents - paid_before
            self._transfer_in(booked, amount, motif, name, iban, shown, {doc_id})

    def _transfer_in(
        self,
        booked: date,
        amount: int,
        motif: str,
        name: str | None,
        iban: str | None,
        shown: str,
        pays: set[str],
    ) -> None:
        rng = self.rng
        kind = "VIR INST RE" if rng.random() < 0.08 else "VIR SEPA RECU"
        wording = f"{kind} /DE {shown} /MOTIF {motif} /REF {self._e2e()[:12]}"
        remittance = f"{motif} {self._e2e()}"
        self._tx(booked, amount, wording, pays, remittance, name, iban)

    def _grouped_customer(self, customer: Party, issue: date) -> int:
        rng = self.rng
        ids, numbers, total = [], [], 0
        for i in range(rng.randrange(2, 5)):
            ids.append(self._customer_invoice(customer, issue + timedelta(days=7 * i)))
            numbers.append(self.data.documents[-1].number or "")
            total += self.data.documents[-1].open_cents
        booked = issue + timedelta(days=rng.randrange(25, 70))
        roll = rng.random()
        if roll < 0.5:
            motif = "FACTURES " + " ".join(numbers)
        elif roll < 0.7:
            motif = "FACTURES " + " ".join(numbers[: len(numbers) - 1])
        else:
            motif = rng.choice(["REGLEMENT FACTURES", "RELEVE", "PAIEMENT"])
        if rng.random() < 0.1:
            total -= min(rng.randrange(50, 400), total // 100)
        name, iban, shown = self._payer(customer)
        self._transfer_in(booked, total, motif, name, iban, shown, set(ids))
        return 1

    # -- suppliers ---------------------------------------------------------------------

    def _supplier_invoice(self, supplier: Party, issue: date) -> str:
        rng = self.rng
        supplier.seq += rng.randrange(1, 40)  # the supplier invoices others in between
        assert supplier.number is not None
        number = supplier.number(rng, issue, supplier.seq)
        total = _money(rng, supplier.median_cents, supplier.sigma)
        due = issue + timedelta(days=rng.choice([0, 30, 30, 45, 60]))
        iban = supplier.ibans[0] if rng.random() < 0.75 else None
        return self._doc("invoice_in", total, issue, due, number, supplier.doc_name, iban)

    def supplier_transfers(self, count: int) -> None:
        rng = self.rng
        weights = [s.weight for s in self.suppliers]
        first = self.tx_count
        while self.tx_count - first < count:
            supplier = rng.choices(self.suppliers, weights)[0]
            issue = self._day()
            grouped = rng.random() < 0.08
            ids, numbers, total = [], [], 0
            for i in range(rng.randrange(2, 5) if grouped else 1):
                ids.append(self._supplier_invoice(supplier, issue + timedelta(days=5 * i)))
                doc = self.data.documents[-1]
                numbers.append(doc.number or "")
                total += doc.open_cents
            due = self.data.documents[-1].due_date or issue
            booked = due + timedelta(days=rng.randrange(-15, 11))
            booked = max(booked, self.data.documents[-1].issue_date or issue) + timedelta(days=1)
            roll = rng.random()
            if grouped:
                motif = (
                    "FACTURES " + " ".join(numbers)
                    if roll < 0.6
                    else f"RELEVE {issue.strftime('%m/%Y')}"
                )
            elif roll < 0.7:
                motif = f"FACTURE {numbers[0]}"
            elif roll < 0.8:
                motif = numbers[0].replace("-", "").replace("/", "")
            else:
                motif = f"REGLEMENT {issue.strftime('%m %Y')}"
            shown = supplier.bank_name if rng.random() < 0.95 else _typo(rng, supplier.bank_name)
            if rng.random() < 0.1:  # a document never captured: the transfer stays unexplained
                for doc_id in ids:
                    self._forget(doc_id)
                ids = []
            wording = f"VIR SEPA EMIS /A {shown} /MOTIF {motif} /REF {self._e2e()[:10]}"
            self._tx(
                booked,
                -total,
                wording,
                set(ids),
                motif,
                shown if rng.random() < 0.95 else None,
                supplier.ibans[0] if rng.random() < 0.95 else None,
            )

    def _forget(self, doc_id: str) -> None:
        self.forgotten.add(doc_id)

    def direct_debits(self, count: int) -> None:
        rng = self.rng
        months = max(1, self.span // 30)
        streams: list[Stream] = []
        planned = 0
        while planned < count:
            printed, banks, median, fixed, period, fmt = rng.choice(DEBITORS)
            supplier = Party(
                printed, rng.choice(banks), [], number=fmt, seq=rng.randrange(1, 900_000)
            )
            stream = Stream(
                supplier,
                ics=f"FR{rng.randrange(10, 99)}ZZZ{rng.randrange(100_000, 999_999)}",
                mandate="".join(
                    rng.choice(string.ascii_uppercase + string.digits)
                    for _ in range(rng.randrange(10, 24))
                ),
                contract=str(rng.randrange(10**9, 10**10)),
                day_of_month=rng.choice([1, 5, 5, 10, 15, 15, 20, 25, 28]),
                period_months=period,
                base_cents=_price(rng, median) if fixed else int(median * rng.uniform(0.6, 1.6)),
                fixed=fixed,
            )
            streams.append(stream)
            planned += months // period
        first = self.tx_count
        for stream in streams:
            month_start = START - timedelta(days=rng.randrange(0, 30))
            step = 30 * stream.period_months
            current = month_start
            while current < self.end and self.tx_count - first < count:
                due = current.replace(day=min(stream.day_of_month, 28))
                issue = due - timedelta(days=rng.randrange(8, 16))
                amount = (
                    stream.base_cents
                    if stream.fixed
                    else int(stream.base_cents * rng.uniform(0.5, 1.6))
                )
                stream.supplier.seq += rng.randrange(1000, 90_000)
                assert stream.supplier.number is not None
                number = stream.supplier.number(rng, issue, stream.supplier.seq)
                doc_id = self._doc(
                    "invoice_in", amount, issue, due, number, stream.supplier.doc_name, None
                )
                booked = due + timedelta(days=rng.choice([0, 0, 0, 1, 2, 3]))
                ref = number if rng.random() < 0.55 else f"CLIENT {stream.contract}"
                wording = (
                    f"PRLV SEPA {stream.supplier.bank_name} ECH/{due.strftime('%d%m%y')} "
                    f"ID EMETTEUR/{stream.ics} MDT/{stream.mandate} REF/{ref}"
                )
                roll = rng.random()
                remittance = (
                    f"FACTURE {number} DU {issue.strftime('%d/%m/%Y')}"
                    if roll < 0.4
                    else f"CONTRAT {stream.contract} ECHEANCE {due.strftime('%m/%Y')}"
                    if roll < 0.8
                    else ""
                )
                pays = {doc_id}
                if rng.random() < 0.08:  # the invoice was never captured
                    self._forget(doc_id)
                    pays = set()
                name = stream.supplier.bank_name if rng.random() < 0.9 else None
                self._tx(booked, -amount, wording, pays, remittance, name)
                current += timedelta(days=step)

    # -- cards -------------------------------------------------------------------------

    def card_payments(self, count: int) -> None:
        rng = self.rng
        weights = [3.0 if m.kind == "receipt" else 1.0 for m in MERCHANTS]
        for _ in range(count):
            merchant = rng.choices(MERCHANTS, weights)[0]
            bought = self._day(0)
            booked = bought + timedelta(days=rng.choice([0, 1, 1, 2, 2, 3, 4]))
            amount = _money(rng, merchant.median_cents, 0.7, low=150)
            label = rng.choice(merchant.labels)
            city = rng.choice(CITIES)
            roll = rng.random()
            if roll < 0.6:
                wording = f"CB {label} {_ddmm(bought)}"
            elif roll < 0.85:
                wording = f"PAIEMENT CB {bought.strftime('%d%m')} {city} {label}"
            else:
                wording = f"CARTE X{rng.randrange(1000, 9999)} {_ddmm(bought)} {label}"
            pays: set[str] = set()
            if rng.random() < 0.78:
                number = (
                    f"{rng.randrange(1, 9999):04d} {rng.randrange(1, 999):03d}"
                    if merchant.kind == "receipt"
                    else f"{merchant.receipt_name[:3].upper()}{rng.randrange(10**7, 10**8)}"
                )
                total = amount if rng.random() < 0.99 else amount + rng.choice([-100, 10, 900])
                pays = {
                    self._doc(
                        merchant.kind, total, bought, None, number, merchant.receipt_name, None
                    )
                }
            self._tx(booked, -amount, wording, pays, card=True)

    # -- what no document explains --------------------------------------------------------

    def noise(self, count: int) -> None:
        rng = self.rng
        for _ in range(count):
            booked = self._day(0)
            roll = rng.random()
            if roll < 0.25:
                who = rng.choice(self.employees)
                amount = -rng.randrange(160_000, 380_000)
                motif = f"SALAIRE {booked.strftime('%m/%Y')}"
                self._tx(
                    booked,
                    amount,
                    f"VIR SEPA EMIS /A {who} /MOTIF {motif}",
                    set(),
                    motif,
                    who,
                    iban_fr(rng),
                )
            elif roll < 0.4:
                label, amount = rng.choice(
                    [
                        (
                            f"PRLV SEPA DGFIP TVA {booked.strftime('%m %Y')}",
                            -rng.randrange(50_000, 900_000),
                        ),
                        (
                            f"PRLV SEPA DIRECTION GENERALE FINANCES PUBLIQUES CFE {booked.year}",
                            -rng.randrange(30_000, 300_000),
                        ),
                        (
                            f"PRLV SEPA DGFIP IMPOT SOCIETES ACOMPTE {booked.year}",
                            -rng.randrange(100_000, 2_000_000),
                        ),
                    ]
                )
                self._tx(booked, amount, label, set(), "", "DGFIP")
            elif roll < 0.62:
                label, amount = rng.choice(
                    [
                        ("FRAIS TENUE DE COMPTE", -rng.choice([1_500, 2_200, 2_900])),
                        ("COMMISSION INTERVENTION", -800),
                        ("COTISATION CARTE BUSINESS", -rng.choice([4_500, 13_500])),
                        ("FRAIS VIR SEPA", -rng.choice([50, 80])),
                        ("FRAIS SUR VIREMENT INTERNATIONAL", -rng.randrange(1_500, 3_500)),
                        ("INTERETS DEBITEURS", -rng.randrange(100, 5_000)),
                    ]
                )
                self._tx(booked, amount, label, set())
            elif roll < 0.72:
                self._tx(
                    booked,
                    -rng.choice([85_000, 120_000, 231_045]),
                    f"ECHEANCE PRET N {rng.randrange(10**10, 10**11)}",
                    set(),
                )
            elif roll < 0.8:
                self._tx(
                    booked,
                    -rng.choice([2_000, 5_000, 10_000, 20_000]),
                    f"RETRAIT DAB {_ddmm(booked)} {rng.choice(CITIES)}",
                    set(),
                    card=True,
                )
            elif roll < 0.88:
                amount = rng.choice([100_000, 120_000, 500_000, 1_000_000, 600_000])
                if rng.random() < 0.5:
                    self._tx(
                        booked,
                        -amount,
                        "VIR SEPA EMIS /A COMPTE EPARGNE ENTREPRISE",
                        set(),
                        "",
                        self.own_name,
                    )
                else:
                    self._tx(
                        booked,
                        amount,
                        f"VIR SEPA RECU /DE {self.own_name} /MOTIF APPORT COMPTE COURANT",
                        set(),
                        "",
                        self.own_name,
                    )
            elif roll < 0.95:
                amount = _money(rng, 80_000, 0.8)
                self._tx(
                    booked,
                    amount,
                    f"VIR SEPA RECU /DE STRIPE /MOTIF STRIPE PAYOUT {rng.randrange(10**6, 10**7)}",
                    set(),
                    "",
                    "STRIPE PAYMENTS EUROPE",
                )
            else:
                merchant = rng.choice(MERCHANTS)
                self._tx(
                    booked,
                    _money(rng, merchant.median_cents, 0.7),
                    f"AVOIR CB {merchant.labels[0]} {_ddmm(booked)}",
                    set(),
                    card=True,
                )

    def unpaid(self, count: int) -> None:
        """Open documents no transaction of the period pays."""
        rng = self.rng
        weights = [c.weight for c in self.customers]
        for _ in range(count):
            roll = rng.random()
            if roll < 0.5:
                self._customer_invoice(rng.choices(self.customers, weights)[0], self._day())
            elif roll < 0.8:
                self._supplier_invoice(rng.choice(self.suppliers), self._day())
            else:
                merchant = rng.choice(MERCHANTS)  # paid in cash
                self._doc(
                    "receipt",
                    _money(rng, merchant.median_cents, 0.7),
                    self._day(0),
                    None,
                    None,
                    merchant.receipt_name,
                    None,
                )


def generate(
    n_transactions: int, seed: int = 1
) -> tuple[list[TransactionView], list[DocumentView], dict[str, set[str]]]:
    """About `n_transactions` transactions and as many open documents, with the truth."""
    builder = _Builder(n_transactions, seed)
    n = n_transactions
    builder.customer_payments(int(n * 0.30))
    builder.supplier_transfers(int(n * 0.12))
    builder.direct_debits(int(n * 0.13))
    builder.card_payments(int(n * 0.25))
    builder.noise(max(0, n - builder.tx_count))
    builder.noise(max(0, n - builder.tx_count))  # a few fell after the period: top up
    data = builder.data
    data.documents = [d for d in data.documents if d.id not in builder.forgotten]
    builder.unpaid(max(0, n - len(data.documents)))
    rng = builder.rng
    rng.shuffle(data.transactions)
    rng.shuffle(data.documents)
    return data.transactions, data.documents, data.truth
