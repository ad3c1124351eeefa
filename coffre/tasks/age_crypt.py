"""age encryption of backup files, through the age command line.

Backups are encrypted to the operators' public recipients: the machine that makes a
backup holds no key able to read it. Only the restore drill is given an identity.
Clear data only ever travels through pipes, never through a file.
"""

from __future__ import annotations

import os
import re
import subprocess
import tempfile
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import IO

AGE = os.environ.get("COFFRE_AGE_BINARY", "age")
AGE_KEYGEN = os.environ.get("COFFRE_AGE_KEYGEN_BINARY", "age-keygen")
_RECIPIENT = re.compile(r"^(age1[0-9a-z]{58}|ssh-(ed25519|rsa) \S+.*)$")


class AgeError(RuntimeError):
    """age failed or was given something that is not a recipient or an identity."""


def check_recipients(recipients: Sequence[str]) -> list[str]:
    cleaned = [value.strip() for value in recipients if value.strip()]
    if not cleaned:
        raise AgeError("no backup recipient is configured (COFFRE_BACKUP_RECIPIENTS)")
    for value in cleaned:
        if not _RECIPIENT.match(value):
            raise AgeError(f"not an age recipient: {value[:12]}…")
    return cleaned


def generate_identity(path: Path) -> str:
    """Write a new age identity (0600) and return its public recipient."""
    path.parent.mkdir(parents=True, exist_ok=True)
    completed = subprocess.run(
        [AGE_KEYGEN], capture_output=True, text=True, check=False, timeout=30
    )
    if completed.returncode != 0:
        raise AgeError(f"age-keygen failed: {completed.stderr.strip()}")
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "w") as handle:
        handle.write(completed.stdout)
    return recipient_of(completed.stdout)


def recipient_of(identity: str) -> str:
    for line in identity.splitlines():
        if line.startswith("# public key: "):
            return line.removeprefix("# public key: ").strip()
    completed = subprocess.run(
        [AGE_KEYGEN, "-y"], input=identity, capture_output=True, text=True, timeout=30
    )
    if completed.returncode != 0:
        raise AgeError("the backup identity is not an age identity")
    return completed.stdout.strip()


@contextmanager
def _private_file(content: str, suffix: str) -> Iterator[Path]:
    fd, name = tempfile.mkstemp(prefix="coffre-age-", suffix=suffix)
    try:
        with os.fdopen(fd, "w") as handle:
            handle.write(content)
        yield Path(name)
    finally:
        os.unlink(name)


@contextmanager
def encrypting_writer(recipients: Sequence[str], output: Path) -> Iterator[IO[bytes]]:
    """A pipe whose bytes land age-encrypted in ``output``; removed if anything fails."""
    with _private_file("\n".join(check_recipients(recipients)) + "\n", ".recipients") as rfile:
        process = subprocess.Popen(
            [AGE, "--encrypt", "--recipients-file", str(rfile), "--output", str(output)],
            stdin=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert process.stdin is not None and process.stderr is not None
        try:
            yield process.stdin
            process.stdin.close()
            error = process.stderr.read().decode(errors="replace").strip()
            if process.wait(timeout=600) != 0:
                raise AgeError(f"age could not encrypt {output.name}: {error}")
        except BaseException:
            process.kill()
            process.wait()
            output.unlink(missing_ok=True)
            raise


def encrypt_command_output(
    command: Sequence[str], recipients: Sequence[str], output: Path, env: dict[str, str]
) -> None:
    """Run ``command`` and age-encrypt what it prints, never holding the clear text on disk.

    Both exit statuses are checked: a dump that failed half-way leaves no file behind.
    """
    with _private_file("\n".join(check_recipients(recipients)) + "\n", ".recipients") as rfile:
        producer = subprocess.Popen(
            list(command), stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env
        )
        assert producer.stdout is not None and producer.stderr is not None
        encrypter = subprocess.Popen(
            [AGE, "--encrypt", "--recipients-file", str(rfile), "--output", str(output)],
            stdin=producer.stdout,
            stderr=subprocess.PIPE,
        )
        producer.stdout.close()  # age holds the read end; producer sees SIGPIPE if age dies
        producer_error = producer.stderr.read().decode(errors="replace").strip()
        producer_status = producer.wait()
        _, encrypter_error = encrypter.communicate(timeout=600)
    if producer_status != 0 or encrypter.returncode != 0:
        output.unlink(missing_ok=True)
        if producer_status != 0:
            raise AgeError(
                f"{Path(command[0]).name} failed (exit {producer_status}): {producer_error[-400:]}"
            )
        raise AgeError(f"age could not encrypt {output.name}: {encrypter_error.decode().strip()}")


def decrypt_to_bytes(path: Path, identity: str) -> bytes:
    """Decrypt a (small) backup file with the drill's identity."""
    with _private_file(identity, ".identity") as ifile:
        completed = subprocess.run(
            [AGE, "--decrypt", "--identity", str(ifile), str(path)],
            capture_output=True,
            check=False,
            timeout=600,
        )
    if completed.returncode != 0:
        raise AgeError(f"cannot decrypt {path.name}: {completed.stderr.decode().strip()}")
    return completed.stdout


def decrypt_into_command(
    path: Path, identity: str, command: Sequence[str], env: dict[str, str]
) -> None:
    """Stream the decrypted file into ``command``'s standard input (pg_restore)."""
    with _private_file(identity, ".identity") as ifile:
        decrypter = subprocess.Popen(
            [AGE, "--decrypt", "--identity", str(ifile), str(path)],
            stdout=subprocess.PIPE,
            stderr=subprocess.PIPE,
        )
        assert decrypter.stdout is not None and decrypter.stderr is not None
        consumer = subprocess.run(
            list(command), stdin=decrypter.stdout, capture_output=True, env=env, check=False
        )
        decrypter.stdout.close()
        decrypt_error = decrypter.stderr.read().decode(errors="replace").strip()
        decrypt_status = decrypter.wait()
    if decrypt_status != 0:
        raise AgeError(f"cannot decrypt {path.name}: {decrypt_error}")
    if consumer.returncode != 0:
        raise AgeError(
            f"{Path(command[0]).name} failed (exit {consumer.returncode}): "
            f"{consumer.stderr.decode(errors='replace').strip()[-400:]}"
        )
