"""The restic command line, for one repository at a time.

Written for restic 0.14 (Debian bookworm): the password always comes from a private
password file (so that ``--stdin`` and prompts never read it from a pipe), output is
parsed from ``--json``, and exit codes are only 0 (done), 3 (some files unreadable,
snapshot written) and 1 (anything else). Secrets never reach the logs: error messages
keep restic's stderr with the password and credentials scrubbed.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

RESTIC = os.environ.get("COFFRE_RESTIC_BINARY", "restic")
_LOCKED = re.compile(r"repository is already locked|unable to create lock", re.IGNORECASE)
# Only a definite "nothing there": an unreachable provider must not look like a new one.
_NOT_A_REPOSITORY = re.compile(
    r"unable to open config file.*(no such file|does not exist|NoSuchKey|NoSuchBucket|not found)",
    re.IGNORECASE,
)


class ResticError(RuntimeError):
    """restic failed; the message is safe to show and to log."""

    def __init__(self, repository: str, action: str, detail: str, exit_code: int | None) -> None:
        super().__init__(f"restic {action} on {repository} failed: {detail}")
        self.repository = repository
        self.action = action
        self.detail = detail
        self.exit_code = exit_code

    @property
    def locked(self) -> bool:
        return bool(_LOCKED.search(self.detail))

    @property
    def missing_repository(self) -> bool:
        return bool(_NOT_A_REPOSITORY.search(self.detail))


@dataclass(frozen=True)
class ResticRepository:
    """Where one copy of the backups lives, and what it takes to reach it."""

    name: str
    url: str
    password: str = field(repr=False)
    env: Mapping[str, str] = field(default_factory=dict, repr=False)
    cacert: Path | None = None
    timeout_seconds: float = 3600
    host: str = "coffre"
    limit_upload_kib: int | None = None  # restic --limit-upload, to spare a shared uplink

    def secrets(self) -> list[str]:
        return [value for value in (self.password, *self.env.values()) if len(value) >= 4]


@dataclass(frozen=True)
class BackupSummary:
    snapshot_id: str
    data_added: int
    bytes_processed: int
    files_new: int
    files_changed: int
    files_unmodified: int
    duration_seconds: float


@dataclass(frozen=True)
class Snapshot:
    id: str
    time: datetime
    tags: tuple[str, ...]
    paths: tuple[str, ...]
    hostname: str


@dataclass(frozen=True)
class RetentionPolicy:
    daily: int = 0
    weekly: int = 0
    monthly: int = 0
    yearly: int = 0
    within_days: int = 0

    def arguments(self) -> list[str]:
        args = ["--keep-last", "1"]  # whatever the policy, the newest snapshot stays
        for flag, value in (
            ("--keep-daily", self.daily),
            ("--keep-weekly", self.weekly),
            ("--keep-monthly", self.monthly),
            ("--keep-yearly", self.yearly),
        ):
            if value:
                args += [flag, str(value)]
        if self.within_days:
            args += ["--keep-within", f"{self.within_days}d"]
        return args


class Restic:
    """Runs restic against one repository."""

    def __init__(self, repository: ResticRepository, cache_dir: Path | None = None) -> None:
        self.repository = repository
        self.cache_dir = cache_dir

    # -- plumbing -------------------------------------------------------------------

    @contextmanager
    def _password_file(self) -> Iterator[Path]:
        fd, name = tempfile.mkstemp(prefix="coffre-restic-", suffix=".pass")
        try:
            with os.fdopen(fd, "w") as handle:
                handle.write(self.repository.password)
            yield Path(name)
        finally:
            os.unlink(name)

    def _command(self, password_file: Path, args: Sequence[str]) -> list[str]:
        command = [RESTIC, "--repo", self.repository.url, "--password-file", str(password_file)]
        if self.repository.cacert:
            command += ["--cacert", str(self.repository.cacert)]
        if self.repository.limit_upload_kib:
            command += ["--limit-upload", str(self.repository.limit_upload_kib)]
        if self.cache_dir:
            command += ["--cache-dir", str(self.cache_dir)]
        else:
            command.append("--no-cache")
        return command + list(args)

    def _environment(self) -> dict[str, str]:
        keep = ("PATH", "HOME", "TMPDIR", "LANG", "LC_ALL", "TZ")
        env = {name: os.environ[name] for name in keep if name in os.environ}
        env.update(self.repository.env)
        return env

    def scrub(self, text: str) -> str:
        for secret in self.repository.secrets():
            text = text.replace(secret, "***")
        return text

    def run(
        self,
        action: str,
        args: Sequence[str],
        *,
        ok_codes: tuple[int, ...] = (0,),
        timeout: float | None = None,
    ) -> subprocess.CompletedProcess[str]:
        with self._password_file() as password_file:
            try:
                completed = subprocess.run(
                    self._command(password_file, args),
                    env=self._environment(),
                    stdin=subprocess.DEVNULL,
                    capture_output=True,
                    text=True,
                    timeout=timeout or self.repository.timeout_seconds,
                    check=False,
                )
            except subprocess.TimeoutExpired as error:
                raise ResticError(
                    self.repository.name,
                    action,
                    f"no answer within {error.timeout:.0f} s (repository unreachable?)",
                    None,
                ) from None
            except FileNotFoundError:
                raise ResticError(
                    self.repository.name, action, "the restic command is not installed", None
                ) from None
        if completed.returncode not in ok_codes:
            raise ResticError(
                self.repository.name,
                action,
                self._tail(completed.stderr) or f"exit status {completed.returncode}",
                completed.returncode,
            )
        return completed

    def _tail(self, stderr: str, lines: int = 6) -> str:
        kept = [line for line in stderr.strip().splitlines() if line.strip()][-lines:]
        return self.scrub(" | ".join(kept))

    # -- operations -----------------------------------------------------------------

    def init(self) -> None:
        self.run("init", ["init", "--repository-version", "2"])

    def unlock_stale(self) -> None:
        """Remove locks left by killed runs (restic only removes stale ones)."""
        self.run("unlock", ["unlock"])

    def backup(
        self,
        paths: Sequence[Path],
        *,
        tags: Sequence[str],
        at: datetime | None = None,
        extra: Sequence[str] = (),
    ) -> BackupSummary:
        args = ["backup", "--json", "--host", self.repository.host, *extra]
        for tag in tags:
            args += ["--tag", tag]
        if at is not None:
            args += ["--time", at.astimezone().strftime("%Y-%m-%d %H:%M:%S")]
        args += [str(path) for path in paths]
        completed = self.run("backup", args, ok_codes=(0,))
        summary = _last_message(completed.stdout, "summary")
        if summary is None or not summary.get("snapshot_id"):
            raise ResticError(self.repository.name, "backup", "no snapshot was written", 0)
        return BackupSummary(
            snapshot_id=str(summary["snapshot_id"]),
            data_added=int(summary.get("data_added", 0)),
            bytes_processed=int(summary.get("total_bytes_processed", 0)),
            files_new=int(summary.get("files_new", 0)),
            files_changed=int(summary.get("files_changed", 0)),
            files_unmodified=int(summary.get("files_unmodified", 0)),
            duration_seconds=float(summary.get("total_duration", 0.0)),
        )

    def snapshots(self, tag: str | None = None) -> list[Snapshot]:
        args = ["snapshots", "--json", "--host", self.repository.host]
        if tag:
            args += ["--tag", tag]
        completed = self.run("snapshots", args, timeout=min(300, self.repository.timeout_seconds))
        rows = json.loads(completed.stdout or "[]") or []
        snapshots = [
            Snapshot(
                id=str(row["id"]),
                time=datetime.fromisoformat(_trim_nanoseconds(row["time"])),
                tags=tuple(row.get("tags") or ()),
                paths=tuple(row.get("paths") or ()),
                hostname=str(row.get("hostname", "")),
            )
            for row in rows
        ]
        return sorted(snapshots, key=lambda snapshot: snapshot.time)

    def forget(self, tag: str, policy: RetentionPolicy) -> int:
        """Apply the retention policy to one tag's snapshots; return how many went."""
        args = ["forget", "--json", "--host", self.repository.host, "--tag", tag]
        completed = self.run("forget", args + policy.arguments())
        groups = json.loads(completed.stdout or "[]") or []
        return sum(len(group.get("remove") or []) for group in groups)

    def prune(self) -> None:
        self.run("prune", ["prune"])

    def check(self, read_data_subset: str | None = None) -> None:
        args = ["check"]
        if read_data_subset:
            args.append(f"--read-data-subset={read_data_subset}")
        self.run("check", args)

    def restore(self, snapshot_id: str, target: Path) -> None:
        self.run("restore", ["restore", snapshot_id, "--target", str(target)])


def _last_message(stdout: str, message_type: str) -> dict[str, Any] | None:
    found: dict[str, Any] | None = None
    for line in stdout.splitlines():
        line = line.strip()
        if not line.startswith("{"):
            continue
        try:
            message = json.loads(line)
        except json.JSONDecodeError:
            continue
        if isinstance(message, dict) and message.get("message_type") == message_type:
            found = message
    return found


def _trim_nanoseconds(value: str) -> str:
    """restic prints nanoseconds; Python parses at most microseconds."""
    return re.sub(r"(\.\d{6})\d+", r"\1", value)
