"""A throwaway Dovecot IMAP server on 127.0.0.1 for the tests, the demo and the benchmark.

Everything the server needs lives in one folder (``root``): its configuration, password
file, sockets, state, log and the mail itself, so several servers can run side by side and
nothing under /etc or /var is touched. The server speaks plaintext IMAP (no TLS) on a free
loopback port and has one user.

Dovecot refuses to run mail processes as root, so when this runs as root the mail belongs to
uid/gid 65534 (nobody/nogroup) and Dovecot's own helper processes run as its usual system
users (``dovenull``/``dovecot``, or ``nobody`` where those don't exist). As any other user,
everything runs as that user.

Dovecot 2.3 and 2.4 take different configuration syntax; ``dovecot --version`` decides
which one is written.
"""

from __future__ import annotations

import email.parser
import functools
import grp
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

HOST = "127.0.0.1"
NOBODY = 65534
START_TIMEOUT = 10.0
STOP_TIMEOUT = 5.0
POLL_INTERVAL = 0.02
LOG_TAIL_LINES = 40
MULTIAPPEND_BATCH = 200
FETCH_BATCH = 1000  # UIDs per FETCH, keeping command lines short

# Folder name -> SPECIAL-USE flag ("" for none), INBOX aside.
LAYOUTS: dict[str, tuple[tuple[str, str], ...]] = {
    "special-use": (
        ("Junk", "\\Junk"),
        ("Trash", "\\Trash"),
        ("Sent", "\\Sent"),
        ("Drafts", "\\Drafts"),
    ),
    "outlook": (
        ("Junk Email", ""),
        ("Deleted Items", ""),
        ("Sent Items", ""),
    ),
}

_SEARCH_PATHS = ("/usr/sbin/dovecot", "/usr/local/sbin/dovecot", "/opt/homebrew/sbin/dovecot")
_SAFE_PATH = re.compile(r"^[A-Za-z0-9_./+@:,=-]+$")
_SAFE_USER = re.compile(r"^[A-Za-z0-9_.@+-]+$")
_SAFE_PASSWORD = re.compile(r"^[!-~]+$")  # printable ASCII, no spaces
_HAVE_PROC = Path("/proc/self/stat").exists()


def dovecot_binary() -> str | None:
    """Path of the ``dovecot`` master binary, or None when it isn't installed."""
    found = shutil.which("dovecot")
    if found:
        return found
    for candidate in _SEARCH_PATHS:
        if os.access(candidate, os.X_OK):
            return candidate
    return None


@functools.lru_cache(maxsize=4)
def _version_of(binary: str) -> tuple[int, int] | None:
    try:
        out = subprocess.run([binary, "--version"], capture_output=True, text=True,
                             timeout=10, check=False).stdout
    except (OSError, subprocess.SubprocessError):
        return None
    match = re.match(r"\s*(\d+)\.(\d+)", out)
    return (int(match.group(1)), int(match.group(2))) if match else None


def dovecot_version() -> tuple[int, int] | None:
    """(major, minor) of the installed Dovecot, e.g. (2, 3); None when unknown."""
    binary = dovecot_binary()
    return _version_of(binary) if binary else None


def _missing_imap(binary: str) -> str | None:
    """The libexec folder that has Dovecot's helpers but no ``imap``, if that is the case."""
    prefix = Path(binary).resolve().parent.parent
    for libexec in (prefix / "lib" / "dovecot", prefix / "libexec" / "dovecot"):
        if (libexec / "auth").exists() and not (libexec / "imap").exists():
            return str(libexec)
    return None


def _user_exists(name: str) -> bool:
    try:
        pwd.getpwnam(name)
    except KeyError:
        return False
    return True


def _service_users() -> tuple[str, str, str]:
    """(login user, internal user, internal group) for Dovecot's own processes."""
    if os.geteuid() != 0:
        me = pwd.getpwuid(os.geteuid()).pw_name
        try:
            group = grp.getgrgid(os.getegid()).gr_name
        except KeyError:
            group = str(os.getegid())
        return me, me, group
    login = "dovenull" if _user_exists("dovenull") else "nobody"
    internal = "dovecot" if _user_exists("dovecot") else "nobody"
    gid = pwd.getpwnam(internal).pw_gid
    return login, internal, grp.getgrgid(gid).gr_name


def available() -> tuple[bool, str]:
    """(True, "") when a throwaway server can be started here, else (False, the reason)."""
    binary = dovecot_binary()
    if binary is None:
        return False, "Dovecot is not installed (no dovecot binary; install dovecot-imapd)"
    version = dovecot_version()
    if version is None:
        return False, f"could not read the Dovecot version from {binary} --version"
    if version < (2, 3):
        return False, f"Dovecot {version[0]}.{version[1]} is too old (2.3 or later needed)"
    libexec = _missing_imap(binary)
    if libexec:
        return False, f"Dovecot has no IMAP server ({libexec}/imap missing; install dovecot-imapd)"
    if os.geteuid() == 0 and not _user_exists("nobody"):
        return False, "running as root but there is no 'nobody' user for Dovecot's processes"
    if os.geteuid() != 0:
        try:
            pwd.getpwuid(os.geteuid())
        except KeyError:
            return False, f"uid {os.geteuid()} has no user name, which Dovecot needs"
    return True, ""


def _free_port() -> int:
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


def _signal_group(pgid: int, signum: int) -> None:
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


def _as_str(value: Any) -> str:
    return value.decode(errors="replace") if isinstance(value, bytes) else str(value)


class DovecotServer:
    """One Dovecot instance with one user and a fixed set of folders.

    ``layout="special-use"`` gives INBOX, Junk (\\Junk), Trash (\\Trash), Sent (\\Sent) and
    Drafts (\\Drafts); ``layout="outlook"`` gives INBOX, "Junk Email", "Deleted Items" and
    "Sent Items" with no SPECIAL-USE flags at all. All folders are created and subscribed
    automatically.

    Without ``root`` a temporary folder is made; it is removed by ``cleanup()`` (which leaving
    the ``with`` block calls) or at the latest when the object is collected or Python exits.
    A given ``root`` is kept. When running as root, the folders above ``root`` must be
    searchable by other users, because Dovecot's mail processes run as uid 65534. A server
    still running when the object is collected or Python exits is stopped then.
    """

    def __init__(self, root: Path | None = None, *, layout: str = "special-use",
                 user: str = "seller", password: str | None = None) -> None:
        if layout not in LAYOUTS:
            raise ValueError(f"unknown layout {layout!r}; expected one of {sorted(LAYOUTS)}")
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

    def _mail_ids(self) -> tuple[int, int]:
        return (NOBODY, NOBODY) if os.geteuid() == 0 else (os.geteuid(), os.getegid())

    def _mailbox_blocks(self) -> str:
        blocks = []
        for name, flag in LAYOUTS[self.layout]:
            lines = [f'  mailbox "{name}" {{', "    auto = subscribe"]
            if flag:
                lines.append(f"    special_use = {flag}")
            lines.append("  }")
            blocks.append("\n".join(lines))
        return "\n".join(blocks)

    def _service_blocks(self) -> str:
        # chroot needs root; a non-root master must not be asked to do it.
        chroot = "" if os.geteuid() == 0 else "  chroot =\n"
        return (
            "service imap-login {\n"
            f"{chroot}"
            "  inet_listener imap {\n"
            f"    port = {self.port}\n"
            "  }\n"
            "  inet_listener imaps {\n"
            "    port = 0\n"
            "  }\n"
            "}\n"
            + ("service anvil {\n  chroot =\n}\n" if chroot else "")
        )

    def _common_settings(self) -> str:
        login_user, internal_user, internal_group = _service_users()
        return (
            f"base_dir = {self.root}/run\n"
            f"state_dir = {self.root}/state\n"
            f"log_path = {self.log_path}\n"
            "protocols = imap\n"
            f"listen = {self.host}\n"
            "ssl = no\n"
            "auth_mechanisms = plain login\n"
            f"default_login_user = {login_user}\n"
            f"default_internal_user = {internal_user}\n"
            f"default_internal_group = {internal_group}\n"
            "first_valid_uid = 1\n"
            "first_valid_gid = 1\n"
            "mail_fsync = never\n"
            "protocol imap {\n"
            "  mail_max_userip_connections = 1000\n"
            "}\n"
        )

    def _config_23(self) -> str:
        uid, gid = self._mail_ids()
        return (
            "# Generated by rpa.practice.dovecot (Dovecot 2.3 syntax): a throwaway test server.\n"
            + self._common_settings()
            + "disable_plaintext_auth = no\n"
            f"mail_location = maildir:{self.home}/Maildir\n"
            "passdb {\n"
            "  driver = passwd-file\n"
            f"  args = {self.root}/passwd\n"
            "}\n"
            "userdb {\n"
            "  driver = static\n"
            f"  args = uid={uid} gid={gid} home={self.home}\n"
            "}\n"
            + self._namespace_and_services()
        )

    def _namespace_and_services(self) -> str:
        """The same in both syntaxes: the one namespace with its folders, the services."""
        return ("namespace inbox {\n  inbox = yes\n  separator = /\n"
                f"{self._mailbox_blocks()}\n}}\n" + self._service_blocks())

    def _config_24(self) -> str:
        uid, gid = self._mail_ids()
        return (
            # dovecot_config_version has to be the very first setting.
            "dovecot_config_version = 2.4.0\n"
            "dovecot_storage_version = 2.4.0\n"
            "# Generated by rpa.practice.dovecot (Dovecot 2.4 syntax): a throwaway test server.\n"
            + self._common_settings()
            + "auth_allow_cleartext = yes\n"
            "mail_driver = maildir\n"
            f"mail_path = {self.home}/Maildir\n"
            "passdb passwd-file {\n"
            f"  passwd_file_path = {self.root}/passwd\n"
            "}\n"
            "userdb static {\n"
            "  fields {\n"
            f"    uid = {uid}\n"
            f"    gid = {gid}\n"
            f"    home = {self.home}\n"
            "  }\n"
            "}\n"
            + self._namespace_and_services()
        )

    def config_text(self) -> str:
        """The dovecot.conf for the installed Dovecot version."""
        version = dovecot_version()
        return self._config_24() if version and version >= (2, 4) else self._config_23()

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
                        f"processes (uid {NOBODY}) must reach {self.root}; "
                        "use a root under /tmp or let DovecotServer make one")
        for sub in ("run", "state"):
            (self.root / sub).mkdir(exist_ok=True)
        self.home.mkdir(exist_ok=True)
        if as_root:
            os.chown(self.home, NOBODY, NOBODY)
        passwd = self.root / "passwd"
        passwd.write_text(f"{self.user.lower()}:{{PLAIN}}{self.password}\n")
        passwd.chmod(0o600)
        if as_root:
            _, internal_user, _ = _service_users()
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
                time.sleep(POLL_INTERVAL)
                continue
            if not greeting.startswith(b"* OK"):
                last_error = f"greeting {greeting[:60]!r}"
                time.sleep(POLL_INTERVAL)
                continue
            try:
                client = self.client(timeout=5.0)
            except Exception as err:  # noqa: BLE001 - any failure here means "not yet"
                last_error = f"login failed: {err}"
                time.sleep(POLL_INTERVAL)
                continue
            _logout(client)
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
            _logout(client)
            raise
        return client

    def append(self, folder: str, raw: bytes, flags: Sequence[str | bytes] = (),
               when: datetime | None = None) -> None:
        """APPEND one message to ``folder`` with ``flags`` and internal date ``when``."""
        client = self.client()
        try:
            client.append(folder, raw, tuple(flags), msg_time=when)
        finally:
            _logout(client)

    def append_many(self, folder: str, raws: Iterable[bytes],
                    flags: Sequence[str | bytes] = ()) -> None:
        """APPEND many messages over one connection, batched with MULTIAPPEND when offered."""
        messages = list(raws)
        if not messages:
            return
        client = self.client(timeout=60.0)
        try:
            if client.has_capability("MULTIAPPEND"):
                for start in range(0, len(messages), MULTIAPPEND_BATCH):
                    batch = messages[start:start + MULTIAPPEND_BATCH]
                    client.multiappend(folder, [{"msg": raw, "flags": tuple(flags)}
                                                for raw in batch])
            else:
                for raw in messages:
                    client.append(folder, raw, tuple(flags))
        finally:
            _logout(client)

    def snapshot(self) -> dict[str, list[tuple[str, frozenset[str]]]]:
        """Every folder's messages as sorted (Message-ID, flags) pairs.

        Flags are strings such as ``"\\Seen"``; the session-only ``\\Recent`` is left out. A
        message without a Message-ID header shows as ``""``. Folders are opened read-only,
        so taking a snapshot changes nothing.
        """
        parser = email.parser.BytesHeaderParser()
        result: dict[str, list[tuple[str, frozenset[str]]]] = {}
        client = self.client()
        try:
            for folder_flags, _delimiter, name in client.list_folders():
                if any(_as_str(f).lower() == "\\noselect" for f in folder_flags):
                    continue
                folder = _as_str(name)
                info = client.select_folder(folder, readonly=True)
                entries: list[tuple[str, frozenset[str]]] = []
                uids = client.search("ALL") if int(info.get(b"EXISTS", 0)) else []
                for start in range(0, len(uids), FETCH_BATCH):
                    fetched = client.fetch(uids[start:start + FETCH_BATCH],
                                           ["FLAGS", "BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)]"])
                    for data in fetched.values():
                        header = data.get(b"BODY[HEADER.FIELDS (MESSAGE-ID)]", b"") or b""
                        value = parser.parsebytes(header).get("Message-ID") or ""
                        message_id = " ".join(str(value).split())
                        message_flags = frozenset(
                            _as_str(f) for f in data.get(b"FLAGS", ())
                            if _as_str(f).lower() != "\\recent")
                        entries.append((message_id, message_flags))
                entries.sort(key=lambda entry: (entry[0], sorted(entry[1])))
                result[folder] = entries
        finally:
            _logout(client)
        return result

    def __repr__(self) -> str:
        state = "running" if self.running else "stopped"
        return f"<DovecotServer {self.layout} {self.host}:{self.port} {state} {self.root}>"


def _logout(client: imapclient.IMAPClient) -> None:
    """Log out, ignoring a connection that is already gone."""
    try:
        client.logout()
    except Exception:  # noqa: BLE001 - best effort on the way out
        try:
            client.shutdown()
        except Exception:  # noqa: BLE001
            pass
