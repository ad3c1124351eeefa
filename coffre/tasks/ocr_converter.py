"""A long-lived ocrmypdf process: one conversion per request, for as long as its parent lives.

Starting ocrmypdf costs about a second of CPU per file (the interpreter, some 900 modules,
its plugins and fonts), a quarter of what converting a photographed receipt costs. A
converter pays that once. Each file is still converted outside the worker, in a process
the pool (ocr_pool.py) kills on a timeout and retires when it has grown.

Protocol: one JSON request per line on stdin ({"source", "target", "sidecar", "languages"}),
one JSON reply per line on the original stdout ({"exit", "detail", "rss"}); ``exit`` is
the code the ``ocrmypdf`` command would have returned. End of stdin ends the process.
"""

from __future__ import annotations

import json
import logging
import os
import sys
from contextlib import suppress
from pathlib import Path
from typing import Any, TextIO

from coffre.tasks.ocr import conversion_options

_OTHER_ERROR = 15  # ocrmypdf's ExitCode.other_error


class _LastMessage(logging.Handler):
    """Keeps the last warning or error ocrmypdf logged during the current conversion."""

    def __init__(self) -> None:
        super().__init__(logging.WARNING)
        self.message = ""

    def emit(self, record: logging.LogRecord) -> None:
        with suppress(Exception):
            self.message = record.getMessage()


def _resident_bytes() -> int:
    with open("/proc/self/statm", encoding="ascii") as statm:
        return int(statm.read().split()[1]) * os.sysconf("SC_PAGE_SIZE")


def convert(request: dict[str, Any], last_message: _LastMessage) -> dict[str, Any]:
    """Run one conversion; never raises, the reply carries ocrmypdf's exit code."""
    import ocrmypdf
    from ocrmypdf.exceptions import ExitCodeException

    last_message.message = ""
    sidecar = Path(request["sidecar"]) if request.get("sidecar") else None
    try:
        code = int(
            ocrmypdf.ocr(
                Path(request["source"]),
                Path(request["target"]),
                **conversion_options(request["languages"], sidecar),
                progress_bar=False,
            )
        )
        detail = last_message.message if code else ""
    except ExitCodeException as error:
        code, detail = int(error.exit_code), str(error) or type(error).__name__
    except Exception as error:  # noqa: BLE001 - a file ocrmypdf did not foresee: say so, go on
        code, detail = _OTHER_ERROR, f"{type(error).__name__}: {error}"
    return {"exit": code, "detail": detail[-500:], "rss": _resident_bytes()}


def serve(requests: TextIO, replies: TextIO) -> None:
    last_message = _LastMessage()
    ocrmypdf_log = logging.getLogger("ocrmypdf")
    ocrmypdf_log.addHandler(last_message)
    ocrmypdf_log.setLevel(logging.WARNING)
    ocrmypdf_log.propagate = False  # nothing reaches stderr but a converter's own crash
    import ocrmypdf  # noqa: F401 - paid once, before the first file

    for line in requests:
        if line.strip():
            replies.write(json.dumps(convert(json.loads(line), last_message)) + "\n")
            replies.flush()


def main() -> None:
    # Replies get a private copy of stdout; any stray write from a library goes to stderr.
    replies = os.fdopen(os.dup(1), "w", encoding="utf-8")
    os.dup2(2, 1)
    with suppress(OSError):
        os.nice(5)  # as the ocrmypdf command does: the worker and the API come first
    serve(sys.stdin, replies)


if __name__ == "__main__":
    main()
