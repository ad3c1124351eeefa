"""How many times a key (an account, a client address) did something in the last minutes.

Counted in this process: one portal process per host (several would share a
Redis-backed counter).
"""

from __future__ import annotations

import threading
import time
from collections import defaultdict, deque
from collections.abc import Callable


def minutes_to_say(wait: float) -> int:
    """A wait in seconds as the whole minutes a person is told to wait (never 0)."""
    return int(wait // 60) + 1


class SlidingWindow:
    """Event times per key, forgotten once older than the window they are asked about."""

    def __init__(self, clock: Callable[[], float] = time.monotonic) -> None:
        self._clock = clock
        self._events: dict[str, deque[float]] = defaultdict(deque)
        self._lock = threading.Lock()

    def wait(self, key: str, limit: int, window: float) -> float:
        """Seconds until ``key`` is under ``limit`` events in ``window`` seconds (0: now)."""
        now = self._clock()
        with self._lock:
            events = self._events.get(key)
            if events is None:
                return 0.0
            while events and events[0] < now - window:
                events.popleft()
            if not events:
                del self._events[key]
                return 0.0
            if len(events) < limit:
                return 0.0
            return events[-limit] + window - now

    def record(self, key: str) -> None:
        with self._lock:
            self._events[key].append(self._clock())

    def forget(self, key: str) -> None:
        with self._lock:
            self._events.pop(key, None)
