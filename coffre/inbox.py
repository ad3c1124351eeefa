"""The inbox: files dropped in COFFRE_HOME/inbox/<organisation>/ are captured.

The folder name is the organisation's SIREN or id. A captured file is removed from the
inbox (its original is in the vault); a file refused unread (over the size limit) is
moved to ``.refused/`` beside it so that nothing is lost.
"""

from __future__ import annotations

import logging
import shutil
import threading
import time
from collections.abc import Callable
from pathlib import Path

from watchfiles import Change, watch

log = logging.getLogger(__name__)

# Captures the files for the organisation; True when every file got an outcome.
CaptureFn = Callable[[str, list[str]], bool]
_SETTLE_SECONDS = 1.0
RESCAN_SECONDS = 30


def pending_files(inbox: Path) -> dict[str, list[Path]]:
    """Files waiting in each organisation's folder (hidden and partial files skipped)."""
    batches: dict[str, list[Path]] = {}
    if not inbox.is_dir():
        return batches
    for folder in sorted(p for p in inbox.iterdir() if p.is_dir() and not p.name.startswith(".")):
        files = [
            f
            for f in sorted(folder.iterdir())
            if f.is_file() and not f.name.startswith(".") and not f.name.endswith(".part")
        ]
        if files:
            batches[folder.name] = files
    return batches


def _settled(files: list[Path]) -> list[Path]:
    """Only files whose size no longer changes (a copy into the inbox may be in progress)."""
    sizes = {f: f.stat().st_size for f in files if f.exists()}
    time.sleep(_SETTLE_SECONDS)
    return [f for f, size in sizes.items() if f.exists() and f.stat().st_size == size]


def settle_files(folder: Path, files: list[Path], max_bytes: int) -> None:
    """Remove captured files; keep those too large to be stored in ``.refused/``."""
    for path in files:
        if not path.exists():
            continue
        if path.stat().st_size > max_bytes:
            refused = folder / ".refused"
            refused.mkdir(exist_ok=True)
            shutil.move(str(path), refused / path.name)
        else:
            path.unlink()


def process_once(inbox: Path, capture: CaptureFn, max_bytes: int) -> int:
    """Capture what is waiting now; returns the number of files handed to capture."""
    handed = 0
    for org_ref, files in pending_files(inbox).items():
        ready = _settled(files)
        if not ready:
            continue
        try:
            captured = capture(org_ref, [str(f) for f in ready])
        except Exception:  # keep watching; the files stay in the inbox for the next pass
            log.exception("capture of %d inbox files for %s failed", len(ready), org_ref)
            continue
        if captured:
            settle_files(inbox / org_ref, ready, max_bytes)
        handed += len(ready)
    return handed


def watch_inbox(inbox: Path, capture: CaptureFn, stop: threading.Event, max_bytes: int) -> None:
    """Capture what is there, then whatever arrives, until ``stop`` is set."""
    inbox.mkdir(parents=True, exist_ok=True)
    process_once(inbox, capture, max_bytes)
    # An empty batch of changes every RESCAN_SECONDS retries files a failed run left behind.
    for changes in watch(
        inbox,
        stop_event=stop,
        recursive=True,
        debounce=800,
        rust_timeout=RESCAN_SECONDS * 1000,
        yield_on_timeout=True,
    ):
        if not changes or any(change != Change.deleted for change, _ in changes):
            process_once(inbox, capture, max_bytes)
