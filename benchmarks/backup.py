"""Nightly backup cost: a first backup, a second after 1 % new documents, against bare restic.

Builds an embedded Coffre with `--documents` documents (an original and an archive copy
each, `--kib` KiB of incompressible bytes apiece, encrypted in the vault as usual:
about 500 MB for the defaults), then, in one run and for two scenarios:

- Coffre, first night: stage (SQLite dump + manifest + key store, age-encrypted; every
  object hashed once) and back up to three restic repositories (local folders), each
  with retention and prune as every night; per-repository time and bytes added;
- Coffre, second night after `--new-percent` % new documents: same, incremental;
- baseline: a bare `restic backup` of the same folders (objects + staged files) into a
  fresh repository, default options — what an operator would run by hand.

Repositories are created before the clock starts, Coffre's as the baseline's (`restic
init` calibrates its key derivation and makes its folders: a one-off, about 3 s).

Scenarios: the repositories on the local disk with no limit, where restic's fixed cost
per command (its key derivation, about 0.5 s, paid by every command) dominates; and
the same with `--limit-upload` set to a `--uplink-mbit` link (default 100 Mbit/s) for
Coffre and the baseline alike, as with remote providers.

Goals: second night ≤ 10 % of the first; Coffre per repository ≤ 1.3× bare restic,
where Coffre's per-repository cost counts its staging share (staging time / 3).
The flows' Prefect orchestration is not timed (a fixed few seconds a night); the work
they run is.

    .venv/bin/python -m benchmarks.backup [--documents 2000] [--kib 125] [--new-percent 1]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import tempfile
import time
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

WORK = Path(tempfile.gettempdir()) / "coffre-bench-backup"
REPOSITORIES = ("ovh-rbx", "eu-de", "eu-nl")


@dataclass
class Night:
    stage_seconds: float
    repository_seconds: dict[str, float]
    bytes_added: dict[str, int]
    new_objects: int

    @property
    def total(self) -> float:
        return self.stage_seconds + sum(self.repository_seconds.values())

    def per_repository(self) -> float:
        """Staging is shared by the three repositories: count a third of it for each."""
        return self.stage_seconds / len(self.repository_seconds) + (
            sum(self.repository_seconds.values()) / len(self.repository_seconds)
        )


def _environment(home: Path) -> None:
    os.environ["COFFRE_HOME"] = str(home)
    os.environ["PREFECT_HOME"] = str(home / "prefect")
    os.environ.pop("COFFRE_DATABASE_URL", None)


def _add_documents(org_id: str, count: int, kib: int, start: int) -> None:
    from coffre.models import Document, session_scope
    from coffre.models.document import DocumentKind, DocumentSource, DocumentStatus
    from coffre.runtime import get_vault

    vault = get_vault()
    with session_scope() as session:
        for number in range(start, start + count):
            original = vault.put(org_id, b"%PDF-1.7\n" + os.urandom(kib * 1024))
            archive = vault.put(org_id, b"%PDF-1.7\n%archive\n" + os.urandom(kib * 1024))
            session.add(
                Document(
                    org_id=org_id,
                    kind=DocumentKind.RECEIPT,
                    source=DocumentSource.UPLOAD,
                    filename=f"ticket-{number:05d}.pdf",
                    original_sha256=original.sha256,
                    original_size=original.size,
                    media_type="application/pdf",
                    original_key=original.key,
                    archive_key=archive.key,
                    archive_sha256=archive.sha256,
                    status=DocumentStatus.NORMALIZED,
                )
            )


def _night(repositories: list[Any], at: datetime) -> Night:
    from coffre.settings import get_settings
    from coffre.tasks.backup_run import back_up_tonight, stage_tonight

    settings = get_settings()
    started = time.perf_counter()
    staged = stage_tonight(settings)
    stage_seconds = time.perf_counter() - started
    seconds, added = {}, {}
    for repository in repositories:
        started = time.perf_counter()
        outcome = back_up_tonight(repository, staged, settings, at=at, run_check=False)
        seconds[repository.name] = time.perf_counter() - started
        if not outcome.ok:
            raise SystemExit(f"backup to {repository.name} failed: {outcome.error}")
        added[repository.name] = outcome.bytes_added
    return Night(stage_seconds, seconds, added, staged.new_objects)


def _bare_restic(
    paths: list[Path], repository: Path, password: Path, limit_kib: int | None
) -> tuple[float, int]:
    base = ["restic", "--repo", str(repository), "--password-file", str(password)]
    base += ["--cache-dir", str(repository.parent / "bare-cache")]
    if limit_kib:
        base += ["--limit-upload", str(limit_kib)]
    subprocess.run([*base, "init"], check=True, capture_output=True)
    started = time.perf_counter()
    completed = subprocess.run(
        [*base, "backup", "--json", *map(str, paths)], check=True, capture_output=True, text=True
    )
    elapsed = time.perf_counter() - started
    summary = [line for line in completed.stdout.splitlines() if '"summary"' in line][-1]
    return elapsed, int(json.loads(summary)["data_added"])


@dataclass
class Scenario:
    label: str
    first: Night
    second: Night
    bare_seconds: float
    bare_bytes: int
    new_documents: int


def _scenario(label: str, documents: int, kib: int, new_percent: float, limit_kib: int | None):
    """A fresh instance, its first and second nights, and bare restic on the same data."""
    work = WORK / ("uplink" if limit_kib else "local")
    home = work / "home"
    _environment(home)
    from coffre.bootstrap import prepare_home
    from coffre.models import Organization, session_scope
    from coffre.runtime import reset_runtime
    from coffre.settings import get_settings
    from coffre.tasks.restic import ResticRepository

    reset_runtime()
    prepare_home()
    org = Organization(name="Boulangerie Martin", siren="732829320")
    with session_scope() as session:
        session.add(org)
    _add_documents(org.id, documents, kib, 0)
    settings = get_settings()
    password = work / "restic.pass"
    password.write_text("benchmark-password\n")
    repositories = [
        ResticRepository(
            name,
            str(work / "repos" / name),
            "benchmark-password",
            host="coffre",
            limit_upload_kib=limit_kib,
        )
        for name in REPOSITORIES
    ]
    from coffre.tasks.restic import Restic

    for repository in repositories:  # created beforehand, like the baseline's: a one-off
        Restic(repository).init()
    today = datetime.now().astimezone()
    first = _night(repositories, today - timedelta(days=1))
    staging = settings.backup_path / "staging"
    bare_seconds, bare_bytes = _bare_restic(
        [staging / "data", settings.objects_path], work / "bare", password, limit_kib
    )
    new = max(1, round(documents * new_percent / 100))
    _add_documents(org.id, new, kib, documents)
    second = _night(repositories, today)
    return Scenario(label, first, second, bare_seconds, bare_bytes, new)


def _show(scenario: Scenario) -> None:
    def night(label: str, figures: Night) -> None:
        print(f"  {label}: {figures.total:.2f} s in all (staging {figures.stage_seconds:.2f} s)")
        for name in REPOSITORIES:
            print(
                f"    {name:8s} {figures.repository_seconds[name]:6.2f} s  "
                f"{figures.bytes_added[name] / 1e6:8.2f} MB sent"
            )

    print(f"== {scenario.label}")
    night("Coffre, first night", scenario.first)
    night(
        f"Coffre, second night (+{scenario.new_documents} documents, "
        f"{scenario.second.new_objects} new objects)",
        scenario.second,
    )
    print(
        f"  bare restic backup of the same data, one repository: {scenario.bare_seconds:.2f} s, "
        f"{scenario.bare_bytes / 1e6:.2f} MB"
    )
    ratio = scenario.second.total / scenario.first.total
    print(f"  ratio second / first night: {ratio:.3f}  (goal ≤ 0.10)")
    per_repository = scenario.first.per_repository()
    print(
        f"  ratio Coffre per repository / bare restic: {per_repository / scenario.bare_seconds:.2f}"
        f"  (goal ≤ 1.3; Coffre {per_repository:.2f} s = staging/3 + one repository)"
    )


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--documents", type=int, default=2000)
    parser.add_argument("--kib", type=int, default=125, help="size of each object, in KiB")
    parser.add_argument("--new-percent", type=float, default=1.0)
    parser.add_argument(
        "--uplink-mbit",
        type=float,
        default=100,
        help="upload limit of the second scenario (restic --limit-upload), Mbit/s",
    )
    args = parser.parse_args()

    shutil.rmtree(WORK, ignore_errors=True)
    objects = args.documents * 2 * args.kib * 1024
    print(f"{args.documents} documents, about {objects / 1e6:.0f} MB of objects, in {WORK}")
    limit_kib = int(args.uplink_mbit * 1e6 / 8 / 1024)
    for label, limit in (
        ("local disk, no limit (restic's fixed cost per command weighs most)", None),
        (f"a {args.uplink_mbit:g} Mbit/s uplink to each provider", limit_kib),
    ):
        _show(_scenario(label, args.documents, args.kib, args.new_percent, limit))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
