"""Writing a small file (a key, a certificate, a configuration) so that readers never see
half of it, and a key is never readable by others, not even for an instant."""

from __future__ import annotations

import contextlib
import os
import secrets
from pathlib import Path


def write_file_atomic(path: Path, data: bytes, mode: int = 0o644) -> None:
    """Write ``data`` to ``path`` through a temporary file of the same folder + rename.

    The temporary file is created with ``mode`` from the start (no window where a key is
    world-readable) and flushed to disk before the rename.
    """
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp, mode)  # the umask may have removed bits from O_CREAT's mode
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        raise
