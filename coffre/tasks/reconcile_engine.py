"""Bank reconciliation: which open documents each bank transaction pays.

Pure computation on the plain views of `bank_types` (no database, no Prefect), built to
run on a whole ledger at once: 100,000 transactions against 100,000 open documents in a
few seconds on one core, every step vectorised with numpy or bounded per transaction.

1. Blocking, never all pairs. Candidates come from sorted keys and binary searches
   (`reconcile_blocking`), always within the currency, the sign the document expects and
   its date window (`date_window_days` around its due date): (a) the same amount;
   (b) an amount within the fee tolerance from a party of the same name or IBAN; (c) a
   larger open amount of the same IBAN, or of the same name when the wording announces a
   deposit (partial payments); (d) a document whose number the wording or remittance
   cites, found through an index of normalised numbers (`reconcile_text`). Each search
   keeps at most `LIMIT` documents per transaction, the nearest ones.
2. Scoring, on candidates only. Each pair adds up evidence in log-odds: amount (exact,
   within the fee tolerance, partial), date against the due date, cited number (whole,
   or its last digits on a candidate of the same party), another number cited instead,
   IBAN, name similarity (rapidfuzz token_set_ratio on normalised names, once per
   distinct pair of names), card purchase date ("CB CARREFOUR 12/11") against a
   receipt's date, a direct debit's stated due date ("ECH/151126"). The score shown is
   the logistic of the sum, 0..1.
3. Global one-to-one assignment. Pairs above the suggestion threshold form a sparse
   bipartite graph (at most `MAX_EDGES_PER_NODE` rivals per node); each connected
   component is solved with `linear_sum_assignment` (a missing match costs the threshold;
   large components on their sparse graph), so a transaction never takes a document
   another one explains better. A match is automatic above `auto_threshold` when it beats
   every rival by `auto_margin`, rivals clearly better placed elsewhere aside.
4. Grouped payments. Transfers left without an automatic match are tried against 2 to
   `max_group_size` open documents of the same counterparty (bounded subset sums in
   cents: exact, or within the fee tolerance when the wording cites most of them).
5. Proposals: the automatic match alone, or up to `max_suggestions_per_transaction`
   suggestions best first, each with a short French explanation for the accountant.

Partial payments are never automatic: a payment short of the open amount can as well be
a deposit, a disputed invoice or the payment of another document, and it leaves the
document open; the accountant confirms it.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

import numpy as np
from numpy.typing import NDArray
from rapidfuzz import fuzz, process
from scipy.optimize import linear_sum_assignment
from scipy.sparse import coo_matrix, csr_matrix
from scipy.sparse.csgraph import connected_components, min_weight_full_bipartite_matching

from coffre.tasks.bank_types import Allocation, DocumentView, Proposal, TransactionView
from coffre.tasks.reconcile_blocking import (
    IntArray,
    expand_ranges,
    nearest_per_owner,
    range_join,
    rank_within,
    run_starts,
    unique,
    unique_inverse,
)
from coffre.tasks.reconcile_explain import explain_group, explain_single
from coffre.tasks.reconcile_text import (
    MEDIUM,
    STRONG,
    TAIL,
    card_purchase_date,
    debit_due_dates,
    digit_groups,
    document_reference_keys,
    normalize_name,
    number_tails,
    partial_payment_said,
    text_reference_keys,
    wording_name,
)

FloatArray = NDArray[np.float64]
BoolArray = NDArray[np.bool_]

NO_DAY = -(10**7)  # a document without any date: reachable by its reference only
MAX_DOCS_PER_KEY = 8  # a reference shared by more documents proves nothing
DENSE_CELLS = 250_000  # larger components are matched on their sparse graph
MAX_EDGES_PER_NODE = 8  # rivals kept per transaction and per document
LIMIT = 32  # documents kept per transaction and blocking search, the nearest ones
MAX_PARTIES = 3  # counterparties whose documents are combined for one grouped payment
SCORE_CHUNK = 1_000_000  # candidate pairs scored at once, to bound memory

# Evidence weights, in log-odds. The prior says a random same-sign pair is no match.
PRIOR = -5.0
W_EXACT = 4.0
W_FEE = 2.0  # within the fee tolerance, decreasing to 0.5 at its edge
W_OVERPAID = -0.5  # more than the document, within the tolerance
W_PARTIAL = -1.0  # short of the open amount: needs a reference or an IBAN to stand
W_REF_STRONG = 4.5
W_REF_MEDIUM = 2.5
W_IBAN_SAME = 3.0
W_IBAN_OTHER = -1.0
W_NAME_MAX = 2.5
W_NAME_OTHER = -1.5
W_CARD_SAME_DAY = 2.0
W_CARD_NEXT_DAY = 0.8
W_CARD_OTHER_DAY = -2.0
W_RECEIPT_NOT_CARD = -1.0
W_DEBIT_SAME_DAY = 1.5  # direct debit: its stated due date is the document's
W_DEBIT_NEAR = 0.5
W_DEBIT_OTHER = -1.0
W_PARTIAL_SAID = 1.5  # "ACOMPTE", "PAIEMENT PARTIEL" in the wording
W_CITES_OTHER = -1.5  # the wording cites another document's number
W_TAIL = 2.0  # the number's last digits cited alone ("FACTURE 885")
W_GROUP_EXTRA_DOC = -0.5
W_DATE_MAX = 1.5


@dataclass(frozen=True)
class ReconcileSettings:
    """Thresholds are scores (0..1); `auto_margin` is in log-odds, the unit evidence is
    added in: the automatic match must beat every rival by that much (1.5 ≈ 4.5 to 1)."""

    auto_threshold: float = 0.85
    suggest_threshold: float = 0.40
    date_window_days: tuple[int, int] = (60, 90)  # before, after the due (or issue) date
    amount_tolerance_rate: float = 0.01  # bank fees: up to 1 % of the amount…
    amount_tolerance_cents: int = 500  # …capped at 5 €
    max_group_size: int = 5
    max_suggestions_per_transaction: int = 3
    auto_margin: float = 1.5
    max_group_candidates: int = 14  # open documents of the counterparty tried per transfer
    max_partial_candidates: int = 4  # same-IBAN larger documents kept per transaction


def _logit(p: float) -> float:
    p = min(max(p, 1e-9), 1 - 1e-9)
    return math.log(p / (1 - p))


def _sigmoid(x: float) -> float:
    return 1.0 / (1.0 + math.exp(-x))


class _Vocabulary:
    """Dense ids for strings, in order of first appearance (deterministic)."""

    def __init__(self) -> None:
        self.ids: dict[str, int] = {}

    def id(self, value: str | None) -> int:
        if not value:
            return -1
        found = self.ids.get(value)
        if found is None:
            found = self.ids[value] = len(self.ids)
        return found

    def strings(self) -> list[str]:
        return list(self.ids)


def _compact_iban(iban: str | None) -> str | None:
    return iban.replace(" ", "").upper() if iban else None


class _Data:
    """The open transactions and documents as columns of numbers."""

    def __init__(
        self,
        transactions: list[TransactionView],
        documents: list[DocumentView],
        settings: ReconcileSettings,
    ) -> None:
        self.txs = transactions
        self.docs = documents
        currencies = _Vocabulary()
        ibans = _Vocabulary()
        self.names = _Vocabulary()
        nt, nd = len(transactions), len(documents)

        amount = np.array([t.amount_cents for t in transactions], dtype=np.int64).reshape(nt)
        self.t_amount = np.abs(amount)
        self.t_sign = np.sign(amount)
        t_currency = np.array(
            [currencies.id(t.currency.upper()) for t in transactions], dtype=np.int64
        ).reshape(nt)
        self.t_group = np.where(self.t_sign == 0, -1, t_currency * 2 + (self.t_sign > 0))
        self.t_day = np.array(
            [t.booking_date.toordinal() for t in transactions], dtype=np.int64
        ).reshape(nt)
        tol = np.ceil(self.t_amount * settings.amount_tolerance_rate).astype(np.int64)
        self.t_tol = np.minimum(tol, settings.amount_tolerance_cents)
        self.t_iban = np.array(
            [ibans.id(_compact_iban(t.counterparty_iban)) for t in transactions], dtype=np.int64
        ).reshape(nt)
        self.t_name = np.array(
            [
                self.names.id(
                    normalize_name(t.counterparty_name)
                    if t.counterparty_name
                    else wording_name(t.wording)
                )
                for t in transactions
            ],
            dtype=np.int64,
        ).reshape(nt)
        self.t_card = np.array([t.is_card for t in transactions], dtype=bool).reshape(nt)
        card_day = np.full(nt, -1, dtype=np.int64)
        for i in np.flatnonzero(self.t_card):
            tx = transactions[i]
            bought = card_purchase_date(tx.wording, tx.booking_date)
            if bought is not None:
                card_day[i] = bought.toordinal()
        self.t_card_day = card_day
        self.t_text = [f"{t.wording} {t.remittance}" for t in transactions]
        debit_day = np.full(nt, -1, dtype=np.int64)
        for position, due_on in debit_due_dates([t.wording for t in transactions]).items():
            debit_day[position] = due_on.toordinal()
        self.t_debit_day = debit_day
        self.t_partial_said = np.zeros(nt, dtype=bool)
        self.t_partial_said[list(partial_payment_said(self.t_text))] = True

        self.d_amount = np.array([d.open_cents for d in documents], dtype=np.int64).reshape(nd)
        d_sign = np.array([d.expected_sign for d in documents], dtype=np.int64).reshape(nd)
        d_currency = np.array(
            [currencies.id(d.currency.upper()) for d in documents], dtype=np.int64
        ).reshape(nd)
        self.d_group = np.where(self.d_amount > 0, d_currency * 2 + (d_sign > 0), -1)
        issue = np.array(
            [d.issue_date.toordinal() if d.issue_date else NO_DAY for d in documents],
            dtype=np.int64,
        ).reshape(nd)
        due = np.array(
            [d.due_date.toordinal() if d.due_date else NO_DAY for d in documents],
            dtype=np.int64,
        ).reshape(nd)
        self.d_issue = np.where(issue == NO_DAY, due, issue)
        self.d_due = np.where(due == NO_DAY, issue, due)
        self.d_anchor = self.d_due  # NO_DAY when the document has no date at all
        self.d_dated = self.d_anchor != NO_DAY
        self.d_iban = np.array(
            [ibans.id(_compact_iban(d.counterparty_iban)) for d in documents], dtype=np.int64
        ).reshape(nd)
        self.d_name = np.array(
            [self.names.id(normalize_name(d.counterparty_name)) for d in documents],
            dtype=np.int64,
        ).reshape(nd)
        self.d_receipt = np.array([d.kind == "receipt" for d in documents], dtype=bool).reshape(nd)
        self.n_names = max(len(self.names.ids), 1)
        self.n_ibans = max(len(ibans.ids), 1)
        before, after = settings.date_window_days
        self.before, self.after = before, after
        self.name_strings = self.names.strings()
        self._tails: IntArray | None = None

    def doc_tails(self) -> IntArray:
        if self._tails is None:
            tails = number_tails([doc.number for doc in self.docs])
            self._tails = np.array(tails, dtype=np.int64).reshape(len(tails))
        return self._tails

    def in_window(self, t: IntArray, d: IntArray) -> BoolArray:
        anchor = self.d_anchor[d]
        delta = self.t_day[t] - anchor
        return (anchor == NO_DAY) | ((delta >= -self.before) & (delta <= self.after))


def _reference_hits(data: _Data) -> tuple[IntArray, IntArray, IntArray]:
    """(transaction, document, strength) for every document number a wording cites,
    within the currency, sign and date window."""
    empty = np.zeros(0, dtype=np.int64)
    numbers = [doc.number if data.d_group[d] >= 0 else None for d, doc in enumerate(data.docs)]
    positions, keys, strengths = document_reference_keys(numbers)
    key_ids: dict[str, int] = {}
    key_of = np.array([key_ids.setdefault(k, len(key_ids)) for k in keys], dtype=np.int64)
    if len(key_of) == 0:
        return empty, empty, empty
    # Postings: documents per key, strongest first; keys of too many documents dropped.
    doc_of = np.array(positions, dtype=np.int64)
    strength_of = np.array(strengths, dtype=np.int64)
    order = np.lexsort((-strength_of, doc_of, key_of))
    key_of, doc_of, strength_of = key_of[order], doc_of[order], strength_of[order]
    first = run_starts(key_of, doc_of)
    key_of, doc_of, strength_of = key_of[first], doc_of[first], strength_of[first]
    per_key = np.bincount(key_of, minlength=len(key_ids))
    starts = np.cumsum(per_key) - per_key
    per_key = np.where(per_key > MAX_DOCS_PER_KEY, 0, per_key)

    cited_t, cited_keys = text_reference_keys(data.t_text, frozenset(key_ids))
    t_of = np.array(cited_t, dtype=np.int64)
    k_of = np.array([key_ids[k] for k in cited_keys], dtype=np.int64)
    owner, position = expand_ranges(starts[k_of], starts[k_of] + per_key[k_of])
    t_arr, d_arr, s_arr = t_of[owner], doc_of[position], strength_of[position]
    keep = (data.t_group[t_arr] == data.d_group[d_arr]) & data.in_window(t_arr, d_arr)
    t_arr, d_arr, s_arr = t_arr[keep], d_arr[keep], s_arr[keep]
    order = np.lexsort((-s_arr, d_arr, t_arr))  # one hit per pair, its strongest key
    t_arr, d_arr, s_arr = t_arr[order], d_arr[order], s_arr[order]
    first = run_starts(t_arr, d_arr)
    return t_arr[first], d_arr[first], s_arr[first]


def _candidates(
    data: _Data, settings: ReconcileSettings, ref_t: IntArray, ref_d: IntArray
) -> tuple[IntArray, IntArray]:
    """Every pair worth scoring, from the blocking searches described in the module doc."""
    d_amount, t_amount, t_tol = data.d_amount, data.t_amount, data.t_tol
    low_day = data.t_day - data.after
    high_day = data.t_day + data.before
    pieces_t: list[IntArray] = []
    pieces_d: list[IntArray] = []

    # (a) same amount, inside the date window: the nearest in date, and the nearest of
    # the same name (a round amount can be shared by hundreds of unrelated documents).
    amounts = unique(d_amount)
    d_rank = np.searchsorted(amounts, d_amount)
    t_rank = np.minimum(np.searchsorted(amounts, t_amount), len(amounts) - 1)
    t_rank = np.where(amounts[t_rank] == t_amount, t_rank, -1)
    doc_group = np.where(
        data.d_dated & (data.d_group >= 0), data.d_group * len(amounts) + d_rank, -1
    )
    query_group = np.where(
        (data.t_group >= 0) & (t_rank >= 0), data.t_group * len(amounts) + t_rank, -1
    )
    for doc_key, tx_key in (
        (doc_group, query_group),
        (
            np.where(
                (doc_group >= 0) & (data.d_name >= 0), doc_group * data.n_names + data.d_name, -1
            ),
            np.where(
                (query_group >= 0) & (data.t_name >= 0),
                query_group * data.n_names + data.t_name,
                -1,
            ),
        ),
    ):
        t, d = range_join(
            doc_key, data.d_anchor, tx_key, low_day, high_day, center=data.t_day, limit=LIMIT
        )
        pieces_t.append(t)
        pieces_d.append(d)

    # (b) within the fee tolerance, same name or same IBAN; (c) partial payments.
    for doc_key, tx_key, size in (
        (data.d_name, data.t_name, data.n_names),
        (data.d_iban, data.t_iban, data.n_ibans),
    ):
        doc_group = np.where(
            (doc_key >= 0) & (data.d_group >= 0), data.d_group * size + doc_key, -1
        )
        doc_group = np.where(data.d_dated, doc_group, -1)
        query_group = np.where(
            (tx_key >= 0) & (data.t_group >= 0), data.t_group * size + tx_key, -1
        )
        t, d = range_join(
            doc_group,
            d_amount,
            query_group,
            t_amount - t_tol,
            t_amount + t_tol,
            center=t_amount,
            limit=LIMIT,
        )
        keep = (d_amount[d] != t_amount[t]) & data.in_window(t, d)
        pieces_t.append(t[keep])
        pieces_d.append(d[keep])
        # A larger document of the same IBAN, or of the same name when the wording says
        # the payment is partial ("ACOMPTE"): a partial payment.
        if tx_key is data.t_name:
            query_group = np.where(data.t_partial_said, query_group, -1)
        t, d = range_join(
            doc_group,
            data.d_anchor,
            query_group,
            low_day,
            high_day,
            center=data.t_day,
            limit=LIMIT,
        )
        keep = d_amount[d] > t_amount[t] + t_tol[t]
        t, d = t[keep], d[keep]
        near = nearest_per_owner(
            t, np.abs(data.d_anchor[d] - data.t_day[t]), settings.max_partial_candidates
        )
        pieces_t.append(t[near])
        pieces_d.append(d[near])

    # (d) cited references: any amount up to the tolerance above the document.
    gap = t_amount[ref_t] - d_amount[ref_d]
    keep = gap <= t_tol[ref_t]
    pieces_t.append(ref_t[keep])
    pieces_d.append(ref_d[keep])

    n_docs = max(len(data.docs), 1)
    codes = unique(np.concatenate(pieces_t) * n_docs + np.concatenate(pieces_d))
    return codes // n_docs, codes % n_docs


@dataclass
class _Edges:
    """Scored (transaction, document) pairs, with what the explanation needs."""

    t: IntArray
    d: IntArray
    logit: FloatArray
    ref: IntArray  # how the wording cites the number: 0 not, TAIL, MEDIUM, STRONG
    name_sim: FloatArray  # -1 when a side has no name
    iban: IntArray  # 1 same, -1 different, 0 unknown

    @staticmethod
    def concatenate(parts: list[_Edges]) -> _Edges:
        return _Edges(
            *(np.concatenate([getattr(p, f) for p in parts]) for f in _Edges.__dataclass_fields__)
        )

    def take(self, mask: BoolArray | IntArray) -> _Edges:
        return _Edges(
            self.t[mask],
            self.d[mask],
            self.logit[mask],
            self.ref[mask],
            self.name_sim[mask],
            self.iban[mask],
        )


def _date_term(data: _Data, t: IntArray, d: IntArray) -> FloatArray:
    """Paid on the due date is best; between issue and due date fine; late or before the
    document exists, less and less likely."""
    day = data.t_day[t]
    issue, due = data.d_issue[d], data.d_due[d]
    late = day - due
    after = max(data.after - 3, 1)
    term = np.where(np.abs(late) <= 3, W_DATE_MAX, 1.2)
    term = np.where(late > 3, np.maximum(W_DATE_MAX - 3.0 * (late - 3) / after, -1.5), term)
    term = np.where(day < issue - 3, np.maximum(1.2 - 0.15 * (issue - day), -2.0), term)
    return np.where(data.d_anchor[d] == NO_DAY, 0.0, term)


def _name_similarity(data: _Data, t: IntArray, d: IntArray) -> FloatArray:
    """Similarity (0..100, -1 unknown) of the two names, computed once per distinct pair."""
    tn, dn = data.t_name[t], data.d_name[d]
    sim = np.full(len(t), -1.0)
    known = (tn >= 0) & (dn >= 0)
    if known.any():
        codes = tn[known] * data.n_names + dn[known]
        distinct, inverse = unique_inverse(codes)
        strings = data.name_strings
        left = [strings[i] for i in (distinct // data.n_names).tolist()]
        right = [strings[i] for i in (distinct % data.n_names).tolist()]
        scores = process.cpdist(left, right, scorer=fuzz.token_set_ratio, workers=1)
        sim[known] = np.asarray(scores, dtype=np.float64)[inverse]
    return sim


def _name_term(sim: FloatArray) -> FloatArray:
    return np.select(
        [sim >= 90, sim >= 80, sim >= 65, sim >= 50, sim >= 0],
        [W_NAME_MAX, 1.5, 0.5, 0.0, W_NAME_OTHER],
        default=0.0,
    )


def _iban_term(iban: IntArray) -> FloatArray:
    return np.select([iban > 0, iban < 0], [W_IBAN_SAME, W_IBAN_OTHER], default=0.0)


def _score(
    data: _Data,
    t: IntArray,
    d: IntArray,
    ref_t: IntArray,
    ref_d: IntArray,
    ref_s: IntArray,
    floor: float,
) -> _Edges:
    """Log-odds of every pair; pairs that cannot reach `floor` even with the best name
    are dropped before the (costlier) name comparison."""
    n_docs = max(len(data.docs), 1)
    gap = data.t_amount[t] - data.d_amount[d]
    tol = np.maximum(data.t_tol[t], 1)
    fee_term = W_FEE - 1.5 * np.abs(gap) / (tol + 1) + np.where(gap > 0, W_OVERPAID, 0.0)
    amount_term = np.where(
        gap == 0, W_EXACT, np.where(np.abs(gap) <= data.t_tol[t], fee_term, W_PARTIAL)
    )

    ref = np.zeros(len(t), dtype=np.int64)
    if len(ref_t):
        ref_codes = ref_t * n_docs + ref_d
        order = np.argsort(ref_codes)
        sorted_codes, sorted_strength = ref_codes[order], ref_s[order]
        codes = t * n_docs + d
        pos = np.minimum(np.searchsorted(sorted_codes, codes), len(sorted_codes) - 1)
        ref = np.where(sorted_codes[pos] == codes, sorted_strength[pos], 0)

    ti, di = data.t_iban[t], data.d_iban[d]
    iban = np.where((ti >= 0) & (di >= 0), np.where(ti == di, 1, -1), 0)

    card_day = data.t_card_day[t]
    receipt = data.d_receipt[d]
    card_gap = np.abs(card_day - data.d_issue[d])
    card_term = np.where(
        (card_day >= 0) & data.d_dated[d],
        np.select(
            [card_gap == 0, card_gap == 1],
            [W_CARD_SAME_DAY, W_CARD_NEXT_DAY],
            default=W_CARD_OTHER_DAY,
        ),
        0.0,
    )
    card_term = np.where(receipt & ~data.t_card[t], W_RECEIPT_NOT_CARD, card_term)

    # A direct debit states its due date: the document due that day is the one debited.
    debit_day = data.t_debit_day[t]
    debit_gap = np.abs(debit_day - data.d_due[d])
    debit_term = np.where(
        (debit_day >= 0) & data.d_dated[d],
        np.select(
            [debit_gap == 0, debit_gap <= 3], [W_DEBIT_SAME_DAY, W_DEBIT_NEAR], W_DEBIT_OTHER
        ),
        0.0,
    )
    partial_term = np.where((gap < -data.t_tol[t]) & data.t_partial_said[t], W_PARTIAL_SAID, 0.0)
    # The wording cites another document: evidence against the ones it does not cite.
    cites_other = np.zeros(len(data.txs), dtype=bool)
    cites_other[ref_t[ref_s == STRONG]] = True
    other_term = np.where(cites_other[t] & (ref == 0), W_CITES_OTHER, 0.0)
    evidence = (
        PRIOR
        + amount_term
        + _ref_term(ref)
        + _iban_term(iban)
        + card_term
        + debit_term
        + partial_term
        + other_term
        + _date_term(data, t, d)
    )
    hopeful = evidence + W_NAME_MAX + W_TAIL >= floor
    t, d, evidence, ref, iban = (
        t[hopeful],
        d[hopeful],
        evidence[hopeful],
        ref[hopeful],
        iban[hopeful],
    )
    sim = _name_similarity(data, t, d)
    evidence += _name_term(sim)
    # Last digits only tell apart documents of the same counterparty.
    same_party = (iban > 0) | (sim >= 80)
    tail = _tail_matches(data, t, d, (ref == 0) & same_party & (evidence + W_TAIL >= floor))
    ref = np.where(tail, TAIL, ref)
    evidence += np.where(tail, W_TAIL, 0.0)
    keep = evidence >= floor
    return _Edges(t[keep], d[keep], evidence[keep], ref[keep], sim[keep], iban[keep])


def _ref_term(ref: IntArray) -> FloatArray:
    return np.select(
        [ref == STRONG, ref == MEDIUM, ref == TAIL], [W_REF_STRONG, W_REF_MEDIUM, W_TAIL], 0.0
    )


def _tail_matches(data: _Data, t: IntArray, d: IntArray, look: BoolArray) -> BoolArray:
    """Pairs whose wording cites the document's number by its last digits only
    ("FACTURE 885" for F-2025-0885): checked on candidates, never searched for."""
    found = np.zeros(len(t), dtype=bool)
    tails = data.doc_tails()
    rows = np.flatnonzero(look & (tails[d] >= 0))
    if len(rows) == 0:
        return found
    needed = unique(t[rows])
    lines, values = digit_groups([data.t_text[i] for i in needed.tolist()])
    if len(values) == 0:
        return found
    width = 10**12
    cited = np.sort(needed[lines] * width + values)
    wanted = t[rows] * width + tails[d[rows]]
    pos = np.minimum(np.searchsorted(cited, wanted), len(cited) - 1)
    found[rows] = cited[pos] == wanted
    return found


def _assign(data: _Data, edges: _Edges, threshold: float) -> tuple[IntArray, IntArray]:
    """One-to-one assignment maximising the summed evidence above the threshold, solved
    per connected component of the candidate graph. Returns (tx → doc, doc → tx)."""
    nt, nd = len(data.txs), len(data.docs)
    doc_of_tx = np.full(nt, -1, dtype=np.int64)
    tx_of_doc = np.full(nd, -1, dtype=np.int64)
    if len(edges.t) == 0:
        return doc_of_tx, tx_of_doc
    graph = coo_matrix(
        (np.ones(len(edges.t), dtype=np.int8), (edges.t, nt + edges.d)), shape=(nt + nd,) * 2
    )
    _, labels = connected_components(graph, directed=False)
    component = labels[edges.t]
    tx_nodes = unique(edges.t)
    doc_nodes = unique(edges.d)
    n_labels = int(labels.max()) + 1
    txs_in = np.bincount(labels[tx_nodes], minlength=n_labels)
    docs_in = np.bincount(labels[nt + doc_nodes], minlength=n_labels)

    # Ties broken by input order, so the result never depends on anything else.
    order = np.lexsort((edges.d, edges.t, -edges.logit, component))
    comp_sorted = component[order]
    first = run_starts(comp_sorted)
    star = ((txs_in == 1) | (docs_in == 1))[comp_sorted]
    best = order[first & star]  # a star holds one match only: its best edge
    doc_of_tx[edges.t[best]] = edges.d[best]
    tx_of_doc[edges.d[best]] = edges.t[best]
    bounds = np.r_[np.flatnonzero(first), len(order)]
    for start, stop in itertools.pairwise(bounds.tolist()):
        if star[start]:
            continue
        rows = order[start:stop]
        local_t, ti = unique_inverse(edges.t[rows])
        local_d, di = unique_inverse(edges.d[rows])
        gain = edges.logit[rows] - threshold + 1e-6
        r, c = _match(ti, di, gain, len(local_t), len(local_d))
        doc_of_tx[local_t[r]] = local_d[c]
        tx_of_doc[local_d[c]] = local_t[r]
    return doc_of_tx, tx_of_doc


def _match(
    ti: IntArray, di: IntArray, gain: FloatArray, n_t: int, n_d: int
) -> tuple[IntArray, IntArray]:
    """Matched (row, col) pairs maximising the summed gain (all gains > 0, a missing
    edge means "cannot match"): dense Hungarian for small components, sparse LAPJV with
    "unmatched" dummies for large ones (whose dense matrix would not fit)."""
    if n_t * n_d <= DENSE_CELLS:
        weight = np.zeros((n_t, n_d))
        weight[ti, di] = gain
        r, c = linear_sum_assignment(weight, maximize=True)
        chosen = weight[r, c] > 0
        return r[chosen], c[chosen]
    # Rows: transactions, then one dummy per document; columns: documents, then one dummy
    # per transaction. Every perfect matching has n_t + n_d edges, so costs K - gain
    # (real edge) and K (staying unmatched) minimise to the maximum total gain.
    big = float(gain.max()) + 1.0
    n_e = len(ti)
    rows = np.concatenate([ti, np.arange(n_t), n_t + np.arange(n_d), n_t + di])
    cols = np.concatenate([di, n_d + np.arange(n_t), np.arange(n_d), n_d + ti])
    cost = np.concatenate([big - gain, np.full(n_t + n_d + n_e, big)])
    graph = csr_matrix((cost, (rows, cols)), shape=(n_t + n_d, n_t + n_d))
    r, c = min_weight_full_bipartite_matching(graph)
    real = (r < n_t) & (c < n_d)
    return r[real], c[real]


@lru_cache(maxsize=512)
def _combinations(n: int, sizes: tuple[int, ...], width: int) -> tuple[IntArray, IntArray]:
    """Index rows of every subset of range(n) of the given sizes, padded with n to
    `width` columns; and their sizes."""
    rows = [
        combo + (n,) * (width - size)
        for size in sizes
        for combo in itertools.combinations(range(n), size)
    ]
    matrix = np.array(rows, dtype=np.int64).reshape(len(rows), width)
    return matrix, (matrix < n).sum(axis=1)


@dataclass
class _Group:
    t: int
    docs: tuple[int, ...]
    logit: float
    ref: int  # documents whose number is cited
    iban: bool
    name_sim: float
    ambiguous: bool
    automatic: bool = False


def _groups(
    data: _Data,
    settings: ReconcileSettings,
    edges: _Edges,
    auto_t: BoolArray,
    taken: BoolArray,
    rejected: set[tuple[int, int]],
    ref: tuple[IntArray, IntArray, IntArray],
) -> list[_Group]:
    """Transfers paying several documents of one counterparty: bounded subset sums."""
    ref_t, ref_d, ref_s = ref
    eligible = ~auto_t & ~data.t_card & (data.t_group >= 0)
    # A transfer whose amount is that of one document of the same party is not searched
    # for combinations: that single match is the likely story (and it is suggested).
    whole = np.abs(data.t_amount[edges.t] - data.d_amount[edges.d]) <= data.t_tol[edges.t]
    whole &= (edges.iban > 0) | (edges.name_sim >= 80)
    eligible[edges.t[whole]] = False
    nt = len(data.txs)
    # Counterparties a transaction may be paying, most likely first: its own name, names
    # of documents it cites, of documents whose name resembles its own, and names its
    # IBAN already paid under automatic matches. A few at most.
    close = edges.name_sim >= 85
    pair_t = [np.arange(nt, dtype=np.int64), ref_t, edges.t[close]]
    pair_n = [data.t_name, data.d_name[ref_d], data.d_name[edges.d[close]]]
    pair_rank = [np.zeros(nt), np.full(len(ref_t), 1.0), 3.0 - edges.name_sim[close] / 100]
    auto_edges = auto_t[edges.t] & (data.t_iban[edges.t] >= 0)
    if auto_edges.any():
        learned = unique(
            data.t_iban[edges.t[auto_edges]] * data.n_names + data.d_name[edges.d[auto_edges]]
        )
        learned = learned[learned % data.n_names >= 0]
        q = np.flatnonzero(eligible & (data.t_iban >= 0))
        lo = np.searchsorted(learned, data.t_iban[q] * data.n_names)
        hi = np.searchsorted(learned, (data.t_iban[q] + 1) * data.n_names)
        hi = np.where(hi - lo > MAX_PARTIES, lo, hi)  # an account many parties pay from
        owner, pos = expand_ranges(lo, hi)
        pair_t.append(q[owner])
        pair_n.append(learned[pos] % data.n_names)
        pair_rank.append(np.full(len(owner), 4.0))
    qt = np.concatenate(pair_t)
    qn = np.concatenate(pair_n)
    qr = np.concatenate(pair_rank)
    keep = eligible[qt] & (qn >= 0)
    qt, qn, qr = qt[keep], qn[keep], qr[keep]
    order = np.lexsort((qr, qn, qt))
    qt, qn, qr = qt[order], qn[order], qr[order]
    first = run_starts(qt, qn)
    qt, qn, qr = qt[first], qn[first], qr[first]
    keep = rank_within(qt, qr) < MAX_PARTIES
    qt, qn = qt[keep], qn[keep]

    pool_t: list[IntArray] = []
    pool_d: list[IntArray] = []
    low_day, high_day = data.t_day - data.after, data.t_day + data.before
    for doc_key, tx_key, query_t, size in (
        (data.d_name, qn, qt, data.n_names),
        (data.d_iban, data.t_iban, np.arange(nt, dtype=np.int64), data.n_ibans),
    ):
        doc_group = np.where(
            (doc_key >= 0) & data.d_dated & (data.d_group >= 0), data.d_group * size + doc_key, -1
        )
        query_t = query_t[eligible[query_t]]
        tx_key = tx_key[eligible] if tx_key is data.t_iban else tx_key[eligible[qt]]
        query_group = np.where(tx_key >= 0, data.t_group[query_t] * size + tx_key, -1)
        owner, d = range_join(
            doc_group,
            data.d_anchor,
            query_group,
            low_day[query_t],
            high_day[query_t],
            center=data.t_day[query_t],
            limit=LIMIT,
        )
        pool_t.append(query_t[owner])
        pool_d.append(d)
    pool_t.append(ref_t[eligible[ref_t]])
    pool_d.append(ref_d[eligible[ref_t]])
    n_docs = max(len(data.docs), 1)
    codes = unique(np.concatenate(pool_t) * n_docs + np.concatenate(pool_d))
    t, d = codes // n_docs, codes % n_docs
    keep = ~taken[d] & (data.d_amount[d] < data.t_amount[t] + data.t_tol[t])
    keep &= data.d_issue[d] <= data.t_day[t] + 3  # a grouped payment pays issued documents
    t, d = t[keep], d[keep]
    if rejected:
        keep = np.array(
            [(a, b) not in rejected for a, b in zip(t.tolist(), d.tolist(), strict=True)],
            dtype=bool,
        ).reshape(len(t))
        t, d = t[keep], d[keep]
    if len(t) == 0:
        return []
    # The nearest documents in date, those the wording cites first.
    ref_codes = np.sort(ref_t * n_docs + ref_d)
    codes = t * n_docs + d
    found = np.minimum(np.searchsorted(ref_codes, codes), max(len(ref_codes) - 1, 0))
    cited_pair = (ref_codes[found] == codes) if len(ref_codes) else np.zeros(len(t), dtype=bool)
    distance = np.abs(data.d_anchor[d] - data.t_day[t]) - 10_000 * cited_pair
    near = nearest_per_owner(t, distance, settings.max_group_candidates)
    t, d = t[near], d[near]

    # Per document features, as for single pairs.
    features = _score(data, t, d, ref_t, ref_d, ref_s, floor=-math.inf)
    t, d = features.t, features.d
    identity = _iban_term(features.iban) + _name_term(features.name_sim)
    ref_term = _ref_term(features.ref)
    date_term = _date_term(data, t, d)
    cited = (features.ref > 0).astype(np.int64)
    # Transactions whose two smallest documents already exceed the amount, or whose
    # largest ones cannot reach it, are skipped without enumerating anything.
    amount = data.d_amount[d]
    idx = np.lexsort((d, amount, t))
    t_sorted, a_sorted = t[idx], amount[idx]
    starts = np.flatnonzero(run_starts(t_sorted))
    ends = np.r_[starts[1:], len(idx)]
    total = np.r_[0, np.cumsum(a_sorted)]
    paid = data.t_amount[t_sorted[starts]]
    slack = data.t_tol[t_sorted[starts]]
    two = total[np.minimum(starts + 2, ends)] - total[starts]
    top = total[ends] - total[np.maximum(ends - settings.max_group_size, starts)]
    feasible = (ends - starts >= 2) & (two <= paid + slack) & (top >= paid - slack)
    idx = idx[np.repeat(feasible, ends - starts)]
    idx = idx[np.lexsort((d[idx], t[idx]))]
    t_sorted = t[idx]
    bounds = np.r_[0, np.flatnonzero(np.diff(t_sorted)) + 1, len(idx)]

    groups: list[_Group] = []
    max_size = settings.max_group_size
    limit = settings.max_suggestions_per_transaction
    for start, stop in itertools.pairwise(bounds.tolist()):
        n = stop - start
        if n < 2:
            continue
        rows = idx[start:stop]
        tx = int(t_sorted[start])
        target, tol = int(data.t_amount[tx]), int(data.t_tol[tx])
        amounts = np.append(data.d_amount[d[rows]], 0)
        # Only the sizes whose smallest and largest totals bracket the amount.
        ascending = np.cumsum(np.sort(amounts[:-1]))
        descending = np.cumsum(np.sort(amounts[:-1])[::-1])
        sizes_ok = tuple(
            k
            for k in range(2, min(max_size, n) + 1)
            if ascending[k - 1] <= target + tol and descending[k - 1] >= target - tol
        )
        if not sizes_ok:
            continue
        combos, sizes = _combinations(n, sizes_ok, max_size)
        gaps = target - amounts[combos].sum(axis=1)
        n_cited = np.append(cited[rows], 0)[combos].sum(axis=1)
        # Exact totals, or within the fee tolerance when the wording cites most of the
        # documents: random subsets of a busy customer's invoices hit a ±5 € window often.
        fits = np.flatnonzero((gaps == 0) | ((np.abs(gaps) <= tol) & (2 * n_cited >= sizes)))
        if len(fits) == 0:
            continue
        chosen, k, gap = combos[fits], sizes[fits].astype(np.float64), gaps[fits]
        amount = np.where(gap == 0, W_EXACT, W_FEE - 1.5 * np.abs(gap) / (tol + 1))
        amount += np.where(gap < 0, W_OVERPAID, 0.0)

        def mean(values: FloatArray, chosen: IntArray = chosen, k: FloatArray = k) -> FloatArray:
            return np.append(values, 0.0)[chosen].sum(axis=1) / k

        logit = (
            PRIOR
            + amount
            + mean(ref_term[rows])
            + mean(identity[rows])
            + mean(date_term[rows])
            + W_GROUP_EXTRA_DOC * (k - 2)
        )
        ranked = np.lexsort((np.arange(len(fits)), -logit))
        # Unambiguous only when no other combination is cited as well as the best one.
        rival_cited = n_cited[fits[ranked[1:]]].max(initial=-1)
        best_clear = rival_cited < n_cited[fits[ranked[0]]]
        for rank, j in enumerate(ranked[:limit].tolist()):
            members_idx = [i for i in chosen[j].tolist() if i < n]
            member_rows = rows[members_idx]
            groups.append(
                _Group(
                    t=tx,
                    docs=tuple(d[member_rows].tolist()),
                    logit=float(logit[j]),
                    ref=int(n_cited[fits[j]]),
                    iban=bool((features.iban[member_rows] > 0).any()),
                    name_sim=float(features.name_sim[member_rows].max()),
                    ambiguous=rank > 0 or not best_clear,
                )
            )
    return groups


def reconcile(
    transactions: Sequence[TransactionView],
    documents: Sequence[DocumentView],
    *,
    settings: ReconcileSettings = ReconcileSettings(),
    fixed: Iterable[tuple[str, str]] = (),
    rejected: Iterable[tuple[str, str]] = (),
) -> list[Proposal]:
    """Proposals for every transaction that may pay open documents: automatic matches and
    suggestions, ordered by transaction (input order), best first within a transaction."""
    fixed = list(fixed)
    fixed_t = {t for t, _ in fixed}
    fixed_d = {d for _, d in fixed}
    txs = [t for t in transactions if t.id not in fixed_t]
    docs = [d for d in documents if d.id not in fixed_d]
    if not txs or not docs:
        return []
    data = _Data(txs, docs, settings)
    t_index = {t.id: i for i, t in enumerate(txs)}
    d_index = {d.id: i for i, d in enumerate(docs)}
    rejected_pairs = {
        (t_index[a], d_index[b]) for a, b in rejected if a in t_index and b in d_index
    }
    threshold = _logit(settings.suggest_threshold)
    auto_logit = _logit(settings.auto_threshold)

    ref_t, ref_d, ref_s = _reference_hits(data)
    t, d = _candidates(data, settings, ref_t, ref_d)
    if rejected_pairs:
        n_docs = len(docs)
        bad = np.array(sorted(a * n_docs + b for a, b in rejected_pairs), dtype=np.int64)
        keep = ~np.isin(t * n_docs + d, bad)
        t, d = t[keep], d[keep]
    edges = _Edges.concatenate(
        [
            _score(
                data,
                t[i : i + SCORE_CHUNK],
                d[i : i + SCORE_CHUNK],
                ref_t,
                ref_d,
                ref_s,
                floor=threshold,
            )
            for i in range(0, max(len(t), 1), SCORE_CHUNK)
        ]
    )
    # Only the best rivals of each transaction and document matter; bounding them keeps
    # every later step linear even when thousands of documents look alike.
    best = -edges.logit  # edges come ordered by (transaction, document): ties stay so
    keep = (rank_within(edges.t, best) < MAX_EDGES_PER_NODE) & (
        rank_within(edges.d, best) < MAX_EDGES_PER_NODE
    )
    edges = edges.take(keep)

    doc_of_tx, tx_of_doc = _assign(data, edges, threshold)
    auto_t, auto_doc = _automatic(data, settings, edges, doc_of_tx, tx_of_doc, auto_logit)
    taken = np.zeros(len(docs), dtype=bool)
    taken[auto_doc[auto_doc >= 0]] = True

    groups = _groups(data, settings, edges, auto_t, taken, rejected_pairs, (ref_t, ref_d, ref_s))
    _automatic_groups(data, settings, edges, groups, auto_t, taken, auto_logit)
    return _proposals(data, settings, edges, groups, tx_of_doc, auto_doc, auto_t, taken)


def _automatic(
    data: _Data,
    settings: ReconcileSettings,
    edges: _Edges,
    doc_of_tx: IntArray,
    tx_of_doc: IntArray,
    auto_logit: float,
) -> tuple[BoolArray, IntArray]:
    """Which assigned pairs are sure: high enough, and clear of every rival that is not
    itself clearly better placed elsewhere. Returns (tx automatic, its document or -1)."""
    nt, nd = len(data.txs), len(data.docs)
    margin = settings.auto_margin
    assigned_logit_t = np.full(nt, -np.inf)
    assigned_logit_d = np.full(nd, -np.inf)
    chosen = doc_of_tx[edges.t] == edges.d
    assigned_logit_t[edges.t[chosen]] = edges.logit[chosen]
    assigned_logit_d[edges.d[chosen]] = edges.logit[chosen]
    other = ~chosen
    et, ed, el = edges.t[other], edges.d[other], edges.logit[other]
    # A rival document for t counts unless its own match is much better than with t.
    rival_for_t = assigned_logit_d[ed] < el + margin
    rival_for_d = assigned_logit_t[et] < el + margin
    alt_t = np.full(nt, -np.inf)
    alt_d = np.full(nd, -np.inf)
    np.maximum.at(alt_t, et[rival_for_t], el[rival_for_t])
    np.maximum.at(alt_d, ed[rival_for_d], el[rival_for_d])
    ct, cd, cl = edges.t[chosen], edges.d[chosen], edges.logit[chosen]
    full_payment = data.t_amount[ct] + data.t_tol[ct] >= data.d_amount[cd]
    sure = (cl >= auto_logit) & full_payment & (cl - np.maximum(alt_t[ct], alt_d[cd]) >= margin)
    auto_t = np.zeros(nt, dtype=bool)
    auto_t[ct[sure]] = True
    auto_doc = np.full(nt, -1, dtype=np.int64)
    auto_doc[ct[sure]] = cd[sure]
    return auto_t, auto_doc


def _automatic_groups(
    data: _Data,
    settings: ReconcileSettings,
    edges: _Edges,
    groups: list[_Group],
    auto_t: BoolArray,
    taken: BoolArray,
    auto_logit: float,
) -> None:
    """Mark the sure groups automatic, best first, each document in one automatic match:
    unique combination, high enough, and clear of the transaction's single matches and
    of any other transaction's claim on one of its documents."""
    nt, nd = len(data.txs), len(data.docs)
    margin = settings.auto_margin
    best_t = np.full(nt, -np.inf)
    np.maximum.at(best_t, edges.t, edges.logit)
    # Best and second best claim on each document, to find the best claim by another tx.
    order = np.lexsort((edges.t, -edges.logit, edges.d))
    first = run_starts(edges.d[order])
    best_d_logit = np.full(nd, -np.inf)
    best_d_tx = np.full(nd, -1, dtype=np.int64)
    second_d_logit = np.full(nd, -np.inf)
    best_d_logit[edges.d[order[first]]] = edges.logit[order[first]]
    best_d_tx[edges.d[order[first]]] = edges.t[order[first]]
    second = np.zeros_like(first)
    second[1:] = first[:-1] & ~first[1:]
    second_d_logit[edges.d[order[second]]] = edges.logit[order[second]]
    for group in sorted(groups, key=lambda g: (-g.logit, g.t, g.docs)):
        if group.ambiguous or group.logit < auto_logit or auto_t[group.t]:
            continue
        if group.logit - best_t[group.t] < margin:
            continue
        members = np.array(group.docs, dtype=np.int64)
        if taken[members].any():
            continue
        claims = np.where(
            best_d_tx[members] == group.t, second_d_logit[members], best_d_logit[members]
        )
        if (group.logit - claims < margin).any():
            continue
        group.automatic = True
        auto_t[group.t] = True
        taken[members] = True


def _proposals(
    data: _Data,
    settings: ReconcileSettings,
    edges: _Edges,
    groups: list[_Group],
    tx_of_doc: IntArray,
    auto_doc: IntArray,
    auto_t: BoolArray,
    taken: BoolArray,
) -> list[Proposal]:
    """The automatic match alone, or the best suggestions: the assignment's choice first
    (documents it gives to another transaction go last), then by score."""
    limit = settings.max_suggestions_per_transaction
    usable = np.where(auto_t[edges.t], auto_doc[edges.t] == edges.d, ~taken[edges.d])
    rows = np.flatnonzero(usable)
    et, ed, el = edges.t[rows], edges.d[rows], edges.logit[rows]
    away = (tx_of_doc[ed] >= 0) & (tx_of_doc[ed] != et)
    order = np.lexsort((ed, -el, away, et))
    rows, et, away = rows[order], et[order], away[order]
    first = run_starts(et)
    group_start = np.flatnonzero(first)
    rank = np.arange(len(et)) - np.repeat(group_start, np.diff(np.r_[group_start, len(et)]))
    keep = rank < limit
    rows, et, away = rows[keep], et[keep], away[keep]
    singles = _single_proposals(data, edges, rows, auto_t)

    # Groups compete with the single matches of their transaction.
    extra: dict[int, list[tuple[tuple[int, float, int, tuple[int, ...]], Proposal]]] = {}
    for group in groups:
        if auto_t[group.t] and not group.automatic:
            continue
        members = list(group.docs)
        if not group.automatic and taken[members].any():
            continue
        owners = tx_of_doc[members]
        elsewhere = int(((owners >= 0) & (owners != group.t)).any())
        key = (elsewhere, -group.logit, 1, group.docs)
        extra.setdefault(group.t, []).append((key, _group_proposal(data, group)))
    if not extra:
        return singles

    proposals: list[Proposal] = []
    tx_list = et.tolist()
    i = 0
    for t in sorted(set(tx_list) | set(extra)):
        options = extra.get(t, [])
        while i < len(tx_list) and tx_list[i] < t:
            i += 1
        while i < len(tx_list) and tx_list[i] == t:
            e = int(rows[i])
            options.append(
                ((int(away[i]), -float(edges.logit[e]), 0, (int(edges.d[e]),)), singles[i])
            )
            i += 1
        if t not in extra:
            proposals.extend(p for _, p in options)
            continue
        options.sort(key=lambda item: item[0])
        if auto_t[t]:
            options = [o for o in options if o[1].automatic]
        proposals.extend(p for _, p in options[:limit])
    return proposals


def _single_proposals(
    data: _Data, edges: _Edges, rows: IntArray, auto_t: BoolArray
) -> list[Proposal]:
    """Proposals for single-document edges, in the order given (columns read once)."""
    t, d = edges.t[rows], edges.d[rows]
    dated = data.d_anchor[d] != NO_DAY
    receipt = data.d_receipt[d]
    card_day = np.where(dated, data.t_card_day[t], -1)
    names = [*data.name_strings, ""]
    paid = data.t_amount[t]
    open_cents = data.d_amount[d]
    scores = np.round(1.0 / (1.0 + np.exp(-edges.logit[rows])), 4).tolist()
    columns = zip(
        t.tolist(),
        d.tolist(),
        paid.tolist(),
        open_cents.tolist(),
        data.t_tol[t].tolist(),
        edges.ref[rows].tolist(),
        receipt.tolist(),
        edges.name_sim[rows].tolist(),
        edges.iban[rows].tolist(),
        data.t_name[t].tolist(),
        data.d_name[d].tolist(),
        data.t_day[t].tolist(),
        np.where(dated, data.d_issue[d], -1).tolist(),
        np.where(dated, data.d_due[d], -1).tolist(),
        card_day.tolist(),
        auto_t[t].tolist(),
        scores,
        strict=True,
    )
    proposals: list[Proposal] = []
    txs, docs = data.txs, data.docs
    for (
        ti,
        di,
        pay,
        due_cents,
        tol,
        ref,
        rec,
        sim,
        iban,
        tn,
        dn,
        day,
        iss,
        due,
        card,
        auto,
        sc,
    ) in columns:
        doc = docs[di]
        explanation = explain_single(
            paid=pay,
            open_cents=due_cents,
            tolerance=tol,
            reference=ref,
            number=doc.number,
            receipt=rec,
            name_sim=sim,
            iban=iban,
            tx_name=names[tn],
            doc_name=names[dn],
            booked=day,
            issue=iss if iss >= 0 else None,
            due=due if due >= 0 else None,
            card_day=card if card >= 0 else None,
        )
        allocation = Allocation(txs[ti].id, doc.id, min(pay, due_cents))
        proposals.append(Proposal((allocation,), sc, auto, explanation))
    return proposals


def _group_proposal(data: _Data, group: _Group) -> Proposal:
    tx = data.txs[group.t]
    paid = int(data.t_amount[group.t])
    opens = [int(data.d_amount[m]) for m in group.docs]
    amounts = list(opens)
    excess = sum(opens) - paid
    for i in range(len(amounts) - 1, -1, -1):  # fees deducted from the last documents
        if excess <= 0:
            break
        cut = min(excess, amounts[i] - 1)
        amounts[i] -= cut
        excess -= cut
    explanation = explain_group(
        paid=paid,
        total_open=sum(opens),
        numbers=[data.docs[m].number for m in group.docs],
        cited=group.ref,
        name_sim=group.name_sim,
        iban=group.iban,
        ambiguous=group.ambiguous,
    )
    return Proposal(
        allocations=tuple(
            Allocation(tx.id, data.docs[m].id, a) for m, a in zip(group.docs, amounts, strict=True)
        ),
        score=round(_sigmoid(group.logit), 4),
        automatic=group.automatic,
        explanation=explanation,
    )
