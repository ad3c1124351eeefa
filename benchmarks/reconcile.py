"""Bank reconciliation at scale against a naive matcher, on the same data, same run.

Generates `--transactions` bank transactions and about as many open documents with
their ground truth (benchmarks/bank_data.py), then runs on ONE core (BLAS/OpenMP thread
pools set to 1 before numpy is imported, and the process pinned to a single CPU):

- baseline: a naive greedy matcher, transactions in date order, each taking the first
  open document (by due date) of the same currency and sign, exactly the same amount and
  inside the same date window; everything it finds counts as "automatic";
- Coffre: `reconcile()` with its default settings.

Figures are at the (transaction, document) pair level. The truth is the set T of pairs
(t, d) such that t pays (all or part of) d; a grouped payment contributes one pair per
document, a transaction paying nothing contributes none.

- automatic: A = pairs in the allocations of automatic proposals;
  precision = |A ∩ T| / |A|, recall = |A ∩ T| / |T|.
- automatic + top-1: S = A plus, for each transaction without an automatic proposal, the
  pairs of its first (best) suggestion; precision = |S ∩ T| / |S|, recall = |S ∩ T| / |T|.

Goals: automatic precision ≥ 99.5 %, automatic + suggested recall ≥ 90 %, 100,000 ×
100,000 in ≤ 10 s on one core and ≤ 2 GB. Time is the best of `--rounds` runs. Memory is
the process's peak resident set over those runs (ru_maxrss, generated data included),
and the tracemalloc peak of one more run (what the call itself allocated; tracing slows
it down and adds its own bookkeeping, hence a separate, untimed run).

    .venv/bin/python -m benchmarks.reconcile [--transactions 100000] [--seed 1] [--rounds 2]
"""

from __future__ import annotations

import os

for _var in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS", "NUMEXPR_NUM_THREADS"):
    os.environ[_var] = "1"

import argparse  # noqa: E402
import gc  # noqa: E402
import resource  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
import tracemalloc  # noqa: E402
from collections.abc import Sequence  # noqa: E402
from datetime import date  # noqa: E402

from benchmarks.bank_data import generate  # noqa: E402
from coffre.tasks.bank_types import DocumentView, Proposal, TransactionView  # noqa: E402
from coffre.tasks.reconcile_engine import ReconcileSettings, reconcile  # noqa: E402

Pair = tuple[str, str]


def naive_greedy(
    transactions: Sequence[TransactionView],
    documents: Sequence[DocumentView],
    window: tuple[int, int],
) -> set[Pair]:
    """First come, first served: exact amount, same currency and sign, in the window."""
    before, after = window
    by_key: dict[tuple[str, int], list[DocumentView]] = {}
    for doc in documents:
        key = (doc.currency, doc.expected_sign * doc.open_cents)
        by_key.setdefault(key, []).append(doc)
    for docs in by_key.values():
        docs.sort(key=lambda d: (d.due_date or d.issue_date or date.min, d.id))
    used: set[str] = set()
    pairs: set[Pair] = set()
    for tx in sorted(transactions, key=lambda t: (t.booking_date, t.id)):
        for doc in by_key.get((tx.currency, tx.amount_cents), ()):
            anchor = doc.due_date or doc.issue_date
            if doc.id in used or anchor is None:
                continue
            delta = (tx.booking_date - anchor).days
            if -before <= delta <= after:
                used.add(doc.id)
                pairs.add((tx.id, doc.id))
                break
    return pairs


def pairs_of(proposals: list[Proposal]) -> tuple[set[Pair], set[Pair]]:
    """(automatic pairs, automatic + top-1 suggestion pairs)."""
    automatic: set[Pair] = set()
    first: dict[str, Proposal] = {}
    for proposal in proposals:
        tx_id = proposal.allocations[0].transaction_id
        first.setdefault(tx_id, proposal)
        if proposal.automatic:
            automatic.update((a.transaction_id, a.document_id) for a in proposal.allocations)
    top = {(a.transaction_id, a.document_id) for p in first.values() for a in p.allocations}
    return automatic, automatic | top


def precision_recall(found: set[Pair], truth: set[Pair]) -> tuple[float, float]:
    right = len(found & truth)
    return right / max(len(found), 1), right / max(len(truth), 1)


def percent(value: float) -> str:
    return f"{100 * value:6.2f} %"


def check(ok: bool) -> str:
    return "ok" if ok else "MISSED"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--transactions", type=int, default=100_000)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--rounds", type=int, default=2)
    args = parser.parse_args(argv)

    if hasattr(os, "sched_setaffinity"):
        cpu = max(os.sched_getaffinity(0))
        os.sched_setaffinity(0, {cpu})
        pinned = f"pinned to CPU {cpu}"
    else:
        pinned = "not pinned (no sched_setaffinity)"
    print(f"one core: OMP/OPENBLAS/MKL/NUMEXPR_NUM_THREADS=1, process {pinned}")

    start = time.perf_counter()
    transactions, documents, truth_map = generate(args.transactions, args.seed)
    truth = {(t, d) for t, docs in truth_map.items() for d in docs}
    print(
        f"data: {len(transactions):,} transactions, {len(documents):,} open documents, "
        f"{len(truth):,} true pairs, {sum(1 for v in truth_map.values() if not v):,} "
        f"transactions paying nothing (generated in {time.perf_counter() - start:.1f} s, "
        f"seed {args.seed})"
    )
    settings = ReconcileSettings()
    print(f"settings: {settings}")

    data_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    gc.collect()
    start = time.perf_counter()
    baseline = naive_greedy(transactions, documents, settings.date_window_days)
    baseline_time = time.perf_counter() - start

    times = []
    proposals: list[Proposal] = []
    for _ in range(max(1, args.rounds)):
        proposals = []
        gc.collect()
        start = time.perf_counter()
        proposals = reconcile(transactions, documents, settings=settings)
        times.append(time.perf_counter() - start)
    elapsed = min(times)
    rss_before_traced = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    del proposals
    gc.collect()
    tracemalloc.start()
    proposals = reconcile(transactions, documents, settings=settings)
    _, traced_peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    traced_rss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    unit = 1 if sys.platform == "darwin" else 1024  # ru_maxrss: bytes on macOS, else KiB
    max_rss_bytes, data_rss_bytes = rss_before_traced * unit, data_rss * unit
    traced_rss_bytes = traced_rss * unit

    automatic, with_top = pairs_of(proposals)
    auto_p, auto_r = precision_recall(automatic, truth)
    top_p, top_r = precision_recall(with_top, truth)
    base_p, base_r = precision_recall(baseline, truth)
    n_auto = sum(p.automatic for p in proposals)
    suggested_txs = {p.allocations[0].transaction_id for p in proposals if not p.automatic}
    grouped = sum(len(p.allocations) > 1 for p in proposals)
    partial = sum("paiement partiel" in p.explanation for p in proposals)

    print()
    print(f"{'':34s}{'naive greedy':>16s}{'Coffre':>16s}   goal")
    print(
        f"{'time (s)':34s}{baseline_time:16.2f}{elapsed:16.2f}   ≤ 10 s on one core: "
        f"{check(elapsed <= 10 or args.transactions < 100_000)}"
    )
    print(f"{'  all rounds (s)':34s}{'':16s}{', '.join(f'{t:.2f}' for t in times):>16s}")
    print(f"{'automatic pairs':34s}{len(baseline):16,d}{len(automatic):16,d}")
    print(
        f"{'automatic precision':34s}{percent(base_p):>16s}{percent(auto_p):>16s}   "
        f"≥ 99.5 %: {check(auto_p >= 0.995)}"
    )
    print(f"{'automatic recall':34s}{percent(base_r):>16s}{percent(auto_r):>16s}")
    print(f"{'automatic + top-1 pairs':34s}{'':16s}{len(with_top):16,d}")
    print(f"{'automatic + top-1 precision':34s}{'':16s}{percent(top_p):>16s}")
    print(
        f"{'automatic + top-1 recall':34s}{percent(base_r):>16s}{percent(top_r):>16s}   "
        f"≥ 90 %: {check(top_r >= 0.90)}"
    )
    print()
    print(
        f"proposals: {len(proposals):,} ({n_auto:,} automatic, suggestions for "
        f"{len(suggested_txs):,} transactions, {grouped:,} grouped, {partial:,} partial)"
    )
    print(
        f"memory: process peak RSS {max_rss_bytes / 2**20:,.0f} MiB over the timed runs, of "
        f"which {data_rss_bytes / 2**20:,.0f} MiB before reconciling (generated data)   "
        f"≤ 2 GB: {check(max_rss_bytes <= 2 * 2**30)}"
    )
    print(
        f"        tracemalloc peak of one reconcile() {traced_peak / 2**20:,.0f} MiB (process "
        f"peak RSS {traced_rss_bytes / 2**20:,.0f} MiB with tracemalloc's own bookkeeping)"
    )
    print(
        f"against the naive matcher: time ×{elapsed / max(baseline_time, 1e-9):.1f}, automatic "
        f"precision {100 * (auto_p - base_p):+.2f} points, automatic recall "
        f"{100 * (auto_r - base_r):+.2f} points, automatic + top-1 recall "
        f"{100 * (top_r - base_r):+.2f} points"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
