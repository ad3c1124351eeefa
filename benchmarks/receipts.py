"""Realistic French receipts (photos) and supplier invoices (PDFs) with ground truth.

Used by the extraction tests and benchmarks: real customer documents cannot be
committed, so we render look-alikes whose every field is known.  Everything is
deterministic from the seed (document ``i`` of a seed never depends on ``n``) so
that a failure can be reproduced and a benchmark compared across commits.

Only Pillow, pikepdf and the standard library are used, plus the dataclasses
of :mod:`coffre.tasks.extract` for the ground truth.
"""

from __future__ import annotations

import datetime
import io
import random
import warnings
from collections.abc import Sequence
from dataclasses import dataclass
from decimal import ROUND_HALF_UP, Decimal
from pathlib import Path

import pikepdf
from PIL import Image, ImageChops, ImageDraw, ImageFilter, ImageFont

from coffre.tasks.extract import ExtractedFields, VatLine

__all__ = ["GeneratedDoc", "invoice_pdfs", "luhn_complete", "random_siret", "receipt_images"]

CENT = Decimal("0.01")
DPI = 300


@dataclass
class GeneratedDoc:
    """One generated file and the fields an extractor should find in it."""

    filename: str
    data: bytes
    truth: ExtractedFields


# ------------------------------------------------------------------ identifiers


def _luhn_sum(digits: str) -> int:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2 == 1:
            d *= 2
            if d > 9:
                d -= 9
        total += d
    return total % 10


def luhn_complete(digits: str) -> str:
    """Append the Luhn check digit (the SIREN and SIRET checksum)."""
    return digits + str((10 - _luhn_sum(digits + "0")) % 10)


def random_siret(rng: random.Random) -> str:
    """A SIRET that passes ``stdnum.fr.siret`` (SIREN and SIRET both Luhn-valid)."""
    while True:
        siren = luhn_complete(f"{rng.randint(1, 9)}{rng.randrange(10**7):07d}")
        if siren == "356000000":  # La Poste: its own checksum rule
            continue
        nic = f"{rng.choice(('0001', '0002', '0003', '0004', '0005', '0010', '0012', '0015'))}"
        for last in range(10):
            candidate = siren + nic + str(last)
            if _luhn_sum(candidate) == 0:
                return candidate


def _group_siret(siret: str) -> str:
    return f"{siret[:3]} {siret[3:6]} {siret[6:9]} {siret[9:]}"


# ------------------------------------------------------------------------ money


def _money(cents: int) -> Decimal:
    return (Decimal(cents) / 100).quantize(CENT)


def _fr(amount: Decimal, thousands: str = " ") -> str:
    """French format: "1 234,56"."""
    q = amount.quantize(CENT)
    whole, frac = f"{q:.2f}".split(".")
    neg = whole.startswith("-")
    whole = whole.lstrip("-")
    groups: list[str] = []
    while len(whole) > 3:
        groups.insert(0, whole[-3:])
        whole = whole[:-3]
    groups.insert(0, whole)
    return ("-" if neg else "") + thousands.join(groups) + "," + frac


def _en(amount: Decimal) -> str:
    """English format: "1,234.56"."""
    return f"{amount.quantize(CENT):,.2f}"


def _rate_fr(rate: Decimal, decimals: int = 0) -> str:
    if decimals:
        return f"{rate:.{decimals}f}".replace(".", ",")
    return f"{rate.normalize():f}".replace(".", ",")


def _vat_from_ttc(by_rate: dict[Decimal, Decimal]) -> dict[Decimal, tuple[Decimal, Decimal]]:
    """Receipts: prices are TTC; HT = TTC / (1 + rate), VAT = TTC - HT (per rate)."""
    out = {}
    for rate, ttc in by_rate.items():
        ht = (ttc / (1 + rate / 100)).quantize(CENT, ROUND_HALF_UP)
        out[rate] = (ht, ttc - ht)
    return out


def _vat_truth(vat: dict[Decimal, Decimal]) -> tuple[VatLine, ...]:
    return tuple(VatLine(r, a) for r, a in sorted(vat.items(), reverse=True))


_MOIS = (
    "janvier",
    "février",
    "mars",
    "avril",
    "mai",
    "juin",
    "juillet",
    "août",
    "septembre",
    "octobre",
    "novembre",
    "décembre",
)
_MONTHS_EN = (
    "January",
    "February",
    "March",
    "April",
    "May",
    "June",
    "July",
    "August",
    "September",
    "October",
    "November",
    "December",
)


def _date_fr_long(d: datetime.date, upper: bool = False) -> str:
    day = "1er" if d.day == 1 else str(d.day)
    s = f"{day} {_MOIS[d.month - 1]} {d.year}"
    return s.upper() if upper else s


def _random_date(rng: random.Random) -> datetime.date:
    return datetime.date(2024, 1, 1) + datetime.timedelta(days=rng.randrange(0, 3 * 365))


# ------------------------------------------------------------- shared catalogues

_STREETS = (
    "rue de la République",
    "avenue Jean Jaurès",
    "rue Victor Hugo",
    "boulevard Gambetta",
    "place du Marché",
    "rue des Lilas",
    "avenue de la Gare",
    "rue Pasteur",
    "quai des Chartrons",
    "route de Grenoble",
    "rue du Général Leclerc",
    "allée des Tilleuls",
)
_CITIES = (
    ("69002", "LYON"),
    ("33000", "BORDEAUX"),
    ("75011", "PARIS"),
    ("13006", "MARSEILLE"),
    ("31000", "TOULOUSE"),
    ("44000", "NANTES"),
    ("67000", "STRASBOURG"),
    ("38000", "GRENOBLE"),
    ("59800", "LILLE"),
    ("35000", "RENNES"),
    ("21000", "DIJON"),
    ("74000", "ANNECY"),
)
_SURNAMES = (
    "MARTIN",
    "DUPONT",
    "MOREAU",
    "LEFEBVRE",
    "GARNIER",
    "FAURE",
    "ROUSSEAU",
    "BLANC",
    "GUERIN",
    "MULLER",
    "HENRY",
    "CHEVALIER",
    "ROBIN",
    "MERCIER",
)

# Receipts: (shop kinds, names, items (label, min cents, max cents, VAT rate)).
_R20, _R10, _R55, _R21 = Decimal("20"), Decimal("10"), Decimal("5.5"), Decimal("2.1")
_SHOPS: tuple[tuple[str, tuple[str, ...], tuple[tuple[str, int, int, Decimal], ...]], ...] = (
    (
        "boulangerie",
        ("BOULANGERIE {n}", "AU FOURNIL DE {C}", "BOULANGERIE DU MARCHE"),
        (
            ("BAGUETTE TRADITION", 110, 140, _R55),
            ("PAIN DE CAMPAGNE", 240, 390, _R55),
            ("CROISSANT", 110, 150, _R55),
            ("PAIN AU CHOCOLAT", 120, 160, _R55),
            ("TARTE AUX FRAISES", 1800, 2600, _R55),
            ("SANDWICH JAMBON", 450, 620, _R10),
            ("CAFE", 140, 220, _R10),
            ("ECLAIR CAFE", 250, 350, _R55),
        ),
    ),
    (
        "station",
        ("STATION {n}", "RELAIS DES ALPES", "STATION DU LAC", "GARAGE {n}"),
        (
            ("GAZOLE", 4500, 9800, _R20),
            ("SP95-E10", 3500, 8500, _R20),
            ("LAVAGE PREMIUM", 1200, 1800, _R20),
            ("CAFE", 150, 250, _R10),
            ("EAU MINERALE 50CL", 120, 220, _R55),
            ("LAVE-GLACE 5L", 590, 990, _R20),
        ),
    ),
    (
        "restaurant",
        ("LE BISTROT DU PORT", "BRASSERIE {n}", "CHEZ {n}", "LA TABLE DE {C}"),
        (
            ("MENU DU JOUR", 1450, 2200, _R10),
            ("ENTRECOTE FRITES", 1900, 2600, _R10),
            ("SALADE CESAR", 1300, 1700, _R10),
            ("CAFE GOURMAND", 750, 990, _R10),
            ("CARAFE DE VIN 50CL", 1100, 1800, _R20),
            ("BIERE PRESSION", 450, 750, _R20),
            ("EAU PETILLANTE", 450, 650, _R10),
        ),
    ),
    (
        "librairie",
        ("LIBRAIRIE {n}", "LIBRAIRIE LES MOTS PASSANTS", "LA PAGE BLANCHE"),
        (
            ("ROMAN POCHE", 790, 1290, _R55),
            ("BEAU LIVRE", 2500, 4900, _R55),
            ("BANDE DESSINEE", 1290, 2490, _R55),
            ("CARNET A5", 390, 890, _R20),
            ("STYLO PLUME", 890, 2490, _R20),
            ("QUOTIDIEN", 230, 290, _R21),
            ("MAGAZINE", 390, 790, _R21),
        ),
    ),
    (
        "quincaillerie",
        ("QUINCAILLERIE {n}", "BRICO {C}", "QUINCAILLERIE CENTRALE"),
        (
            ("VIS BOIS 4X40 X100", 490, 890, _R20),
            ("CHEVILLES X50", 350, 690, _R20),
            ("MARTEAU 500G", 1290, 2290, _R20),
            ("AMPOULE LED E27", 390, 990, _R20),
            ("RUBAN ADHESIF", 250, 590, _R20),
            ("PEINTURE BLANCHE 2,5L", 2490, 4490, _R20),
        ),
    ),
    (
        "superette",
        ("SUPERETTE {n}", "EPICERIE DU CENTRE", "PROXI {C}"),
        (
            ("LAIT DEMI-ECREME 1L", 99, 145, _R55),
            ("PATES 500G", 89, 199, _R55),
            ("YAOURTS NATURE X8", 189, 299, _R55),
            ("POMMES GOLDEN KG", 199, 349, _R55),
            ("VIN ROUGE AOP 75CL", 450, 1290, _R20),
            ("LESSIVE LIQUIDE", 599, 1190, _R20),
            ("SAVON", 150, 350, _R20),
            ("CHOCOLAT NOIR", 169, 299, _R55),
        ),
    ),
)


def _shop_name(rng: random.Random, patterns: Sequence[str]) -> str:
    city = rng.choice(_CITIES)[1]
    return rng.choice(patterns).format(n=rng.choice(_SURNAMES), C=city)


# ---------------------------------------------------------------------- fonts

_MONO_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Regular.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMono.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Regular.otf",
)
_MONO_BOLD_FONTS = (
    "/usr/share/fonts/truetype/dejavu/DejaVuSansMono-Bold.ttf",
    "/usr/share/fonts/truetype/liberation/LiberationMono-Bold.ttf",
    "/usr/share/fonts/truetype/freefont/FreeMonoBold.ttf",
    "/usr/share/fonts/opentype/urw-base35/NimbusMonoPS-Bold.otf",
)
_FONT_CACHE: dict[tuple[bool, int], ImageFont.FreeTypeFont | ImageFont.ImageFont] = {}


def font_path(bold: bool = False) -> str | None:
    """First TrueType/OpenType monospace font on the machine (fonts-dejavu-core)."""
    for path in _MONO_BOLD_FONTS if bold else _MONO_FONTS:
        if Path(path).is_file():
            return path
    return None


def _font(size: int, bold: bool = False) -> ImageFont.FreeTypeFont | ImageFont.ImageFont:
    key = (bold, size)
    if key not in _FONT_CACHE:
        path = font_path(bold) or font_path(False)
        if path:
            _FONT_CACHE[key] = ImageFont.truetype(path, size)
        else:
            warnings.warn(
                "no TrueType font found: install the Debian package fonts-dejavu-core; "
                "falling back to Pillow's default font",
                stacklevel=2,
            )
            _FONT_CACHE[key] = ImageFont.load_default(size=size)
    return _FONT_CACHE[key]


# -------------------------------------------------------------------- receipts


@dataclass
class RenderSettings:
    """Knobs of the receipt "photo"; tuned so tesseract (psm 3) reads >= 90 % of fields."""

    font_px: tuple[int, int] = (34, 38)  # about 8-9 pt at 300 DPI, like a thermal ticket
    bold_body: bool = True
    blur_px: tuple[float, float] = (0.3, 0.7)
    noise: tuple[int, int] = (8, 16)  # peak-to-peak grain, in grey levels
    jpeg_quality: tuple[int, int] = (85, 95)


RENDER = RenderSettings()

# A receipt is a list of rows: (kind, text, ...) with kind in "title", "center",
# "left", "lr" (label + right-aligned amount), "lr2" (same, bold), "sep", "cols".
_Row = tuple[str, ...]


def _receipt_rows(rng: random.Random, layout: int) -> tuple[list[_Row], ExtractedFields]:
    kind, names, catalogue = rng.choice(_SHOPS)
    supplier = _shop_name(rng, names)
    street = f"{rng.randint(1, 120)} {rng.choice(_STREETS).upper()}"
    postcode, city = rng.choice(_CITIES)
    siret = random_siret(rng)
    date = _random_date(rng)
    hour = f"{rng.randint(7, 21):02d}:{rng.randint(0, 59):02d}"
    ticket = f"{rng.randint(1, 99999):05d}"
    phone = f"0{rng.randint(1, 5)} " + " ".join(str(rng.randint(10, 99)) for _ in range(4))

    picks = rng.sample(catalogue, k=min(len(catalogue), rng.randint(2, 5)))
    items: list[tuple[str, Decimal, Decimal]] = []
    for label, lo, hi, rate in picks:
        qty = 1 if kind in ("station", "quincaillerie") else rng.choice((1, 1, 1, 2, 3))
        unit = _money(rng.randint(lo, hi))
        name = f"{qty} x {label}" if qty > 1 else label
        items.append((name, (unit * qty).quantize(CENT), rate))
    by_rate: dict[Decimal, Decimal] = {}
    for _, price, rate in items:
        by_rate[rate] = by_rate.get(rate, Decimal(0)) + price
    vat = _vat_from_ttc(by_rate)
    total = sum(by_rate.values(), Decimal(0))
    codes = {rate: "ABCD"[i] for i, rate in enumerate(sorted(by_rate, reverse=True))}

    rows: list[_Row] = [
        ("title", supplier),
        ("center", street),
        ("center", f"{postcode} {city}"),
        ("center", f"Tel : {phone}"),
    ]
    siret_txt = _group_siret(siret) if rng.random() < 0.6 else siret
    rows.append(("center", f"SIRET {siret_txt}" if layout % 2 else f"SIRET : {siret_txt}"))
    if layout == 1:
        rows.append(("center", f"Le {_date_fr_long(date)} à {hour}"))
        if kind == "restaurant":
            rows.append(("left", f"Table {rng.randint(1, 30)}   Couverts {rng.randint(1, 6)}"))
    elif layout == 2:
        rows.append(("left", f"{date.isoformat()} {hour}"))
    elif layout == 3:
        rows.append(("center", f"Date : {date:%d.%m.%Y}"))
    rows.append(("sep",))
    for name, price, rate in items:
        rows.append(("lr", name, f"{_fr(price)} {codes[rate]}" if layout == 0 else _fr(price)))
    rows.append(("sep",))
    eur = rng.choice(("EUR", "€")) if layout != 0 else "EUR"
    if layout == 3:
        rows.append(("lr2", "NET A PAYER", f"{_fr(total)} {eur}"))
    elif layout == 2:
        rows.append(("lr2", "MONTANT TTC", f"{_fr(total)} {eur}"))
    else:
        rows.append(("lr2", "TOTAL TTC", f"{_fr(total)} {eur}"))
    pay = rng.choice(("CB", "CB SANS CONTACT", "CARTE BANCAIRE"))
    if layout == 0:
        rows.append(("lr", pay, f"{_fr(total)} EUR"))
        rows.append(("sep",))
        rows.append(("cols", "TVA", "TAUX", "HT", "TVA", "TTC"))
        for rate in sorted(by_rate, reverse=True):
            ht, tva = vat[rate]
            rows.append(
                (
                    "cols",
                    codes[rate],
                    f"{_rate_fr(rate, 2)}%",
                    _fr(ht),
                    _fr(tva),
                    _fr(by_rate[rate]),
                )
            )
        rows.append(("sep",))
        rows.append(("center", f"{date:%d/%m/%Y} {hour}   Ticket n° {ticket}"))
    elif layout == 1:
        for rate in sorted(by_rate, reverse=True):
            rows.append(("left", f"dont TVA {_rate_fr(rate)}% : {_fr(vat[rate][1])} {eur}"))
        rows.append(("lr", pay, f"{_fr(total)} {eur}"))
        rows.append(("sep",))
        rows.append(("center", f"Ticket n° {ticket}"))
    elif layout == 2:
        for rate in sorted(by_rate, reverse=True):
            rows.append(("left", f"TVA {_rate_fr(rate, 2)} % : {_fr(vat[rate][1])} {eur}"))
        rows.append(("lr", pay, f"{_fr(total)} {eur}"))
        rows.append(("center", f"Ticket n° {ticket}"))
    else:
        for rate in sorted(by_rate, reverse=True):
            rows.append(("lr", f"T.V.A. {_rate_fr(rate)}%", _fr(vat[rate][1])))
        rows.append(("lr", pay, f"{_fr(total)} {eur}"))
        rows.append(("sep",))
        rows.append(("center", f"Ticket n° {ticket}  {hour}"))
    rows.append(("center", rng.choice(("Merci de votre visite", "À bientôt !", "Bonne journée"))))

    truth = ExtractedFields(
        date=date,
        total_ttc=total,
        vat=_vat_truth({r: v[1] for r, v in vat.items()}),
        supplier=supplier,
        invoice_number=ticket,
        siret=siret,
    )
    return rows, truth


def _render_rows(rows: list[_Row], rng: random.Random) -> Image.Image:
    size = rng.randint(*RENDER.font_px)
    # Thermal heads burn thick dots: a bold face survives blur and JPEG.
    font = _font(size, bold=RENDER.bold_body)
    bold = _font(size, bold=True)
    title = _font(int(size * 1.35), bold=True)
    line_h = int(size * 1.45)
    width = 30 + int(font.getlength("M") * 40) if hasattr(font, "getlength") else 1000
    margin = rng.randint(40, 60)
    paper_w = width + 2 * margin
    paper_h = 2 * margin + sum(int(line_h * 1.5) if r[0] == "title" else line_h for r in rows)
    paper_tone = rng.randint(228, 250)
    ink = rng.randint(15, 55)
    paper = Image.new("L", (paper_w, paper_h), paper_tone)
    draw = ImageDraw.Draw(paper)
    y = margin

    def right(text: str, x_right: float, f: ImageFont.FreeTypeFont | ImageFont.ImageFont) -> None:
        draw.text((x_right - draw.textlength(text, font=f), y), text, fill=ink, font=f)

    for row in rows:
        kind = row[0]
        if kind == "title":
            w = draw.textlength(row[1], font=title)
            draw.text((margin + (width - w) / 2, y), row[1], fill=ink, font=title)
            y += int(line_h * 1.5)
            continue
        if kind == "center":
            w = draw.textlength(row[1], font=font)
            draw.text((margin + (width - w) / 2, y), row[1], fill=ink, font=font)
        elif kind == "left":
            draw.text((margin, y), row[1], fill=ink, font=font)
        elif kind in ("lr", "lr2"):
            f = bold if kind == "lr2" else font
            draw.text((margin, y), row[1], fill=ink, font=f)
            right(row[2], margin + width, f)
        elif kind == "sep":
            # Thermal printers rule with "=" or "*": a run of "-" is taken by
            # tesseract for a graphic rule and hides the amounts column.
            rule = "=" * int(width / max(1.0, draw.textlength("=", font=font)))
            draw.text((margin, y), rule, fill=ink, font=font)
        elif kind == "cols":
            # Printed like a till does: one monospace line, columns padded with
            # spaces (wide gaps make tesseract split the table into blocks).
            code, rate, ht, tva, ttc = row[1:]
            draw.text(
                (margin, y), f"{code:<3}{rate:>7}{ht:>9}{tva:>8}{ttc:>9}", fill=ink, font=font
            )
        y += line_h
    return paper


def _photograph(paper: Image.Image, rng: random.Random) -> Image.Image:
    """Turn a flat render into a plausible phone photo: table, tilt, light, noise."""
    pad = rng.randint(50, 90)
    # A light table (wood, desk): against a dark one tesseract's global
    # threshold swallows the right-hand column of amounts, as on real photos.
    table = rng.randint(185, 215)
    canvas = Image.new("L", (paper.width + 2 * pad, paper.height + 2 * pad), table)
    canvas.paste(paper, (pad, pad))
    canvas = canvas.rotate(
        rng.uniform(-2.0, 2.0), resample=Image.Resampling.BICUBIC, expand=True, fillcolor=table
    )
    # Uneven lighting: a soft gradient across the sheet.
    grad = Image.linear_gradient("L").resize(canvas.size)
    if rng.random() < 0.5:
        grad = grad.transpose(Image.Transpose.ROTATE_90).resize(canvas.size)
    lo = rng.randint(215, 240)
    grad = grad.point(lambda v: lo + (255 - lo) * v // 255)
    canvas = ImageChops.multiply(canvas, grad)
    canvas = canvas.filter(ImageFilter.GaussianBlur(rng.uniform(*RENDER.blur_px)))
    amp = rng.randint(*RENDER.noise)
    noise = Image.frombytes("L", canvas.size, rng.randbytes(canvas.width * canvas.height))
    noise = noise.point(lambda v: v * amp // 255)
    canvas = ImageChops.subtract(
        ImageChops.add(canvas, noise), Image.new("L", canvas.size, amp // 2)
    )
    warm = rng.randint(0, 6)
    return Image.merge(
        "RGB",
        (
            canvas.point(lambda v: min(255, v + warm)),
            canvas,
            canvas.point(lambda v: max(0, v - warm)),
        ),
    )


def receipt_images(n: int, seed: int = 0) -> list[GeneratedDoc]:
    """``n`` photographed-looking French till receipts (JPEG or PNG, 300 DPI)."""
    docs = []
    for i in range(n):
        rng = random.Random(f"receipt-{seed}-{i}")
        rows, truth = _receipt_rows(rng, layout=i % 4)  # every layout in any 4 in a row
        image = _photograph(_render_rows(rows, rng), rng)
        buf = io.BytesIO()
        if i % 3 == 2:
            image.save(buf, format="PNG", dpi=(DPI, DPI), optimize=False)
            name = f"receipt-{seed}-{i:03d}.png"
        else:
            image.save(
                buf, format="JPEG", dpi=(DPI, DPI), quality=rng.randint(*RENDER.jpeg_quality)
            )
            name = f"receipt-{seed}-{i:03d}.jpg"
        docs.append(GeneratedDoc(name, buf.getvalue(), truth))
    return docs


# ------------------------------------------------------------------- invoices

# Helvetica advance widths (1/1000 em) from the standard AFM; enough to
# right-align amounts and to keep layout columns apart.
_HELV_WIDTHS: dict[str, int] = {
    " ": 278, "!": 278, '"': 355, "#": 556, "$": 556, "%": 889, "&": 667, "'": 191,
    "(": 333, ")": 333, "*": 389, "+": 584, ",": 278, "-": 333, ".": 278, "/": 278,
    ":": 278, ";": 278, "<": 584, "=": 584, ">": 584, "?": 556, "@": 1015,
    "A": 667, "B": 667, "C": 722, "D": 722, "E": 667, "F": 611, "G": 778, "H": 722,
    "I": 278, "J": 500, "K": 667, "L": 556, "M": 833, "N": 722, "O": 778, "P": 667,
    "Q": 778, "R": 722, "S": 667, "T": 611, "U": 722, "V": 667, "W": 944, "X": 667,
    "Y": 667, "Z": 611, "[": 278, "\\": 278, "]": 278, "_": 556,
    "a": 556, "b": 556, "c": 500, "d": 556, "e": 556, "f": 278, "g": 556, "h": 556,
    "i": 222, "j": 222, "k": 500, "l": 222, "m": 833, "n": 556, "o": 556, "p": 556,
    "q": 556, "r": 333, "s": 500, "t": 278, "u": 556, "v": 500, "w": 722, "x": 500,
    "y": 500, "z": 500, "€": 556, "°": 400, "é": 556, "è": 556, "ê": 556, "à": 556,
    "ç": 500, "ù": 556, "ô": 556, "î": 278, "É": 667, "È": 667, "’": 222,
}  # fmt: skip
for _d in "0123456789":
    _HELV_WIDTHS[_d] = 556


def _text_width(text: str, size: float, bold: bool = False) -> float:
    w = sum(_HELV_WIDTHS.get(c, 556) for c in text) * size / 1000
    return w * 1.06 if bold and not all(c in "0123456789 ,.€" for c in text) else w


def _pdf_string(text: str) -> bytes:
    """PDF literal string in WinAnsiEncoding (cp1252: "é", "€", "°" are single bytes)."""
    out = bytearray(b"(")
    for byte in text.encode("cp1252"):
        if byte in b"()\\":
            out += b"\\" + bytes([byte])
        elif 32 <= byte < 127:
            out.append(byte)
        else:
            out += f"\\{byte:03o}".encode()
    return bytes(out + b")")


class _Page:
    """Minimal text-only content stream writer (y grows downwards from the top)."""

    height = 842.0

    def __init__(self) -> None:
        self.ops: list[bytes] = []

    def text(
        self, x: float, y: float, text: str, size: float = 9.5, bold: bool = False, align: str = "l"
    ) -> None:
        if align == "r":
            x -= _text_width(text, size, bold)
        font = b"/F2" if bold else b"/F1"
        self.ops.append(
            b"BT "
            + font
            + f" {size:g} Tf {x:.2f} {self.height - y:.2f} Td ".encode()
            + _pdf_string(text)
            + b" Tj ET"
        )

    def hline(self, x0: float, x1: float, y: float) -> None:
        yy = self.height - y
        self.ops.append(f"0.5 w {x0:.2f} {yy:.2f} m {x1:.2f} {yy:.2f} l S".encode())

    def pdf_bytes(self, title: str) -> bytes:
        pdf = pikepdf.new()
        fonts = pikepdf.Dictionary(
            F1=pdf.make_indirect(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Font,
                    Subtype=pikepdf.Name.Type1,
                    BaseFont=pikepdf.Name.Helvetica,
                    Encoding=pikepdf.Name.WinAnsiEncoding,
                )
            ),
            F2=pdf.make_indirect(
                pikepdf.Dictionary(
                    Type=pikepdf.Name.Font,
                    Subtype=pikepdf.Name.Type1,
                    BaseFont=pikepdf.Name("/Helvetica-Bold"),
                    Encoding=pikepdf.Name.WinAnsiEncoding,
                )
            ),
        )
        page = pdf.add_blank_page(page_size=(595, 842))
        page.obj.Resources = pikepdf.Dictionary(Font=fonts)
        page.obj.Contents = pdf.make_stream(b"\n".join(self.ops))
        pdf.docinfo[pikepdf.Name.Title] = title
        pdf.docinfo[pikepdf.Name.Producer] = "coffre benchmarks"
        buf = io.BytesIO()
        pdf.save(buf, deterministic_id=True)
        return buf.getvalue()


_TRADES: tuple[tuple[str, tuple[tuple[str, int, int, Decimal], ...]], ...] = (
    (
        "PLOMBERIE",
        (
            ("Remplacement mitigeur cuisine", 8500, 16000, _R10),
            ("Main d'oeuvre (heure)", 4500, 6500, _R10),
            ("Chauffe-eau thermodynamique 200 L", 120000, 210000, _R10),
            ("Fournitures diverses", 1500, 6000, _R20),
            ("Déplacement", 3500, 5500, _R20),
        ),
    ),
    (
        "ÉLECTRICITÉ",
        (
            ("Mise aux normes tableau électrique", 65000, 140000, _R10),
            ("Pose prises et interrupteurs", 4500, 9000, _R10),
            ("Câble R2V 3G2,5 (50 m)", 6000, 11000, _R20),
            ("Diagnostic installation", 9000, 15000, _R20),
        ),
    ),
    (
        "ATELIER NUMÉRIQUE",
        (
            ("Développement site vitrine", 150000, 450000, _R20),
            ("Hébergement annuel", 12000, 36000, _R20),
            ("Maintenance mensuelle", 9000, 25000, _R20),
            ("Formation (demi-journée)", 45000, 90000, _R20),
        ),
    ),
    (
        "TRAITEUR",
        (
            ("Buffet froid (par personne)", 1800, 3500, _R10),
            ("Plateaux repas", 1500, 2500, _R10),
            ("Vin rouge AOP (bouteille)", 900, 2500, _R20),
            ("Jus de fruits (litre)", 250, 450, _R55),
            ("Service et mise en place", 15000, 40000, _R20),
        ),
    ),
    (
        "LIBRAIRIE",
        (
            ("Manuels scolaires (lot)", 12000, 60000, _R55),
            ("Abonnement presse quotidienne", 25000, 45000, _R21),
            ("Fournitures de bureau", 3000, 15000, _R20),
            ("Dictionnaires", 2500, 4500, _R55),
        ),
    ),
)
_CLIENTS = (
    ("ACME SAS", "5 avenue Foch", "75008 Paris"),
    ("Cabinet Lenoir", "18 rue Nationale", "37000 Tours"),
    ("Mairie de Saint-Genis", "Place de la Mairie", "01630 Saint-Genis"),
    ("SCI Les Érables", "2 impasse du Moulin", "69130 Écully"),
    ("Hôtel du Parc", "40 boulevard Carnot", "06400 Cannes"),
)


def _invoice_supplier(rng: random.Random, trade: str) -> str:
    surname = rng.choice(_SURNAMES)
    form = rng.choice(("SARL", "SAS", "EURL"))
    style = rng.randrange(3)
    if style == 0:
        return f"{surname} {trade} {form}"
    if style == 1:
        return f"{form} {trade} {surname}"
    return f"{trade.capitalize()} {surname.capitalize()}"


def _invoice(rng: random.Random, index: int) -> tuple[_Page, ExtractedFields]:
    trade, catalogue = rng.choice(_TRADES)
    supplier = _invoice_supplier(rng, trade)
    siret = random_siret(rng)
    date = _random_date(rng)
    due = date + datetime.timedelta(days=30)
    layout = index % 4
    english = layout == 3
    year = date.year
    number = (
        f"F-{year}-{rng.randint(1, 999):04d}",
        f"{year}/{rng.randint(100, 999)}",
        f"FA{rng.randint(10000, 99999)}",
        f"INV-{rng.randint(100, 9999)}",
    )[layout]
    street = f"{rng.randint(1, 120)} {rng.choice(_STREETS)}"
    postcode, city = rng.choice(_CITIES)
    client = rng.choice(_CLIENTS)

    lines: list[tuple[str, int, Decimal, Decimal, Decimal]] = []
    for label, lo, hi, rate in rng.sample(catalogue, k=rng.randint(2, min(4, len(catalogue)))):
        qty = rng.choice((1, 1, 2, 3, 5, 10)) if hi < 10000 else 1
        unit = _money(rng.randint(lo, hi))
        lines.append((label, qty, unit, rate, (unit * qty).quantize(CENT)))
    base: dict[Decimal, Decimal] = {}
    for *_, rate, amount in lines:
        base[rate] = base.get(rate, Decimal(0)) + amount
    vat = {r: (b * r / 100).quantize(CENT, ROUND_HALF_UP) for r, b in base.items()}
    total_ht = sum(base.values(), Decimal(0))
    total_vat = sum(vat.values(), Decimal(0))
    total = total_ht + total_vat

    def money(v: Decimal) -> str:
        return f"€{_en(v)}" if english else f"{_fr(v)} €"

    p = _Page()
    left, right = 50.0, 545.0
    p.text(left, 60, supplier, size=15, bold=True)
    p.text(right, 60, "INVOICE" if english else "FACTURE", size=18, bold=True, align="r")
    p.text(left, 80, street)
    p.text(left, 93, f"{postcode} {city.capitalize()}")
    p.text(
        left,
        106,
        f"Tél. : 0{rng.randint(1, 5)} {rng.randint(10, 99)} {rng.randint(10, 99)} "
        f"{rng.randint(10, 99)} {rng.randint(10, 99)}",
    )
    siret_txt = _group_siret(siret) if layout != 2 else siret
    p.text(left, 119, f"SIRET : {siret_txt}")
    vat_key = (12 + 3 * (int(siret[:9]) % 97)) % 97
    p.text(left, 132, f"TVA intracom. : FR{vat_key:02d} {siret[:9]}")

    meta_x = 360.0
    if layout == 0:
        p.text(meta_x, 85, f"Facture n° {number}")
        p.text(meta_x, 98, f"Date : {date:%d/%m/%Y}")
        p.text(meta_x, 111, f"Échéance : {due:%d/%m/%Y}")
    elif layout == 1:
        p.text(meta_x, 85, f"N° de facture : {number}")
        p.text(meta_x, 98, f"Date de facture : {_date_fr_long(date)}")
        p.text(meta_x, 111, f"Date d'échéance : {_date_fr_long(due)}")
    elif layout == 3:
        p.text(meta_x, 85, f"Invoice No. {number}")
        p.text(meta_x, 98, f"Invoice date: {_MONTHS_EN[date.month - 1]} {date.day}, {date.year}")
        p.text(meta_x, 111, f"Due date: {_MONTHS_EN[due.month - 1]} {due.day}, {due.year}")

    y = 160.0
    p.text(meta_x, y, "Bill to:" if english else "Client :", bold=True)
    for k, txt in enumerate(client):
        p.text(meta_x, y + 13 * (k + 1), txt)
    y = 230.0
    if layout == 2:
        # Reference block as a table: labels on one row, values below.
        cols = (left, 170.0, 290.0, 410.0)
        for x, label in zip(cols, ("Facture n°", "Date", "Échéance", "Réf. client"), strict=True):
            p.text(x, y, label, bold=True)
        values = (number, f"{date:%d.%m.%Y}", f"{due:%d.%m.%Y}", f"C-{rng.randint(100, 999)}")
        for x, value in zip(cols, values, strict=True):
            p.text(x, y + 14, value)
        y += 45

    # Item table.
    heads = (
        ("Description", "Qty", "Unit price", "VAT", "Amount")
        if english
        else ("Désignation", "Qté", "PU HT", "TVA", "Total HT")
    )
    xs = (left, 330.0, 400.0, 455.0, right)
    p.text(xs[0], y, heads[0], bold=True)
    for x, h in zip(xs[1:], heads[1:], strict=True):
        p.text(x, y, h, bold=True, align="r")
    p.hline(left, right, y + 5)
    y += 20
    for label, qty, unit, rate, amount in lines:
        p.text(xs[0], y, label)
        p.text(xs[1], y, str(qty), align="r")
        p.text(xs[2], y, _en(unit) if english else _fr(unit), align="r")
        p.text(xs[3], y, f"{_rate_fr(rate)} %", align="r")
        p.text(xs[4], y, _en(amount) if english else _fr(amount), align="r")
        y += 15
    p.hline(left, right, y - 5)
    y += 20

    label_x = 350.0
    rates = sorted(base, reverse=True)
    if layout == 1:
        # VAT breakdown as a table, then the totals.
        tx = (left, 200.0, 320.0, 430.0)
        for x, h in zip(tx, ("Taux TVA", "Base HT", "Montant TVA", "Total TTC"), strict=True):
            p.text(x, y, h, bold=True)
        y += 15
        for rate in rates:
            p.text(tx[0], y, f"{_rate_fr(rate, 2)} %")
            p.text(tx[1] + 60, y, _fr(base[rate]), align="r")
            p.text(tx[2] + 70, y, _fr(vat[rate]), align="r")
            p.text(tx[3] + 60, y, _fr(base[rate] + vat[rate]), align="r")
            y += 14
        y += 16
        p.text(label_x, y, "Total HT")
        p.text(right, y, money(total_ht), align="r")
        y += 14
        p.text(label_x, y, "Total TVA")
        p.text(right, y, money(total_vat), align="r")
        y += 14
        p.text(label_x, y, "TOTAL TTC", bold=True)
        p.text(right, y, money(total), bold=True, align="r")
        y += 14
    elif english:
        p.text(label_x, y, "Subtotal")
        p.text(right, y, money(total_ht), align="r")
        y += 14
        for rate in rates:
            p.text(label_x, y, f"VAT {rate.normalize():f}%")
            p.text(right, y, money(vat[rate]), align="r")
            y += 14
        p.text(label_x, y, "Total (incl. VAT)", bold=True)
        p.text(right, y, money(total), bold=True, align="r")
        y += 14
        p.text(label_x, y, "Amount due")
        p.text(right, y, money(total), align="r")
        y += 14
    else:
        p.text(label_x, y, "Total HT")
        p.text(right, y, money(total_ht), align="r")
        y += 14
        for rate in rates:
            p.text(label_x, y, f"TVA {_rate_fr(rate)} %")
            p.text(right, y, money(vat[rate]), align="r")
            y += 14
        p.text(label_x, y, "Total TTC", bold=True)
        p.text(right, y, money(total), bold=True, align="r")
        y += 14
        p.text(label_x, y, "Net à payer", bold=True)
        p.text(right, y, money(total), bold=True, align="r")
        y += 14

    y = 740.0
    if english:
        p.text(
            left,
            y,
            "Payment due within 30 days. Late payment: 3x the legal interest rate "
            "and a fixed fee of 40 EUR.",
            size=7.5,
        )
    else:
        p.text(
            left,
            y,
            "Conditions de paiement : 30 jours. Pénalités de retard : trois fois le "
            "taux d'intérêt légal.",
            size=7.5,
        )
        p.text(
            left,
            y + 10,
            "Indemnité forfaitaire pour frais de recouvrement : 40 €. "
            "Pas d'escompte pour paiement anticipé.",
            size=7.5,
        )
    capital = rng.choice(("1 000", "5 000", "10 000", "50 000"))
    p.text(
        left,
        y + 30,
        f"{supplier} au capital de {capital} € - RCS {city.capitalize()} "
        f"{_group_siret(siret)[:11]} - SIRET {_group_siret(siret)}",
        size=7.5,
    )

    truth = ExtractedFields(
        date=date,
        total_ttc=total,
        vat=_vat_truth(vat),
        supplier=supplier,
        invoice_number=number,
        siret=siret,
    )
    return p, truth


def invoice_pdfs(n: int, seed: int = 0) -> list[GeneratedDoc]:
    """``n`` one-page born-digital supplier invoices (text layer, Helvetica, not PDF/A)."""
    docs = []
    for i in range(n):
        rng = random.Random(f"invoice-{seed}-{i}")
        page, truth = _invoice(rng, i)
        data = page.pdf_bytes(f"Facture {truth.invoice_number}")
        docs.append(GeneratedDoc(f"invoice-{seed}-{i:03d}.pdf", data, truth))
    return docs
