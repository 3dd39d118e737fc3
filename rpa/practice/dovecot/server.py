"""The throwaway Dovecot server's lifecycle: its folder, start, stop, restart and cleanup.

Everything the server needs lives in one folder (``root``): its configuration, password
file, sockets, state, log and the mail itself, so several servers can run side by side and
nothing under /etc or /var is touched. The server speaks plaintext IMAP (no TLS) on a free
loopback port and has one user.

The configuration text comes from ``config``, the installed binary and version from
``install``, and putting mail in and reading it back from ``mailstore``; ``DovecotServer``
wraps the last for one call per connection.
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import signal
import socket
import subprocess
import tempfile
import time
import weakref
from collections.abc import Iterable, Sequence
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import Any

import imapclient

from rpa.practice.dovecot import config, mailstore
from rpa.practice.dovecot.install import available, dovecot_binary, dovecot_version

HOST = "127.0.0.1"
# Ready is a login that works, seen within a few hundred ms on an idle machine; the
# deadline is for a loaded CI machine, where 10 s was once not enough.
START_TIMEOUT = 30.0
STOP_TIMEOUT = 5.0
POLL_INTERVAL = 0.02
LOG_TAIL_LINES = 40

_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+@:,=-]+$")
_SAFE_USER = re.compile(r"^[A-Za-z0-9_.@+-]+$")
_SAFE_PASSWORD = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces
_HAVE_PROC = Path("/proc/self/stat").exists()


def _free_port() -> int:
    """A loopback port nothing listens on right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _session_pids(sid: int) -> list[int]:
    """Processes in session ``sid`` (the master and every child it forked); Linux only."""
    pids: list[int] = []
    if not _HAVE_PROC:
        return pids
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
        except OSError:
            continue
        # Fields after the parenthesised command: state ppid pgrp session ...
        fields = stat.rsplit(")", 1)[-1].split()
        if len(fields) > 3 and fields[0] != "Z" and int(fields[3]) == sid:
            pids.append(int(entry.name))
    return sorted(pids)


def _terminate(proc: subprocess.Popen[bytes]) -> None:
    """Stop a master started in its own session, then make sure none of its children stay.

    SIGTERM goes to the whole process group, not just the master: told alone, the master
    stops its helpers but leaves client sessions running. Once every child has exited, the
    master only sleeps out a fixed grace second before exiting, so it is killed then (where
    /proc shows that). Anything still there after STOP_TIMEOUT is killed. Processes are told
    apart by their session (the master's pid), so nothing outside this server is touched.
    """
    sid = proc.pid
    started = time.monotonic()
    last_term: float | None = None
    while proc.poll() is None:
        now = time.monotonic()
        if now - started > STOP_TIMEOUT:
            _signal_group(sid, signal.SIGKILL)
        elif last_term is not None and _HAVE_PROC and _session_pids(sid) == [sid]:
            proc.kill()
        elif last_term is None or now - last_term > 0.25:
            # Repeated, so that a child forked just as a signal went out gets one too.
            _signal_group(sid, signal.SIGTERM)
            last_term = now
        try:
            proc.wait(timeout=POLL_INTERVAL)
        except subprocess.TimeoutExpired:
            pass
    # Children outliving the master (there should be none) get a moment, then SIGKILL.
    deadline = time.monotonic() + 1.0
    while _session_pids(sid) and time.monotonic() < deadline + STOP_TIMEOUT:
        _signal_group(sid, signal.SIGTERM if time.monotonic() < deadline else signal.SIGKILL)
        time.sleep(POLL_INTERVAL)


def _wait_for_exit(proc: subprocess.Popen[bytes], seconds: float) -> None:
    """Wait up to ``seconds`` for ``proc`` to exit (an exit is seen at once, not later)."""
    try:
        proc.wait(timeout=seconds)
    except subprocess.TimeoutExpired:
        pass


def _signal_group(pgid: int, signum: int) -> None:
    """Send ``signum`` to process group ``pgid``, if it is still there."""
    try:
        os.killpg(pgid, signum)
    except (ProcessLookupError, PermissionError):
        pass


def _log_since(offsets: dict[Path, int]) -> str:
    """The last lines each file got since the given offsets, labelled by file."""
    parts = []
    for path, offset in offsets.items():
        try:
            with open(path, "rb") as handle:
                handle.seek(offset)
                text = handle.read().decode(errors="replace")
        except OSError:
            continue
        tail = "\n".join(text.splitlines()[-LOG_TAIL_LINES:])
        if tail.strip():
            parts.append(f"--- {path} ---\n{tail}")
    return "\n".join(parts) or "(dovecot wrote nothing to its log)"


class DovecotServer:
    """One Dovecot instance with one user and a fixed set of folders.

    ``layout="special-use"`` gives INBOX, Junk (\\Junk), Trash (\\Trash), Sent (\\Sent) and
    Drafts (\\Drafts); ``layout="outlook"`` gives INBOX, "Junk Email", "Deleted Items" and
    "Sent Items" with no SPECIAL-USE flags at all; ``"courier"`` puts Junk, Trash, Sent and
    Drafts under the ``INBOX.`` namespace prefix with "." between levels; ``"inbox-children"``
    has INBOX/Spam, INBOX/Trash, Sent and "Spam reports"; ``"french"`` has "Courrier
    indésirable", "Corbeille" and "Éléments envoyés"; ``"no-spam"`` has Trash (\\Trash),
    Sent (\\Sent) and "Spam reports" only (see ``config.LAYOUTS``). All folders are created
    and subscribed automatically.

    Without ``root`` a temporary folder is made; it is removed by ``cleanup()`` (which leaving
    the ``with`` block calls) or at the latest when the object is collected or Python exits.
    A given ``root`` is kept. When running as root, the folders above ``root`` must be
    searchable by other users, because Dovecot's mail processes run as uid 65534. A server
    still running when the object is collected or Python exits is stopped then.
    """

    def __init__(self, root: Path | None = None, *, layout: str = "special-use",
                 user: str = "seller", password: str | None = None) -> None:
        if layout not in config.LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; "
                             f"expected one of {sorted(config.LAYOUTS)}")
        if not _SAFE_USER.match(user):
            raise ValueError(f"user {user!r} must be letters, digits and . _ @ + - only")
        password = password if password is not None else secrets.token_urlsafe(16)
        if not _SAFE_PASSWORD.match(password) or ":" in password:
            raise ValueError("password must be printable ASCII without spaces or ':'")
        self._own_root = root is None
        self.root = Path(tempfile.mkdtemp(prefix="rpa-dovecot-")) if root is None else root
        self.root = self.root.resolve()
        if not _SAFE_PATH.match(str(self.root)):
            raise ValueError(f"root {self.root} has characters Dovecot's config can't hold")
        self.layout = layout
        self.host = HOST
        self.port = 0
        self.user = user
        self.password = password
        self._proc: subprocess.Popen[bytes] | None = None
        self._finalizer: weakref.finalize[Any, Any] | None = None
        # A folder this object made goes away with it, even without cleanup().
        self._remove_root = (weakref.finalize(self, shutil.rmtree, str(self.root), True)
                             if self._own_root else None)

    # ---- paths -------------------------------------------------------------------------

    @property
    def config_path(self) -> Path:
        """The generated dovecot.conf."""
        return self.root / "dovecot.conf"

    @property
    def log_path(self) -> Path:
        """Dovecot's log file."""
        return self.root / "dovecot.log"

    @property
    def home(self) -> Path:
        """The mail user's home; the mail is in its ``Maildir``."""
        return self.root / "home"

    @property
    def running(self) -> bool:
        """Whether the master process is up."""
        return self._proc is not None and self._proc.poll() is None

    def pids(self) -> list[int]:
        """The master's pid and those of its children (children are found on Linux only)."""
        if self._proc is None:
            return []
        sid = self._proc.pid
        found = _session_pids(sid)
        return found if found else ([sid] if self.running else [])

    # ---- configuration -----------------------------------------------------------------

    def settings(self) -> config.DovecotConfig:
        """The values dovecot.conf is written from, for this server as this process runs it."""
        return config.DovecotConfig.for_this_process(root=self.root, home=self.home,
                                                     log_path=self.log_path, host=self.host,
                                                     port=self.port, layout=self.layout)

    def config_text(self) -> str:
        """The dovecot.conf for the installed Dovecot version."""
        return config.config_text(self.settings(), dovecot_version())

    def _prepare(self) -> None:
        """Write the configuration and password file; make folders the processes can use."""
        as_root = os.geteuid() == 0
        self.root.mkdir(parents=True, exist_ok=True)
        if as_root:
            self.root.chmod(0o755)
            for parent in self.root.parents:
                if not parent.stat().st_mode & 0o001:
                    raise RuntimeError(
                        f"{parent} is not searchable by other users, but Dovecot's mail "
                        f"processes (uid {config.NOBODY}) must reach {self.root}; "
                        "use a root under /tmp or let DovecotServer make one")
        for sub in ("run", "state"):
            (self.root / sub).mkdir(exist_ok=True)
        self.home.mkdir(exist_ok=True)
        if as_root:
            os.chown(self.home, config.NOBODY, config.NOBODY)
        passwd = self.root / "passwd"
        passwd.write_text(f"{self.user.lower()}:{{PLAIN}}{self.password}\n")
        passwd.chmod(0o600)
        if as_root:
            _, internal_user, _ = config.service_users()
            entry = pwd.getpwnam(internal_user)
            os.chown(passwd, entry.pw_uid, entry.pw_gid)
        self.config_path.write_text(self.config_text())

    # ---- lifecycle ---------------------------------------------------------------------

    def start(self) -> DovecotServer:
        """Start Dovecot and wait until it accepts a login; RuntimeError with its log if not.

        The first start picks a free port (trying again with another one should that port be
        taken in the meantime); later starts reuse it.
        """
        if self.running:
            return self
        ok, why = available()
        if not ok:
            raise RuntimeError(why)
        attempts = 1 if self.port else 3
        for attempt in range(attempts):
            if attempts > 1:
                self.port = _free_port()
            try:
                return self._start_once()
            except RuntimeError as err:
                if attempt + 1 == attempts or "Address already in use" not in str(err):
                    if attempts > 1:
                        self.port = 0
                    raise
        raise AssertionError("unreachable")

    def _start_once(self) -> DovecotServer:
        binary = dovecot_binary()
        assert binary is not None
        self._prepare()
        stderr_path = self.root / "dovecot.stderr"
        offsets = {path: path.stat().st_size if path.exists() else 0
                   for path in (self.log_path, stderr_path)}
        with open(stderr_path, "ab") as stderr:
            proc = subprocess.Popen(
                [binary, "-F", "-c", str(self.config_path)],
                stdin=subprocess.DEVNULL, stdout=stderr, stderr=stderr,
                start_new_session=True, close_fds=True,
            )
        self._proc = proc
        self._finalizer = weakref.finalize(self, _terminate, proc)
        try:
            self._wait_ready(proc)
        except RuntimeError as err:
            self.stop()
            raise RuntimeError(f"{err}\n{_log_since(offsets)}") from None
        return self

    def _wait_ready(self, proc: subprocess.Popen[bytes]) -> None:
        """Poll until the greeting comes and a login works, or Dovecot exits, or time is up."""
        deadline = time.monotonic() + START_TIMEOUT
        last_error = "no answer"
        while time.monotonic() < deadline:
            code = proc.poll()
            if code is not None:
                raise RuntimeError(f"dovecot exited with status {code} while starting")
            try:
                with socket.create_connection((self.host, self.port), timeout=0.25) as sock:
                    greeting = sock.recv(256)
            except OSError as err:
                last_error = f"port {self.port}: {err}"
                _wait_for_exit(proc, POLL_INTERVAL)
                continue
            if not greeting.startswith(b"* OK"):
                last_error = f"greeting {greeting[:60]!r}"
                _wait_for_exit(proc, POLL_INTERVAL)
                continue
            try:
                client = self.client(timeout=5.0)
            except Exception as err:  # noqa: BLE001 - any failure here means "not yet"
                last_error = f"login failed: {err}"
                _wait_for_exit(proc, POLL_INTERVAL)
                continue
            mailstore.logout(client)
            return
        raise RuntimeError(f"dovecot did not accept a login within {START_TIMEOUT:g}s "
                           f"({last_error})")

    def stop(self) -> None:
        """Stop Dovecot and every process it started. The mail and the port are kept."""
        proc, self._proc = self._proc, None
        if self._finalizer is not None:
            self._finalizer.detach()
            self._finalizer = None
        if proc is not None:
            _terminate(proc)
            # A master killed in its grace second leaves its pid file; should that pid be
            # reused, the next start would think Dovecot is still running.
            (self.root / "run" / "master.pid").unlink(missing_ok=True)

    def restart(self) -> None:
        """Stop, then start again on the same port with the same mail."""
        self.stop()
        self.start()

    def cleanup(self) -> None:
        """Stop, and remove ``root`` if this server made it."""
        self.stop()
        if self._remove_root is not None:
            self._remove_root()

    def __enter__(self) -> DovecotServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()

    # ---- IMAP helpers ------------------------------------------------------------------

    def client(self, timeout: float = 10.0) -> imapclient.IMAPClient:
        """A logged-in IMAPClient (plaintext); the caller logs it out."""
        if not self.port:
            raise RuntimeError("the server has not been started")
        client = imapclient.IMAPClient(self.host, port=self.port, ssl=False, timeout=timeout)
        try:
            client.login(self.user, self.password)
        except Exception:
            mailstore.logout(client)
            raise
        return client

    def append(self, folder: str, raw: bytes, flags: Sequence[str | bytes] = (),
               when: datetime | None = None) -> None:
        """APPEND one message to ``folder`` with ``flags`` and internal date ``when``."""
        client = self.client()
        try:
            mailstore.append(client, folder, raw, flags, when)
        finally:
            mailstore.logout(client)

    def append_many(self, folder: str, raws: Iterable[bytes],
                    flags: Sequence[str | bytes] = ()) -> None:
        """APPEND many messages over one connection, batched with MULTIAPPEND when offered."""
        messages = list(raws)
        if not messages:
            return
        client = self.client(timeout=60.0)
        try:
            mailstore.append_many(client, folder, messages, flags)
        finally:
            mailstore.logout(client)

    def snapshot(self) -> mailstore.Snapshot:
        """Every folder's messages as sorted (Message-ID, flags) pairs, without ``\\Recent``.

        Folders are opened read-only, so this changes nothing; see ``mailstore.snapshot``.
        """
        client = self.client()
        try:
            return mailstore.snapshot(client)
        finally:
            mailstore.logout(client)

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DovecotServer {self.layout} {self.host}:{self.port} {state} {self.root}>"
