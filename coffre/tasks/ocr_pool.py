"""Warm ocrmypdf converters (ocr_converter.py) shared by a worker's threads.

A thread takes an idle converter or starts one, sends one file, and waits for the reply
up to the conversion timeout. A converter that overruns is killed with everything it
started (Tesseract, Ghostscript); one that dies answers as the command would have (a
negative exit code); one that has converted ``max_jobs`` files or grown past
``max_resident`` is retired; one left idle for ``idle_seconds`` is closed.
"""

from __future__ import annotations

import atexit
import contextlib
import json
import os
import select
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

MAX_JOBS = 200
MAX_RESIDENT = 1 << 30
IDLE_SECONDS = 300.0


def ocr_environment() -> dict[str, str]:
    env = dict(os.environ)
    env["OMP_THREAD_LIMIT"] = "1"  # one Tesseract thread per job; parallelism is ours
    return env


@dataclass(frozen=True)
class ConversionRequest:
    source: Path
    target: Path
    languages: str
    sidecar: Path | None = None

    def line(self) -> bytes:
        request = {
            "source": str(self.source),
            "target": str(self.target),
            "languages": self.languages,
            "sidecar": str(self.sidecar) if self.sidecar else None,
        }
        return json.dumps(request).encode() + b"\n"


@dataclass(frozen=True)
class ConversionReply:
    exit_code: int
    detail: str
    resident: int = 0


def _describe(returncode: int) -> str:
    if returncode < 0:
        with contextlib.suppress(ValueError):
            return f"killed by {signal.Signals(-returncode).name}"
    return f"exit status {returncode}"


class _Converter:
    def __init__(self) -> None:
        self.process = subprocess.Popen(
            [sys.executable, "-m", "coffre.tasks.ocr_converter"],
            stdin=subprocess.PIPE,
            stdout=subprocess.PIPE,
            env=ocr_environment(),
            start_new_session=True,  # its own process group: a kill takes its children too
            bufsize=0,
        )
        self.jobs = 0
        self.idle_since = time.monotonic()
        self._pending = b""

    @property
    def pid(self) -> int:
        return self.process.pid

    def alive(self) -> bool:
        return self.process.poll() is None

    def send(self, request: ConversionRequest) -> None:
        assert self.process.stdin is not None
        self.process.stdin.write(request.line())
        self.process.stdin.flush()

    def reply(self, deadline: float) -> ConversionReply:
        """The reply to the request sent; TimeoutError past the deadline."""
        line = self._read_line(deadline)
        if line is None:
            code = self.process.wait()
            return ConversionReply(code or -1, f"the converter stopped ({_describe(code)})")
        answer = json.loads(line)
        return ConversionReply(int(answer["exit"]), str(answer["detail"]), int(answer["rss"]))

    def _read_line(self, deadline: float) -> bytes | None:
        assert self.process.stdout is not None
        descriptor = self.process.stdout.fileno()
        poller = select.poll()  # not select(): a busy worker's descriptors may pass 1024
        poller.register(descriptor, select.POLLIN)
        while b"\n" not in self._pending:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError
            if poller.poll(remaining * 1000):
                chunk = os.read(descriptor, 65536)
                if not chunk:
                    return None
                self._pending += chunk
        line, _, self._pending = self._pending.partition(b"\n")
        return line

    def kill(self) -> None:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait()
        self._close_pipes()

    def close(self, grace: float = 5.0) -> None:
        """End of input: the converter finishes and exits; killed if it does not."""
        with contextlib.suppress(OSError):
            assert self.process.stdin is not None
            self.process.stdin.close()
        try:
            self.process.wait(grace)
        except subprocess.TimeoutExpired:
            self.kill()
        self._close_pipes()

    def _close_pipes(self) -> None:
        for pipe in (self.process.stdin, self.process.stdout):
            with contextlib.suppress(OSError):
                if pipe is not None:
                    pipe.close()


class ConverterPool:
    def __init__(
        self,
        *,
        max_jobs: int = MAX_JOBS,
        max_resident: int = MAX_RESIDENT,
        idle_seconds: float = IDLE_SECONDS,
    ) -> None:
        self.max_jobs = max_jobs
        self.max_resident = max_resident
        self.idle_seconds = idle_seconds
        self._idle: list[_Converter] = []
        self._lock = threading.Lock()
        self._closed = threading.Event()
        self._reaper: threading.Thread | None = None

    def convert(self, request: ConversionRequest, timeout: float) -> ConversionReply:
        """Convert one file; raises TimeoutError after ``timeout`` seconds."""
        deadline = time.monotonic() + timeout
        converter = self._take()
        try:
            converter.send(request)
        except OSError:
            # It died while idle, before reading anything: the file goes to a fresh one.
            converter.kill()
            converter = _Converter()
            converter.send(request)
        try:
            reply = converter.reply(deadline)
        except BaseException:  # the timeout, or this thread interrupted: never reuse it
            converter.kill()
            raise
        converter.jobs += 1
        self._give_back(converter, reply)
        return reply

    def idle_pids(self) -> list[int]:
        with self._lock:
            return [converter.pid for converter in self._idle]

    def close_idle(self, idle_for: float = 0.0) -> None:
        """Close the converters nobody has used for ``idle_for`` seconds (all, by default)."""
        now = time.monotonic()
        with self._lock:
            stale = [c for c in self._idle if now - c.idle_since >= idle_for]
            self._idle = [c for c in self._idle if c not in stale]
        for converter in stale:
            converter.close()

    def shutdown(self) -> None:
        """At exit: close the idle converters, and any still busy as they come back."""
        self._closed.set()
        self.close_idle()

    def _take(self) -> _Converter:
        with self._lock:
            while self._idle:
                converter = self._idle.pop()
                if converter.alive():
                    return converter
                converter.kill()
            self._start_reaper()
        return _Converter()

    def _give_back(self, converter: _Converter, reply: ConversionReply) -> None:
        if not converter.alive():
            converter.kill()
            return
        if converter.jobs >= self.max_jobs or reply.resident > self.max_resident:
            converter.close()
            return
        converter.idle_since = time.monotonic()
        with self._lock:
            if not self._closed.is_set():
                self._idle.append(converter)
                return
        converter.close()

    def _start_reaper(self) -> None:
        if self._reaper is None:
            self._reaper = threading.Thread(target=self._reap_until_closed, daemon=True)
            self._reaper.start()

    def _reap_until_closed(self) -> None:
        while not self._closed.wait(min(30.0, self.idle_seconds)):
            self.close_idle(self.idle_seconds)


_shared: tuple[int, ConverterPool] | None = None
_shared_lock = threading.Lock()


def shared_pool() -> ConverterPool:
    """This process's pool (a forked child gets its own, never its parent's converters)."""
    global _shared
    with _shared_lock:
        if _shared is None or _shared[0] != os.getpid():
            pool = ConverterPool()
            atexit.register(pool.shutdown)
            _shared = (os.getpid(), pool)
        return _shared[1]
