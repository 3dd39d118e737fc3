"""The throwaway Redis server (rpa.practice.redis): it starts on a loopback port of its own,
answers only those who give its password, runs beside another, keeps nothing, and leaves
nothing behind: not after stop(), not when forgotten, not when its owner is killed."""

from __future__ import annotations

import gc
import os
import socket
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
import redis

from rpa.practice import redis as throwaway
from rpa.practice.redis import RedisError, RedisServer, command

pytestmark = pytest.mark.queue
ok, why = throwaway.available()
needs_redis = pytest.mark.skipif(not ok, reason=f"Redis is not available: {why}")


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
    except ConnectionRefusedError:
        return True
    return False


def _wait_refused(port: int, seconds: float = 10) -> bool:
    deadline = time.monotonic() + seconds
    while not _refused(port):
        if time.monotonic() > deadline:
            return False
        time.sleep(0.05)
    return True


def test_the_server_answers_only_with_its_password(redis_server: RedisServer) -> None:
    port = redis_server.port
    assert redis_server.host == "127.0.0.1" and port > 0
    assert redis_server.url == f"redis://127.0.0.1:{port}/0"
    assert redis_server.password not in redis_server.url
    assert redis_server.password in redis_server.url_with_password
    assert command(port, "PING", password=redis_server.password) == "PONG"
    with pytest.raises(RedisError, match=r"^NOAUTH"):
        command(port, "PING")
    with pytest.raises(RedisError, match=r"^NOAUTH"):
        command(port, "GET", "anything")
    with pytest.raises(RedisError, match=r"^WRONGPASS"):
        command(port, "PING", password=redis_server.password + "x")
    # The redis package (celery's client) the same way: the URL alone is refused.
    with redis.Redis.from_url(redis_server.url) as anonymous, \
            pytest.raises(redis.AuthenticationError):
        anonymous.set("test_practice_redis:k", "v")
    with redis.Redis.from_url(redis_server.url_with_password) as client, \
            redis.Redis.from_url(redis_server.url, password=redis_server.password) as other:
        client.set("test_practice_redis:k", "v")
        assert other.get("test_practice_redis:k") == b"v"
        client.delete("test_practice_redis:k")


def test_the_server_listens_on_loopback_only_and_keeps_nothing(
        redis_server: RedisServer) -> None:
    def config(key: str) -> str:
        reply = redis_server.command("CONFIG", "GET", key)
        assert isinstance(reply, list) and len(reply) == 2, reply
        return bytes(reply[1]).decode()

    assert config("bind") == "127.0.0.1"
    assert config("protected-mode") == "yes"
    assert config("save") == ""
    assert config("appendonly") == "no"
    assert config("daemonize") == "no"
    assert Path(config("dir")) == redis_server.root
    assert redis_server.root.name.startswith("rpa-redis-")
    # The password is in the configuration file (its owner's only), not on the command line.
    conf = redis_server.root / "redis.conf"
    assert conf.stat().st_mode & 0o077 == 0
    assert redis_server.password in conf.read_text()
    cmdline = Path(f"/proc/{redis_server._procs[0].pid}/cmdline")
    if cmdline.exists():
        assert redis_server.password not in cmdline.read_text()


@needs_redis
def test_two_servers_run_side_by_side() -> None:
    with RedisServer() as one, RedisServer() as two:
        assert one.port != two.port and one.root != two.root
        assert one.password != two.password
        one.command("SET", "who", "one")
        two.command("SET", "who", "two")
        assert one.command("GET", "who") == b"one"
        assert two.command("GET", "who") == b"two"
        with pytest.raises(RedisError, match=r"^WRONGPASS"):
            command(two.port, "PING", password=one.password)
        one.stop()
        assert two.command("PING") == "PONG"  # the other goes on


@needs_redis
def test_stop_removes_the_folder_and_frees_the_port() -> None:
    server = RedisServer().start()
    root, port = server.root, server.port
    assert root.is_dir() and server.running
    server.stop()
    assert not root.exists()
    assert not server.running
    assert _refused(port)
    with socket.socket() as sock:  # the port is free to take again
        sock.bind(("127.0.0.1", port))
    server.stop()  # a second stop is nothing
    with pytest.raises(RuntimeError, match="starts once"):
        server.start()


@needs_redis
def test_a_forgotten_server_is_stopped() -> None:
    server = RedisServer().start()
    root, port = server.root, server.port
    del server
    gc.collect()
    assert not root.exists()
    assert _wait_refused(port, 2)


@needs_redis
@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="PR_SET_PDEATHSIG: Linux")
def test_a_killed_owner_leaves_no_server_running(tmp_path: Path) -> None:
    script = textwrap.dedent("""
        import time
        from rpa.practice.redis import RedisServer
        server = RedisServer().start()
        print(server.port, flush=True)
        time.sleep(120)
    """)
    owner = subprocess.Popen([sys.executable, "-c", script], stdout=subprocess.PIPE,
                             text=True, env={**os.environ, "TMPDIR": str(tmp_path)})
    try:
        assert owner.stdout is not None
        port = int(owner.stdout.readline())
        with pytest.raises(RedisError, match=r"^NOAUTH"):  # it is up
            command(port, "PING")
    finally:
        owner.kill()
        owner.wait()
    assert _wait_refused(port), "redis-server outlived the process that started it"


@needs_redis
def test_a_server_that_cannot_start_says_why_and_leaves_nothing(
        monkeypatch: pytest.MonkeyPatch) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        monkeypatch.setattr(throwaway, "_free_port", lambda: taken.getsockname()[1])
        server = RedisServer()
        with pytest.raises(RuntimeError, match=r"(?s)redis-server exited.*Address already in use"):
            server.start()
        assert not server.root.exists()


def test_without_redis_server_it_is_not_available(monkeypatch: pytest.MonkeyPatch,
                                                  tmp_path: Path) -> None:
    monkeypatch.setattr(throwaway, "_DEBIAN", tmp_path / "redis-server")
    monkeypatch.setenv("PATH", str(tmp_path))
    assert throwaway.binary() is None
    assert throwaway.available() == (False, "redis-server is not installed (Debian: apt-get "
                                            "install redis-server; scripts/setup.sh --test "
                                            "does it)")
    with pytest.raises(RuntimeError, match="redis-server is not installed"):
        RedisServer()
