"""Running one subflow per connection, as the scheduled sweeps do."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from prefect import Flow


def run_for_each(
    subflow: Flow[Any, Any], connections: Iterable[tuple[str, str]], what: str
) -> dict[str, str]:
    """Run `subflow(org_id, connection_id)` for each connection, one after the other.

    A connection that fails does not stop the others; the sweep fails at the end if any
    did, naming them, so that the dashboard shows it. Returns each run's state name.
    """
    results: dict[str, str] = {}
    for org_id, connection_id in connections:
        state: Any = subflow(org_id, connection_id, return_state=True)
        results[connection_id] = state.name or str(state.type)
    failed = [cid for cid, name in results.items() if name != "Completed"]
    if failed:
        raise RuntimeError(f"{len(failed)} {what}(s) failed: {', '.join(failed)}")
    return results
