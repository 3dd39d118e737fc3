"""`python -m rpa.cli` as a real process, without its start-up: a fork server.

A process started once (``CliForkServer``) imports what `python -m rpa.cli` imports before
it runs a command (about 0.7 s of CPU a process), then waits. Each command is a child it
forks: the child takes the caller's stdin, stdout and stderr (pipes, as ``subprocess.run``
gives), the command's working directory and arguments, and runs ``rpa.cli`` as
`python -m` does (``runpy``, ``__main__``, ``sys.argv``, ``sys.path[0]`` the working
directory); the interpreter then ends as any does (an exception's traceback, atexit, the
exit code of ``SystemExit``). The server reports the child's exit status, as ``wait``
gives it (a signal is a negative code, as ``subprocess`` has it).

The child is a process of its own: a lock held by the test is held by another process,
as it is for a command started afresh. What the server's start fixes for every command
is its environment: the server is started with the environment the commands get (rich's
consoles read NO_COLOR and COLUMNS when ``rpa.cli`` is imported), and a command cannot
have another.

Run as a script, this file is the server: ``python cli_forkserver.py SOCKET``.
"""

from __future__ import annotations

import json
import os
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

START_TIMEOUT_S = 60.0
MAX_FDS = 3  # stdin, stdout, stderr


class CliForkServer:
    """The server process, started with ``env``; :meth:`run` runs one `rpa` command (from
    any thread). The server stops with the thread that started it (its parent-death
    signal), so start it from one that outlives its use (the test's, not a pool's)."""

    def __init__(self, env: dict[str, str]) -> None:
        self.env = dict(env)
        self._dir = tempfile.mkdtemp(prefix="rpa-forkserver-")
        self.socket_path = os.path.join(self._dir, "server.sock")
        self._log = open(os.path.join(self._dir, "server.log"), "wb")  # noqa: SIM115
        self._proc = subprocess.Popen(
            [sys.executable, __file__, self.socket_path], env=self.env, cwd=self._dir,
            stdin=subprocess.DEVNULL, stdout=self._log, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + START_TIMEOUT_S
        while not os.path.exists(self.socket_path):
            if self._proc.poll() is not None or time.monotonic() > deadline:
                self.stop()
                raise RuntimeError(f"the fork server did not start: {self.log()}")
            time.sleep(0.02)

    def log(self) -> str:
        return Path(self._dir, "server.log").read_text(errors="replace")

    def run(self, args: list[str], *, cwd: Path, input: str = "",
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python -m rpa.cli *args`` in ``cwd``, ``input`` on its stdin, as
        ``subprocess.run(..., capture_output=True, text=True, check=False)`` returns it."""
        stdin_r, stdin_w = os.pipe()
        out_r, out_w = os.pipe()
        err_r, err_w = os.pipe()
        conn = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
        pid = 0
        try:
            conn.connect(self.socket_path)
            request = json.dumps({"args": args, "cwd": str(cwd)}).encode()
            socket.send_fds(conn, [request + b"\n"], [stdin_r, out_w, err_w])
        finally:
            for fd in (stdin_r, out_w, err_w):
                os.close(fd)  # the child holds them now: its end is our end of file
        deadline = time.monotonic() + timeout
        chunks: dict[int, list[bytes]] = {out_r: [], err_r: []}
        reply = b""
        with selectors.DefaultSelector() as sel:
            try:
                if input:
                    os.write(stdin_w, input.encode())
            except BrokenPipeError:
                pass  # the command ended without reading it
            finally:
                os.close(stdin_w)
            sel.register(out_r, selectors.EVENT_READ)
            sel.register(err_r, selectors.EVENT_READ)
            sel.register(conn, selectors.EVENT_READ)
            status: dict[str, Any] | None = None
            try:
                while sel.get_map():
                    left = deadline - time.monotonic()
                    if left <= 0:
                        if pid:
                            os.kill(pid, signal.SIGKILL)
                        raise subprocess.TimeoutExpired(["rpa", *args], timeout)
                    for key, _ in sel.select(left):
                        if key.fileobj is conn:
                            data = conn.recv(4096)
                            reply += data
                            while b"\n" in reply:
                                line, reply = reply.split(b"\n", 1)
                                message = json.loads(line)
                                if "pid" in message:
                                    pid = message["pid"]
                                else:
                                    status = message
                            if not data:
                                sel.unregister(conn)
                            continue
                        fd = key.fd
                        data = os.read(fd, 65536)
                        if data:
                            chunks[fd].append(data)
                        else:
                            sel.unregister(fd)
            finally:
                conn.close()
                os.close(out_r)
                os.close(err_r)
        if status is None:
            raise RuntimeError(f"the fork server said nothing of `rpa {args}`: {self.log()}")
        return subprocess.CompletedProcess(
            ["rpa", *args], status["returncode"], _text(b"".join(chunks[out_r])),
            _text(b"".join(chunks[err_r])))

    def stop(self) -> None:
        if self._proc.poll() is None:
            self._proc.terminate()
            try:
                self._proc.wait(10)
            except subprocess.TimeoutExpired:
                self._proc.kill()
                self._proc.wait()
        self._log.close()
        for name in os.listdir(self._dir):
            os.unlink(os.path.join(self._dir, name))
        os.rmdir(self._dir)

    def __enter__(self) -> CliForkServer:
        return self

    def __exit__(self, *exc: object) -> None:
        self.stop()


class CliForkServers:
    """Fork servers by environment, started as commands need them: a command runs in the
    server started with exactly its environment (a command of another is another's)."""

    def __init__(self) -> None:
        self._servers: dict[tuple[tuple[str, str], ...], CliForkServer] = {}

    def run(self, args: list[str], *, cwd: Path, env: dict[str, str], input: str = "",
            timeout: float = 120) -> subprocess.CompletedProcess[str]:
        """``python -m rpa.cli *args`` in ``cwd`` with ``env`` (the whole environment)."""
        return self.start(env).run(args, cwd=cwd, input=input, timeout=timeout)

    def start(self, env: dict[str, str]) -> CliForkServer:
        """The server for ``env``, started now if it is not yet: commands run from a pool's
        threads need theirs started first from the test's own thread (the server stops
        with the thread that started it)."""
        key = tuple(sorted(env.items()))
        server = self._servers.get(key)
        if server is None:
            server = self._servers[key] = CliForkServer(env)
        return server

    def stop(self) -> None:
        servers, self._servers = list(self._servers.values()), {}
        for server in servers:
            server.stop()


def _text(data: bytes) -> str:
    """As ``subprocess`` decodes a text stream: the locale's encoding, universal newlines."""
    import locale

    text = data.decode(locale.getpreferredencoding(False))
    return text.replace("\r\n", "\n").replace("\r", "\n")


# ---- the server ------------------------------------------------------------------------

def _die_with_parent() -> None:
    """The server is told to stop (SIGTERM) when the test process that started it dies
    without stopping it (Linux: the parent-death signal; a forked child does not keep it)."""
    import ctypes

    pr_set_pdeathsig = 1
    ctypes.CDLL(None).prctl(pr_set_pdeathsig, signal.SIGTERM, 0, 0, 0)
    if os.getppid() == 1:  # the parent is gone already
        os.kill(os.getpid(), signal.SIGTERM)


def _serve(socket_path: str) -> tuple[list[str], str]:
    """Accept commands until told to stop; in a forked child, return its arguments and
    working directory (the child then runs the command)."""
    import threading

    listener = socket.socket(socket.AF_UNIX, socket.SOCK_STREAM)
    listener.bind(socket_path + ".new")
    listener.listen(16)
    wake_r, wake_w = os.pipe()
    os.set_blocking(wake_w, False)
    signal.set_wakeup_fd(wake_w)
    signal.signal(signal.SIGCHLD, lambda *_: None)  # the wakeup fd hears it
    stop = False

    def stopping(*_: object) -> None:
        nonlocal stop
        stop = True

    signal.signal(signal.SIGTERM, stopping)
    _die_with_parent()
    os.rename(socket_path + ".new", socket_path)  # the client waits for this name
    waiting: dict[int, socket.socket] = {}  # a child's pid: who asked for it
    sel = selectors.DefaultSelector()
    sel.register(listener, selectors.EVENT_READ)
    sel.register(wake_r, selectors.EVENT_READ)
    while not stop:
        for key, _ in sel.select():
            if key.fileobj is wake_r:
                os.read(wake_r, 4096)
                continue
            conn, _addr = listener.accept()
            msg, fds, _flags, _addr = socket.recv_fds(conn, 1 << 20, MAX_FDS)
            request = json.loads(msg)
            if len(fds) != MAX_FDS:
                raise RuntimeError(f"expected {MAX_FDS} descriptors, got {len(fds)}")
            assert threading.active_count() == 1, "a fork of a process with threads"
            sys.stdout.flush()
            sys.stderr.flush()
            pid = os.fork()
            if pid == 0:  # the command's process
                signal.set_wakeup_fd(-1)
                signal.signal(signal.SIGCHLD, signal.SIG_DFL)
                signal.signal(signal.SIGTERM, signal.SIG_DFL)
                sel.close()
                for sock in (listener, conn, *waiting.values()):
                    sock.close()
                os.close(wake_r)
                os.close(wake_w)
                for target, fd in enumerate(fds):
                    os.dup2(fd, target)
                    os.close(fd)
                return request["args"], request["cwd"]
            for fd in fds:
                os.close(fd)
            conn.sendall(json.dumps({"pid": pid}).encode() + b"\n")
            waiting[pid] = conn
        while waiting:  # the children that ended: their status to whoever asked
            pid, wait_status, usage = os.wait4(-1, os.WNOHANG)
            if pid == 0:
                break
            conn = waiting.pop(pid)
            code = os.waitstatus_to_exitcode(wait_status)
            try:
                conn.sendall(json.dumps({"returncode": code, "cpu_s": round(
                    usage.ru_utime + usage.ru_stime, 3)}).encode() + b"\n")
            except OSError:
                pass  # the caller gave up (its timeout)
            conn.close()
    sys.exit(0)


if __name__ == "__main__":
    import gc
    import runpy

    import rpa.cli  # noqa: F401 - what `python -m rpa.cli` imports before the command runs

    # What was imported stays out of the children's collections: a collection walking it
    # would copy each page it touches into the child (its CPU: 0.23 s -> 0.15 s a command).
    gc.freeze()

    args, cwd = _serve(sys.argv[1])
    os.chdir(cwd)
    sys.argv = [sys.argv[0], *args]  # runpy sets argv[0] to rpa/cli/__main__.py
    sys.path[0] = os.getcwd()  # as `python -m` has it
    del args, cwd
    runpy.run_module("rpa.cli", run_name="__main__", alter_sys=True)
