"""A throwaway PostgreSQL server on 127.0.0.1 for the tests and the benchmarks; practice
infrastructure, never a ledger anyone keeps.

Debian's binaries (``apt-get install postgresql``: ``/usr/lib/postgresql/<version>/bin``)
make a new cluster in a temporary folder (``initdb``) and serve it on a free loopback port,
its unix socket in the same folder, so several servers run side by side and nothing under
/etc or /var is touched. PostgreSQL refuses to run as root: as root, the folder belongs to
the ``postgres`` user and the binaries run as that user. Durability is off (no fsync):
the tests kill clients, never the server. One user signs in with a password (SCRAM), as a
real deployment would; :meth:`PostgresServer.create_database` gives each test a database
of its own.

Imports the standard library and psycopg only (nothing else of rpa).
"""

from __future__ import annotations

import os
import pwd
import re
import secrets
import shutil
import socket
import subprocess
import tempfile
import weakref
from pathlib import Path
from types import TracebackType
from typing import Any

HOST = "127.0.0.1"
START_TIMEOUT_S = 60
SERVICE_USER = "postgres"  # who runs the server when this process is root
_DEBIAN = Path("/usr/lib/postgresql")
_FAST = ("fsync=off", "synchronous_commit=off", "full_page_writes=off", "wal_level=minimal",
         "max_wal_senders=0", "max_connections=200", "log_min_messages=warning")


def _version_of(folder: Path) -> tuple[int, ...]:
    return tuple(int(p) for p in re.findall(r"\d+", folder.parent.name)) or (0,)


def bindir() -> Path | None:
    """The folder of ``initdb``, ``pg_ctl`` and ``postgres`` (Debian's newest first, then
    the PATH), or None when PostgreSQL is not installed."""
    found = sorted(_DEBIAN.glob("*/bin"), key=_version_of, reverse=True) \
        if _DEBIAN.is_dir() else []
    on_path = shutil.which("initdb")
    if on_path:
        found.append(Path(on_path).resolve().parent)
    for folder in found:
        if all(os.access(folder / name, os.X_OK) for name in ("initdb", "pg_ctl", "postgres")):
            return folder
    return None


def _service_user() -> pwd.struct_passwd | None:
    """The user the server runs as when this process is root (None when not root)."""
    if os.geteuid() != 0:
        return None
    return pwd.getpwnam(SERVICE_USER)


def available() -> tuple[bool, str]:
    """Whether a throwaway server can run here, and why not."""
    if bindir() is None:
        return False, ("PostgreSQL's binaries are not installed (Debian: apt-get install "
                       "postgresql; scripts/setup.sh --test does it)")
    try:
        import psycopg  # noqa: F401
    except ImportError:
        return False, "the psycopg package is not installed"
    if os.geteuid() == 0:
        try:
            _service_user()
        except KeyError:
            return False, f"running as root needs the '{SERVICE_USER}' user to run the server"
    return True, ""


def _free_port() -> int:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((HOST, 0))
        return int(sock.getsockname()[1])


def _stop(binaries: Path, data: Path, run_as: pwd.struct_passwd | None) -> None:
    """Stop the server of ``data`` now (a fast shutdown: clients are disconnected)."""
    if (data / "postmaster.pid").exists():
        _run([str(binaries / "pg_ctl"), "-D", str(data), "-m", "immediate", "-w", "-t", "30",
              "stop"], run_as, check=False)


def _run(args: list[str], run_as: pwd.struct_passwd | None, *, check: bool = True,
         ) -> subprocess.CompletedProcess[str]:
    """Run one of PostgreSQL's programs, as the service user when this process is root."""
    extra: dict[str, Any] = {}
    if run_as is not None:
        extra = {"user": run_as.pw_uid, "group": run_as.pw_gid, "extra_groups": [],
                 "env": {**os.environ, "HOME": run_as.pw_dir, "USER": run_as.pw_name}}
    proc = subprocess.run(args, capture_output=True, text=True, timeout=START_TIMEOUT_S + 30,
                          check=False, cwd="/", **extra)
    if check and proc.returncode != 0:
        raise RuntimeError(f"{Path(args[0]).name} failed ({proc.returncode}): "
                           f"{(proc.stderr or proc.stdout).strip()[-2000:]}")
    return proc


class PostgresServer:
    """One PostgreSQL cluster in a temporary folder, served on a free loopback port.

    ``url(db)`` is how a client reaches database ``db`` (no password in it: that is
    :attr:`password`); :meth:`create_database` makes a fresh database and returns its URL.
    The folder and the server go away with :meth:`cleanup` (which leaving the ``with``
    block calls), or at the latest when the object is collected or Python exits.
    """

    def __init__(self, *, user: str = "rpa", password: str | None = None) -> None:
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", user):
            raise ValueError(f"user {user!r} must be lower-case letters, digits and _")
        found = bindir()
        if found is None:
            raise RuntimeError(available()[1])
        self.bindir = found
        self.user = user
        self.password = password or secrets.token_urlsafe(18)
        self.host = HOST
        self.port = 0
        self._run_as = _service_user()
        self.root = Path(tempfile.mkdtemp(prefix="rpa-postgres-")).resolve()
        self._cleanup = weakref.finalize(self, _remove, self.bindir, self.root, self._run_as)

    @property
    def data(self) -> Path:
        return self.root / "data"

    @property
    def log_path(self) -> Path:
        return self.root / "postgres.log"

    def url(self, database: str = "postgres") -> str:
        """The URL of ``database`` (without the password)."""
        return f"postgresql://{self.user}@{self.host}:{self.port}/{database}"

    def start(self) -> PostgresServer:
        """Make the cluster (the first time) and start the server; returns self."""
        sockets = self.root / "run"
        if not self.data.exists():
            sockets.mkdir(parents=True, exist_ok=True)
            pwfile = self.root / "pwfile"
            pwfile.write_text(self.password + "\n")
            pwfile.chmod(0o600)
            if self._run_as is not None:
                closed = [str(d) for d in self.root.parents if not d.stat().st_mode & 0o001]
                if closed:
                    raise RuntimeError(f"{closed[0]} is not searchable by other users, but the"
                                       f" '{SERVICE_USER}' user must reach {self.root}; set"
                                       " TMPDIR to a folder such as /tmp")
                for path in (self.root, sockets, pwfile):
                    os.chown(path, self._run_as.pw_uid, self._run_as.pw_gid)
            _run([str(self.bindir / "initdb"), "-D", str(self.data), "-U", self.user,
                  f"--pwfile={pwfile}", "--auth=scram-sha-256", "-E", "UTF8", "--no-locale",
                  "--no-sync", "--no-instructions"], self._run_as)
            pwfile.unlink()
        self.port = _free_port()
        options = " ".join([f"-p {self.port}", f"-k {sockets}", f"-c listen_addresses={HOST}",
                            *(f"-c {o}" for o in _FAST)])
        _run([str(self.bindir / "pg_ctl"), "-D", str(self.data), "-l", str(self.log_path),
              "-w", "-t", str(START_TIMEOUT_S), "-o", options, "start"], self._run_as)
        return self

    @property
    def running(self) -> bool:
        return (self.data / "postmaster.pid").exists()

    def stop(self) -> None:
        """Stop the server (its databases stay in the folder until :meth:`cleanup`)."""
        _stop(self.bindir, self.data, self._run_as)

    def cleanup(self) -> None:
        """Stop the server and remove its folder."""
        self._cleanup()

    def connect(self, database: str = "postgres") -> Any:
        """A psycopg connection to ``database`` as the server's user (autocommit)."""
        import psycopg

        return psycopg.connect(self.url(database), password=self.password, autocommit=True)

    def create_database(self, name: str | None = None) -> str:
        """A new, empty database (``t_<random>`` unless named); returns its URL."""
        name = name or f"t_{secrets.token_hex(6)}"
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _")
        with self.connect() as conn:
            conn.execute(f"CREATE DATABASE {name}")
        return self.url(name)

    def drop_database(self, name: str) -> None:
        """Remove ``name``, disconnecting whoever is still connected to it."""
        if not re.fullmatch(r"[a-z_][a-z0-9_]*", name):
            raise ValueError(f"database name {name!r}: lower-case letters, digits and _")
        with self.connect() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")

    def log_tail(self, lines: int = 40) -> str:
        """The server log's last lines (what it said when something went wrong)."""
        try:
            return "\n".join(self.log_path.read_text(errors="replace").splitlines()[-lines:])
        except OSError:
            return "(no server log)"

    def __enter__(self) -> PostgresServer:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.cleanup()


def _remove(binaries: Path, root: Path, run_as: pwd.struct_passwd | None) -> None:
    """Stop the server in ``root`` and remove the folder (the finalizer: no reference to
    the server object, so it can be collected)."""
    try:
        _stop(binaries, root / "data", run_as)
    finally:
        shutil.rmtree(root, ignore_errors=True)
