"""A real, private Dovecot IMAP server for tests.

Each ``Dovecot`` instance writes its own ``dovecot.conf`` under a base directory (a pytest
tmp dir), with its own run directory, log file, TLS certificate, passwd-file users and
Maildir storage, and listens on loopback on two free ports: ``imap_port`` (plain IMAP that
offers STARTTLS) and ``imaps_port`` (implicit TLS). Nothing of the system's Dovecot
(``/etc/dovecot``, ``/run/dovecot``, the systemd service) is used, so instances can run side
by side and alongside a system server.

Two loopback addresses are served, because Dovecot treats a connection whose remote and
local IPs are equal as "secured" and then accepts a plaintext LOGIN before STARTTLS:

- ``host`` (127.0.0.1): the usual address; plaintext LOGIN works even without TLS;
- ``strict_host`` (127.0.0.2): the kernel connects from 127.0.0.1, so Dovecot sees a
  remote client and behaves like a production server: ``LOGINDISABLED`` and
  ``PRIVACYREQUIRED`` until STARTTLS.

The certificate is issued by a throw-away CA (``ca_path``) for ``localhost``, 127.0.0.1
and 127.0.0.2; ``ssl_context()`` trusts it.

Running as root (the CI containers) takes a few settings: Dovecot refuses to serve mail
as root and to run login processes as root, and pytest's tmp dirs are 0700 root, so
the mail processes (uid ``dovecot``) are chrooted into ``<base>/mail`` (``mail_chroot``)
before they drop privileges; the internal services run as root so that they can read the
passwd-file under the tmp dir; login processes run as ``dovenull`` in Dovecot's own
chroot. As an ordinary user every process runs as that user, without chroots.

Also for speed: no auth penalty (a failed login would otherwise delay every later login
from 127.0.0.1 by seconds), no fsync, and a fresh process group per server so that
``stop()`` ends it at once.

Messages can be put in place two ways: ``deliver()`` writes straight into the Maildir
(thousands per second; Dovecot indexes them when the folder is next opened) and
``append()`` uses IMAP APPEND. ``doveadm()`` runs Dovecot's admin tool on the same
configuration (no server connection needed), e.g. by ``set_uidvalidity()``.

Fixtures (plain functions, wired in a conftest, e.g.
``dovecot_server = pytest.fixture(scope="session")(tests.dovecot.dovecot_server)``):
``dovecot_server(tmp_path_factory)`` (one server, share it with ``add_user()``) and
``dovecot(tmp_path)`` (a fresh server: start and stop take about 0.1 s together).
"""

from __future__ import annotations

import contextlib
import datetime as dt
import grp
import itertools
import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import ssl
import subprocess
import tempfile
import time
import uuid
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Literal

from tests.tls import write_server_certificates

if TYPE_CHECKING:
    import pytest
    from imapclient import IMAPClient

HOST = "127.0.0.1"
STRICT_HOST = "127.0.0.2"
DEBIAN_PACKAGE = "dovecot-imapd"
SPECIAL_USE = {"Sent": "\\Sent", "Drafts": "\\Drafts"}

# Maildir info letters of the IMAP system flags (\Recent is session state, not stored).
_FLAG_LETTERS = {
    "\\draft": "D",
    "\\flagged": "F",
    "\\answered": "R",
    "\\seen": "S",
    "\\deleted": "T",
}
_USERNAME = re.compile(r"^[a-z0-9][a-z0-9._+@-]*$")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+@-]+$")
# Dovecot's socket names under base_dir go up to ~25 characters; sun_path holds 107.
_MAX_RUN_DIR = 75


@dataclass(frozen=True)
class ImapAccount:
    """One login of the server's passwd-file."""

    user: str
    password: str = field(repr=False)


def _flag_text(flag: str | bytes) -> str:
    return flag.decode("ascii") if isinstance(flag, bytes) else flag


def _free_port() -> int:
    """A TCP port free on both loopback addresses (the server listens on both)."""
    for _ in range(50):
        with socket.socket() as probe:
            probe.bind((HOST, 0))
            port = probe.getsockname()[1]
            with socket.socket() as other:
                try:
                    other.bind((STRICT_HOST, port))
                except OSError:
                    continue
        return port
    raise RuntimeError("no TCP port free on both 127.0.0.1 and 127.0.0.2")


def _write_certificates(directory: Path) -> tuple[Path, Path, Path]:
    """A throw-away CA and a server certificate for localhost, 127.0.0.1 and 127.0.0.2."""
    return write_server_certificates(
        directory, "Coffre test IMAP CA", [HOST, "localhost", STRICT_HOST], dt.timedelta(days=7)
    )


class Dovecot:
    """A private Dovecot serving IMAP (STARTTLS) and IMAPS on loopback; a context manager."""

    def __init__(
        self,
        base_dir: Path,
        users: Mapping[str, str] | None = None,
        *,
        startup_timeout: float = 15.0,
    ) -> None:
        self.base_dir = Path(base_dir).resolve()
        if not _SAFE_PATH.match(str(self.base_dir)):
            raise ValueError(f"unsupported characters in base_dir for dovecot.conf: {base_dir}")
        self.startup_timeout = startup_timeout
        self.instance_name = f"coffre-{uuid.uuid4().hex[:8]}"
        self.conf_path = self.base_dir / "dovecot.conf"
        self.log_path = self.base_dir / "dovecot.log"
        self.passwd_dir = self.base_dir / "passwd"
        self.mail_root = self.base_dir / "mail"
        self.state_dir = self.base_dir / "state"
        self.ca_path = self.base_dir / "tls" / "ca.pem"
        self.cert_path = self.base_dir / "tls" / "server.pem"
        self.key_path = self.base_dir / "tls" / "server.key"
        self.host = HOST
        self.strict_host = STRICT_HOST
        self.imap_port = 0
        self.imaps_port = 0
        self.process: subprocess.Popen[bytes] | None = None
        self._run_dir: Path | None = None
        self._own_run_dir = False
        self._accounts: dict[str, ImapAccount] = {}
        self._clock_us = 0
        self._sequence = itertools.count()
        self._as_root = os.geteuid() == 0
        mail_user = pwd.getpwnam("dovecot") if self._as_root else pwd.getpwuid(os.geteuid())
        self._mail_uid, self._mail_gid = mail_user.pw_uid, mail_user.pw_gid
        self._self_user = pwd.getpwuid(os.geteuid()).pw_name
        self._self_group = grp.getgrgid(os.getegid()).gr_name
        for name, password in (users or {"coffre@example.test": "coffre-imap-secret"}).items():
            self._register(ImapAccount(name, password))

    # -- accounts -----------------------------------------------------------------------

    @property
    def accounts(self) -> list[ImapAccount]:
        return list(self._accounts.values())

    @property
    def user(self) -> str:
        """The first account's login, for tests that need just one."""
        return self.accounts[0].user

    @property
    def password(self) -> str:
        return self.accounts[0].password

    def account(self, user: str | None = None) -> ImapAccount:
        return self._accounts[user or self.user]

    def add_user(self, user: str | None = None, password: str | None = None) -> ImapAccount:
        """A new login with empty mailboxes, also while the server runs."""
        account = ImapAccount(
            user or f"user-{uuid.uuid4().hex[:10]}@example.test",
            password or secrets.token_urlsafe(12),
        )
        self._register(account)
        if self.passwd_dir.is_dir():
            self._write_user(account)
        return account

    def _register(self, account: ImapAccount) -> None:
        if not _USERNAME.match(account.user):
            raise ValueError(f"user must be lowercase, no ':' or '/': {account.user!r}")
        if any(c in account.password for c in ":\n\r\t ") or not account.password:
            raise ValueError("password must be non-empty, without ':' or whitespace")
        if account.user in self._accounts:
            raise ValueError(f"user {account.user!r} exists")
        self._accounts[account.user] = account

    def _write_user(self, account: ImapAccount) -> None:
        """One passwd-file per user (``passwd/%u``) with a plaintext password; uid/gid
        come from mail_uid/mail_gid, the home from mail_home. One file per user because
        Dovecot rereads a changed passwd-file at most once a second, but opens a file it
        has not seen yet at once: ``add_user()`` works on a running server, no reload."""
        tmp = self.passwd_dir / f".{account.user}.tmp"
        tmp.write_text(f"{account.user}:{{PLAIN}}{account.password}::::::\n")
        tmp.replace(self.passwd_dir / account.user)
        self._make_dir(self.user_dir(account.user))

    # -- paths ----------------------------------------------------------------------------

    @property
    def run_dir(self) -> Path:
        """Dovecot's base_dir (sockets, master.pid); under base_dir unless that path is
        too long for unix sockets, then a short directory in the system tmp dir."""
        if self._run_dir is None:
            candidate = self.base_dir / "run"
            if len(str(candidate)) <= _MAX_RUN_DIR:
                self._run_dir = candidate
            else:
                self._run_dir = Path(tempfile.mkdtemp(prefix="dovecot-run-"))
                self._own_run_dir = True
        return self._run_dir

    def user_dir(self, user: str) -> Path:
        """The user's home; inside the mail chroot when running as root."""
        return self.mail_root / user

    def maildir(self, user: str, folder: str = "INBOX") -> Path:
        """The Maildir++ directory of a folder ("a/b" is stored as ".a.b", names mUTF-7)."""
        from imapclient import imap_utf7

        root = self.user_dir(self.account(user).user) / "Maildir"
        if folder.upper() == "INBOX":
            return root
        if "." in folder or folder.startswith("/") or folder.endswith("/") or "//" in folder:
            raise ValueError(f"unsupported folder name for Maildir++: {folder!r}")
        return root / ("." + imap_utf7.encode(folder).decode("ascii").replace("/", "."))

    # -- configuration -------------------------------------------------------------------

    def _config(self) -> str:
        if self._as_root:
            identity = f"""\
# Dovecot refuses mail access and login processes as root: mail runs as "dovecot",
# chrooted into the mail root (pytest's tmp dirs are 0700 root), logins as "dovenull".
first_valid_uid = 0
first_valid_gid = 0
default_internal_user = root
default_internal_group = root
default_login_user = dovenull
mail_uid = dovecot
mail_gid = dovecot
mail_chroot = {self.mail_root}
valid_chroot_dirs = {self.mail_root}
mail_home = /%u
"""
        else:
            identity = f"""\
first_valid_uid = {os.geteuid()}
first_valid_gid = {os.getegid()}
default_internal_user = {self._self_user}
default_internal_group = {self._self_group}
default_login_user = {self._self_user}
mail_uid = {os.geteuid()}
mail_gid = {os.getegid()}
mail_home = {self.mail_root}/%u
"""
        listen = f"{HOST}, {STRICT_HOST}"
        # chroot(2) needs root: without it, no service may ask for one.
        anvil_chroot = "" if self._as_root else "  chroot =\n"
        login_chroot = "" if self._as_root else "  chroot =\n"
        return f"""\
# Generated for one test server: nothing is read from /etc/dovecot.
protocols = imap
listen = {listen}
base_dir = {self.run_dir}
state_dir = {self.state_dir}
instance_name = {self.instance_name}
log_path = {self.log_path}
info_log_path = {self.log_path}
shutdown_clients = yes
{identity}
ssl = required
ssl_cert = <{self.cert_path}
ssl_key = <{self.key_path}
ssl_min_protocol = TLSv1.2
# Plaintext LOGIN/AUTH PLAIN only once TLS is on (except same-IP "secured" peers).
disable_plaintext_auth = yes
auth_mechanisms = plain login
auth_failure_delay = 0
auth_verbose = yes
passdb {{
  driver = passwd-file
  args = scheme=PLAIN username_format=%u {self.passwd_dir}/%u
}}
userdb {{
  driver = passwd-file
  args = username_format=%u {self.passwd_dir}/%u
}}
mail_location = maildir:~/Maildir
# LIST scans the directories, so folders made by deliver() show up at once.
mailbox_list_index = no
mail_fsync = never
namespace inbox {{
  inbox = yes
  separator = /
  mailbox Sent {{
    special_use = \\Sent
    auto = subscribe
  }}
  mailbox Drafts {{
    special_use = \\Drafts
    auto = subscribe
  }}
}}
protocol imap {{
  mail_max_userip_connections = 200
}}
# No auth penalty: after a failed login Dovecot would delay every later login from the
# same IP (2, 4, 8... s), so one test of a wrong password would slow all the others.
service anvil {{
{anvil_chroot}  unix_listener anvil-auth-penalty {{
    mode = 0
  }}
}}
service imap-login {{
{login_chroot}  inet_listener imap {{
    address = {listen}
    port = {self.imap_port}
  }}
  inet_listener imaps {{
    address = {listen}
    port = {self.imaps_port}
    ssl = yes
  }}
}}
"""

    def _prepare(self) -> None:
        self.base_dir.mkdir(parents=True, exist_ok=True)
        self.cert_path.parent.mkdir(exist_ok=True)
        if not self.ca_path.exists():
            _write_certificates(self.cert_path.parent)
        self.state_dir.mkdir(exist_ok=True)
        self.mail_root.mkdir(exist_ok=True)
        self.passwd_dir.mkdir(exist_ok=True)
        for account in self._accounts.values():
            self._write_user(account)

    # -- lifecycle -----------------------------------------------------------------------

    def start(self) -> Dovecot:
        """Start ``dovecot -F`` and wait for greetings on both ports (retrying if another
        process took a port between probing and binding)."""
        if self.process is not None:
            return self
        binary = shutil.which("dovecot") or shutil.which("dovecot", path="/usr/sbin:/sbin")
        if binary is None:
            raise FileNotFoundError(f"dovecot not installed (Debian package {DEBIAN_PACKAGE})")
        self._prepare()
        for attempt in range(5):
            self.imap_port, self.imaps_port = _free_port(), _free_port()
            while self.imaps_port == self.imap_port:
                self.imaps_port = _free_port()
            self.conf_path.write_text(self._config())
            log_offset = self.log_path.stat().st_size if self.log_path.exists() else 0
            with (self.base_dir / "dovecot.stderr").open("ab") as stderr:
                self.process = subprocess.Popen(
                    [binary, "-F", "-c", str(self.conf_path)],
                    stdin=subprocess.DEVNULL,
                    stdout=stderr,
                    stderr=stderr,
                    start_new_session=True,  # its own process group, killed as one
                )
            try:
                self._wait_until_up(time.monotonic() + self.startup_timeout)
                return self
            except RuntimeError:
                log = self._read_log(log_offset)
                self._terminate()
                if "Address already in use" in log and attempt < 4:
                    continue
                raise
        raise AssertionError("unreachable")

    def _wait_until_up(self, deadline: float) -> None:
        last: BaseException | None = None
        while time.monotonic() < deadline:
            assert self.process is not None
            if self.process.poll() is not None:
                raise RuntimeError(
                    f"dovecot exited with {self.process.returncode}:\n{self._read_log()}"
                )
            try:
                self._greeting(self.imap_port, tls=False)
                self._greeting(self.imaps_port, tls=True)
                return
            except (OSError, EOFError) as exc:
                last = exc
                time.sleep(0.02)
        raise RuntimeError(f"dovecot did not greet in time ({last!r}):\n{self._read_log()}")

    def _greeting(self, port: int, *, tls: bool) -> bytes:
        with socket.create_connection((HOST, port), timeout=2) as raw:
            sock: socket.socket = raw
            if tls:
                sock = self.ssl_context().wrap_socket(raw, server_hostname=HOST)
            with sock, sock.makefile("rb") as stream:
                line = stream.readline()
        if not line.startswith(b"* OK"):
            raise EOFError(f"unexpected greeting on port {port}: {line!r}")
        return line

    def stop(self) -> None:
        """SIGTERM the whole process group (the master alone takes 1-3 s to wind its
        children down; all at once they exit in milliseconds), then SIGKILL stragglers."""
        self._terminate()
        if self._own_run_dir and self._run_dir is not None:
            shutil.rmtree(self._run_dir, ignore_errors=True)
            self._run_dir = None
            self._own_run_dir = False

    def _terminate(self) -> None:
        process, self.process = self.process, None
        if process is None:
            return
        group = process.pid  # start_new_session: the master leads its own group
        with contextlib.suppress(ProcessLookupError):
            os.killpg(group, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)
            process.wait(timeout=5)
        deadline = time.monotonic() + 5
        while group_processes(group) and time.monotonic() < deadline:
            time.sleep(0.01)
        if group_processes(group):
            with contextlib.suppress(ProcessLookupError):
                os.killpg(group, signal.SIGKILL)

    @property
    def pid(self) -> int | None:
        """The master's pid, which is also its process group id."""
        return self.process.pid if self.process is not None else None

    def __enter__(self) -> Dovecot:
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    @property
    def running(self) -> bool:
        return self.process is not None and self.process.poll() is None

    def _read_log(self, offset: int = 0) -> str:
        try:
            with self.log_path.open("rb") as log:
                log.seek(offset)
                text = log.read().decode("utf-8", "replace")
        except FileNotFoundError:
            text = ""
        with contextlib.suppress(FileNotFoundError):
            text += (self.base_dir / "dovecot.stderr").read_text("utf-8", "replace")
        return text

    def log_text(self) -> str:
        """Dovecot's log (logins, errors), for assertions and failure messages."""
        return self._read_log()

    # -- clients -------------------------------------------------------------------------

    def ssl_context(self) -> ssl.SSLContext:
        """Verifies the server certificate against the test CA (hostname included)."""
        return ssl.create_default_context(cafile=str(self.ca_path))

    def connect(
        self,
        user: str | None = None,
        *,
        tls: Literal["implicit", "starttls"] = "implicit",
        host: str | None = None,
        login: bool = True,
        timeout: float = 30.0,
    ) -> IMAPClient:
        """An imapclient connection, logged in as ``user`` (default: the first account).

        Use as a context manager (logs out on exit)."""
        from imapclient import IMAPClient

        host = host or self.host
        if tls == "implicit":
            client = IMAPClient(
                host, self.imaps_port, ssl=True, ssl_context=self.ssl_context(), timeout=timeout
            )
        else:
            client = IMAPClient(host, self.imap_port, ssl=False, timeout=timeout)
        try:
            if tls != "implicit":
                client.starttls(self.ssl_context())
            if login:
                account = self.account(user)
                client.login(account.user, account.password)
        except BaseException:
            client.shutdown()
            raise
        return client

    def create_folder(self, user: str | None, folder: str) -> None:
        """CREATE and SUBSCRIBE over IMAP, as a mail client would."""
        with self.connect(user) as client:
            if not client.folder_exists(folder):
                client.create_folder(folder)
            client.subscribe_folder(folder)

    def list_folders(self, user: str | None = None) -> dict[str, frozenset[str]]:
        """Folder name -> LIST flags (``\\Sent``, ``\\HasNoChildren``...)."""
        with self.connect(user) as client:
            return {
                name: frozenset(_flag_text(f) for f in flags)
                for flags, _delimiter, name in client.list_folders()
            }

    def append(
        self,
        user: str | None,
        folder: str,
        message: bytes,
        flags: Iterable[str | bytes] = (),
        internal_date: dt.datetime | None = None,
    ) -> int:
        """IMAP APPEND; returns the UID (from Dovecot's APPENDUID)."""
        with self.connect(user) as client:
            response = client.append(folder, message, flags=tuple(flags), msg_time=internal_date)
        found = re.search(rb"\[APPENDUID (\d+) (\d+)\]", response)
        if found is None:
            raise RuntimeError(f"no APPENDUID in {response!r}")
        return int(found.group(2))

    def flags_snapshot(self, user: str | None, folder: str = "INBOX") -> dict[int, frozenset[str]]:
        """UID -> flags, read with EXAMINE so that taking it changes nothing. ``\\Recent``
        is left out: it belongs to whichever session saw the message first."""
        with self.connect(user) as client:
            client.select_folder(folder, readonly=True)
            # imapclient 4 drops FETCH results for ids it was not given, so no "1:*".
            fetched = client.fetch(client.search("ALL"), ["FLAGS"])
        return {
            uid: frozenset(_flag_text(f) for f in data[b"FLAGS"] if _flag_text(f) != "\\Recent")
            for uid, data in fetched.items()
        }

    def status(self, user: str | None, folder: str = "INBOX") -> dict[str, int]:
        """STATUS: ``messages``, ``uidnext``, ``uidvalidity``, ``unseen``, ``recent``."""
        items = ["MESSAGES", "UIDNEXT", "UIDVALIDITY", "UNSEEN", "RECENT"]
        with self.connect(user) as client:
            raw = client.folder_status(folder, items)
        return {key.decode().lower(): int(value) for key, value in raw.items()}

    # -- direct Maildir delivery ---------------------------------------------------------

    def _make_dir(self, path: Path) -> None:
        """mkdir -p below the mail root, owned by the mail uid."""
        if path.is_dir():
            return
        if path.parent != self.mail_root:
            self._make_dir(path.parent)
        path.mkdir(mode=0o700, exist_ok=True)
        if self._as_root:
            os.chown(path, self._mail_uid, self._mail_gid)

    def _ensure_maildir(self, user: str, folder: str) -> Path:
        directory = self.maildir(user, folder)
        if not (directory / "cur").is_dir():
            self._make_dir(directory)
            for sub in ("cur", "new", "tmp"):
                self._make_dir(directory / sub)
            if directory.name.startswith("."):
                marker = directory / "maildirfolder"
                marker.touch()
                if self._as_root:
                    os.chown(marker, self._mail_uid, self._mail_gid)
        return directory

    def _keyword_letters(self, directory: Path, keywords: list[str]) -> str:
        """Maildir letters a-z of custom keywords, registered in ``dovecot-keywords``."""
        path = directory / "dovecot-keywords"
        known: dict[str, int] = {}
        if path.exists():
            for line in path.read_text().splitlines():
                index, _, name = line.partition(" ")
                if index.isdigit() and name:
                    known[name] = int(index)
        added = False
        for keyword in keywords:
            if keyword not in known:
                if len(known) >= 26:
                    raise ValueError("Maildir holds at most 26 keywords per folder")
                known[keyword] = len(known)
                added = True
        if added:
            tmp = directory / "tmp" / f"dovecot-keywords.{os.getpid()}"
            tmp.write_text("".join(f"{i} {n}\n" for n, i in sorted(known.items(), key=_by_id)))
            if self._as_root:
                os.chown(tmp, self._mail_uid, self._mail_gid)
            tmp.replace(path)
        return "".join(chr(ord("a") + known[k]) for k in keywords)

    def deliver(
        self,
        user: str | None,
        folder: str,
        message: bytes,
        flags: Iterable[str | bytes] = (),
        internal_date: dt.datetime | None = None,
    ) -> Path:
        """Write a message straight into the folder's Maildir (created if missing).

        Without flags it lands in ``new/`` (unseen, \\Recent); with flags in ``cur/`` with
        the Maildir info letters. Dovecot assigns UIDs in delivery order the next time the
        folder is opened; INTERNALDATE is the file's mtime (``internal_date`` or now)."""
        account = self.account(user)
        directory = self._ensure_maildir(account.user, folder)
        system: set[str] = set()
        keywords: list[str] = []
        flag_list = [_flag_text(f) for f in flags]
        for flag in flag_list:
            if flag.startswith("\\"):
                letter = _FLAG_LETTERS.get(flag.lower())
                if letter is None:
                    raise ValueError(f"cannot store flag {flag}")
                system.add(letter)
            elif flag not in keywords:
                keywords.append(flag)
        info = "".join(sorted(system)) + (
            self._keyword_letters(directory, keywords) if keywords else ""
        )
        # Strictly increasing (seconds, microseconds): Dovecot sorts new files by it.
        self._clock_us = max(self._clock_us + 1, time.time_ns() // 1000)
        seconds, micros = divmod(self._clock_us, 1_000_000)
        base = f"{seconds}.M{micros}P{os.getpid()}Q{next(self._sequence)}.coffre-test"
        base += f",S={len(message)}"
        tmp = directory / "tmp" / base
        with open(os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600), "wb") as out:
            out.write(message)
            if self._as_root:
                os.fchown(out.fileno(), self._mail_uid, self._mail_gid)
        if internal_date is not None:
            stamp = internal_date.timestamp()
            os.utime(tmp, (stamp, stamp))
        # Flagged messages go to cur/ with their info, unflagged ones to new/.
        target = directory / "cur" / f"{base}:2,{info}" if flag_list else directory / "new" / base
        tmp.rename(target)
        return target

    # -- administration ------------------------------------------------------------------

    def doveadm(self, *args: str, check: bool = True) -> str:
        """Run ``doveadm -c <conf> ARGS`` locally (mail commands open the storage directly,
        with the same chroot and uid as the server)."""
        binary = shutil.which("doveadm") or "/usr/bin/doveadm"
        result = subprocess.run(
            [binary, "-c", str(self.conf_path), *args],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
        if check and result.returncode != 0:
            raise RuntimeError(f"doveadm {' '.join(args)} failed: {result.stderr.strip()}")
        return result.stdout

    def uidvalidity(self, user: str | None, folder: str = "INBOX") -> int:
        return self.status(user, folder)["uidvalidity"]

    def set_uidvalidity(
        self, user: str | None, folder: str = "INBOX", value: int | None = None
    ) -> int:
        """Change a folder's UIDVALIDITY (default: current + 1) with ``doveadm mailbox
        update``; the messages and their UIDs stay. Sessions opened afterwards see it."""
        account = self.account(user)
        if value is None:
            value = self.uidvalidity(account.user, folder) + 1
        self.doveadm("mailbox", "update", "-u", account.user, "--uid-validity", str(value), folder)
        return value

    def recreate_folder(self, user: str | None, folder: str) -> int:
        """Another way to a new UIDVALIDITY, as a server migration would do it: rename the
        folder away, create it anew, copy the messages back (new UIDs, same flags and
        internal dates) and delete the old one. Returns the new UIDVALIDITY."""
        if folder.upper() == "INBOX":
            raise ValueError("INBOX cannot be renamed away; use set_uidvalidity()")
        parked = f"{folder}-old-{uuid.uuid4().hex[:6]}"
        with self.connect(user) as client:
            client.rename_folder(folder, parked)
            client.create_folder(folder)
            client.subscribe_folder(folder)
            client.select_folder(parked)
            uids = client.search("ALL")
            if uids:
                client.copy(uids, folder)
            client.close_folder()
            client.delete_folder(parked)
            return int(client.folder_status(folder, ["UIDVALIDITY"])[b"UIDVALIDITY"])


def _by_id(item: tuple[str, int]) -> int:
    return item[1]


def group_processes(pgid: int) -> list[int]:
    """Live (non-zombie) processes of a process group, read from /proc."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # "pid (comm) state ppid pgrp ...": comm may hold spaces, so split after ")".
        fields = stat[stat.rindex(")") + 2 :].split()
        if int(fields[2]) == pgid and fields[0] not in ("Z", "X"):
            found.append(int(entry.name))
    return found


# -- pytest fixtures (plain generator functions; a conftest wraps them in pytest.fixture) --


def _require_dovecot() -> None:
    import pytest

    if shutil.which("dovecot", path=f"{os.environ.get('PATH', '')}:/usr/sbin") is None:
        pytest.skip(f"dovecot not installed (Debian package {DEBIAN_PACKAGE})")


def dovecot_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Dovecot]:
    """One server for a whole scope; give each test its own login with ``add_user()``."""
    _require_dovecot()
    with Dovecot(tmp_path_factory.mktemp("dovecot")) as server:
        yield server


def dovecot(tmp_path: Path) -> Iterator[Dovecot]:
    """A fresh server per test (start and stop take well under a second)."""
    _require_dovecot()
    with Dovecot(tmp_path / "dovecot") as server:
        yield server
