"""A throwaway Redis server on 127.0.0.1 for the tests and the benchmarks; practice
infrastructure, never a broker anyone keeps.

Debian's ``redis-server`` (``/usr/bin/redis-server``, else the one on the PATH) runs in the
foreground from a temporary folder on a free loopback port, so several servers run side by
side and nothing under /etc or /var is touched (the system's service is never started).
Nothing is persisted. Clients sign in with a random password, as a real deployment's
would: it is in the server's configuration file (its owner's only), not on its command
line, nor in :attr:`RedisServer.url`. Redis runs as root without complaint; the server
stops with :meth:`RedisServer.stop`, when the object is collected or Python exits, and on
Linux when the thread that started it ends (a killed test worker leaves no server behind).

Imports the standard library only (nothing else of rpa): a few lines of the RESP protocol
tell whether a server is up.
"""

from __future__ import annotations

import ctypes
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import time
import weakref
from collections.abc import Callable
from pathlib import Path
from types import TracebackType
from typing import BinaryIO
from urllib.parse import quote

HOST = "127.0.0.1"
START_TIMEOUT_S = 20
_DEBIAN = Path("/usr/bin/redis-server")


class RedisError(RuntimeError):
    """An error reply from the server (``NOAUTH ...``, ``WRONGPASS ...``, ``ERR ...``)."""


def binary() -> Path | None:
    """``redis-server`` (Debian's first, then the PATH), or None when it is not installed."""
    found = _DEBIAN if os.access(_DEBIAN, os.X_OK) else shutil.which("redis-server")
    return Path(found) if found else None


def available() -> tuple[bool, str]:
    """Whether a throwaway server can run here, and why not."""
    if binary() is None:
        return False, ("redis-server is not installed (Debian: apt-get install redis-server; "
                       "scripts/setup.sh --test does it)")
    return True, ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _read_reply(stream: BinaryIO) -> object:
    line = stream.readline()
    kind, body = line[:1], line[1:-2].decode()
    if not line.endswith(b"\r\n") or kind not in b"+-:$*":
        raise ConnectionError(f"not a RESP reply: {line[:40]!r}")
    if kind == b"-":
        raise RedisError(body)
    if kind in b"$*" and int(body) < 0:
        return None
    if kind == b"$":
        return stream.read(int(body) + 2)[:-2]
    if kind == b"*":
        return [_read_reply(stream) for _ in range(int(body))]
    return int(body) if kind == b":" else body


def command(port: int, *args: str, password: str | None = None, host: str = HOST,
            timeout: float = 5.0) -> object:
    """One command (after ``AUTH`` with a password); its reply: a str (a status), bytes, an
    int, a list or None. An error reply raises :class:`RedisError`."""
    calls = ([("AUTH", password)] if password is not None else []) + [args]
    with socket.create_connection((host, port), timeout=timeout) as sock, \
            sock.makefile("rb") as stream:
        for call in calls:
            sock.sendall(f"*{len(call)}\r\n".encode() + b"".join(
                b"$%d\r\n%s\r\n" % (len(a.encode()), a.encode()) for a in call))
            reply = _read_reply(stream)
        return reply


def _die_with_parent() -> Callable[[], None] | None:
    """What the child runs before ``exec`` on Linux: SIGTERM when its starter's thread ends."""
    if not sys.platform.startswith("linux"):
        return None
    prctl = ctypes.CDLL(None).prctl  # looked up before the fork
    parent = os.getpid()

    def arm() -> None:
        prctl(1, int(signal.SIGTERM))  # PR_SET_PDEATHSIG
        if os.getppid() != parent:  # the parent died before the line above
            os._exit(1)
    return arm


class RedisServer:
    """One Redis server in a temporary folder, served on a free loopback port.

    :attr:`url` reaches database 0 without the password (:attr:`password`;
    :attr:`url_with_password` has it). The server and its folder go away with :meth:`stop`
    (leaving the ``with`` block calls it), or when the object is collected or Python exits.
    """

    def __init__(self) -> None:
        found = binary()
        if found is None:
            raise RuntimeError(available()[1])
        self.binary = found
        self.password = secrets.token_urlsafe(18)  # letters, digits, - and _
        self.host = HOST
        self.port = 0
        self.root = Path(tempfile.mkdtemp(prefix="rpa-redis-")).resolve()
        self.log_path = self.root / "redis.log"
        self._procs: list[subprocess.Popen[bytes]] = []
        self._stop = weakref.finalize(self, _remove, self._procs, self.root)

    @property
    def url(self) -> str:
        """``redis://127.0.0.1:PORT/0``, without the password."""
        return f"redis://{self.host}:{self.port}/0"

    @property
    def url_with_password(self) -> str:
        return f"redis://:{quote(self.password, safe='')}@{self.host}:{self.port}/0"

    @property
    def running(self) -> bool:
        return bool(self._procs) and self._procs[0].poll() is None

    def start(self) -> RedisServer:
        """Start the server and wait until it answers PING; returns self."""
        if not self._stop.alive or self._procs:
            raise RuntimeError("a RedisServer starts once (stop() removed its folder)")
        self.port = _free_port()
        conf = self.root / "redis.conf"
        conf.touch(mode=0o600)
        conf.write_text("\n".join([
            f"port {self.port}", f"bind {self.host}", "protected-mode yes", "daemonize no",
            f'dir "{self.root}"', f'logfile "{self.log_path}"', 'save ""', "appendonly no",
            f"requirepass {self.password}", ""]))
        self._procs.append(subprocess.Popen(
            [str(self.binary), str(conf)], cwd=self.root, stdin=subprocess.DEVNULL,
            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=_die_with_parent()))
        deadline = time.monotonic() + START_TIMEOUT_S
        while self.running and time.monotonic() < deadline:
            try:
                if command(self.port, "PING", password=self.password, timeout=1) == "PONG":
                    return self
            except (OSError, RedisError):
                try:  # not listening yet: wait a moment for it, or for its end
                    self._procs[0].wait(timeout=0.02)
                except subprocess.TimeoutExpired:
                    pass
        why = f"did not answer in {START_TIMEOUT_S} s"
        if not self.running:
            log = self.log_path.read_text(errors="replace") if self.log_path.exists() else ""
            why = f"exited ({self._procs[0].returncode}): {log[-1500:].strip()}"
        self.stop()
        raise RuntimeError(f"redis-server {why}")

    def command(self, *args: str) -> object:
        """One command, signed in with the password (see :func:`command`)."""
        return command(self.port, *args, password=self.password, host=self.host)

    def stop(self) -> None:
        """Stop the server and remove its folder."""
        self._stop()

    def __enter__(self) -> RedisServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()


def _remove(procs: list[subprocess.Popen[bytes]], root: Path) -> None:
    """Stop the server, remove its folder (the finalizer: it holds no reference to the server)."""
    try:
        for proc in procs:
            proc.terminate()  # nothing when it has ended
            try:
                proc.wait(10)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait(10)
    finally:
        shutil.rmtree(root, ignore_errors=True)
