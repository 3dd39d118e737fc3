"""The throwaway Dovecot server: layouts, mail round trips, restarts, clean stops."""

from __future__ import annotations

import os
import socket
from collections.abc import Iterator
from datetime import datetime, timezone
from pathlib import Path

import pytest

from rpa.practice import dovecot
from rpa.practice.dovecot import DovecotServer
from rpa.practice.dovecot.config import DovecotConfig, config_text
from rpa.practice.dovecot.install import dovecot_binary

OK, WHY = dovecot.available()
if not OK:
    pytest.skip(WHY, allow_module_level=True)

SEEN = "\\Seen"
FLAGGED = "\\Flagged"


def message(mid: str, subject: str = "hello") -> bytes:
    return (f"Message-ID: <{mid}@test>\r\nFrom: buyer@example.com\r\nTo: seller@example.com\r\n"
            f"Subject: {subject}\r\n\r\nbody of {mid}\r\n").encode()


def alive(pid: int) -> bool:
    """Whether a process exists and is not a zombie."""
    stat = Path(f"/proc/{pid}/stat")
    if Path("/proc/self/stat").exists():
        try:
            return stat.read_text().rsplit(")", 1)[-1].split()[0] != "Z"
        except OSError:
            return False
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def port_open(port: int) -> bool:
    try:
        with socket.create_connection(("127.0.0.1", port), timeout=0.5):
            return True
    except OSError:
        return False


@pytest.fixture()
def server() -> Iterator[DovecotServer]:
    with DovecotServer() as srv:
        yield srv


def test_available_and_version() -> None:
    assert dovecot.available() == (True, "")
    assert dovecot_binary()
    version = dovecot.dovecot_version()
    assert version is not None and version >= (2, 3)


def test_special_use_layout(server: DovecotServer) -> None:
    client = server.client()
    try:
        caps = set(client.capabilities())
        folders = {name: {f.decode() for f in flags} for flags, _, name in client.list_folders()}
        subscribed = {name for _, _, name in client.list_sub_folders()}
    finally:
        client.logout()
    assert {b"SPECIAL-USE", b"MOVE"} <= caps
    assert set(folders) == {"INBOX", "Junk", "Trash", "Sent", "Drafts"}
    assert "\\Junk" in folders["Junk"]
    assert "\\Trash" in folders["Trash"]
    assert "\\Sent" in folders["Sent"]
    assert not {"\\Junk", "\\Trash", "\\Sent"} & folders["INBOX"]
    assert {"Junk", "Trash", "Sent", "Drafts"} <= subscribed


def test_outlook_layout_has_no_special_use() -> None:
    special = {"\\All", "\\Archive", "\\Drafts", "\\Flagged", "\\Junk", "\\Sent", "\\Trash"}
    with DovecotServer(layout="outlook") as srv:
        client = srv.client()
        try:
            folders = {name: {f.decode() for f in flags}
                       for flags, _, name in client.list_folders()}
            subscribed = {name for _, _, name in client.list_sub_folders()}
        finally:
            client.logout()
        assert set(folders) == {"INBOX", "Junk Email", "Deleted Items", "Sent Items"}
        assert all(not flags & special for flags in folders.values())
        assert {"Junk Email", "Deleted Items", "Sent Items"} <= subscribed
        assert srv.snapshot() == {"INBOX": [], "Junk Email": [], "Deleted Items": [],
                                  "Sent Items": []}


def test_append_and_snapshot_round_trip(server: DovecotServer) -> None:
    when = datetime(2024, 5, 1, 12, 30, tzinfo=timezone.utc)
    server.append("INBOX", message("unread"))
    server.append("INBOX", message("read"), flags=(SEEN,), when=when)
    server.append("Junk", message("spam"), flags=(SEEN, FLAGGED))
    server.append_many("INBOX", [message(f"bulk{i:03}") for i in range(120)], flags=(SEEN,))
    server.append_many("Trash", [message("gone")])
    server.append_many("Sent", [])

    expected_inbox = sorted(
        [("<unread@test>", frozenset()), ("<read@test>", frozenset({SEEN}))]
        + [(f"<bulk{i:03}@test>", frozenset({SEEN})) for i in range(120)])
    snap = server.snapshot()
    assert snap == {
        "INBOX": expected_inbox,
        "Junk": [("<spam@test>", frozenset({SEEN, FLAGGED}))],
        "Trash": [("<gone@test>", frozenset())],
        "Sent": [],
        "Drafts": [],
    }
    # Snapshots look without touching: the unread message is still unread.
    assert server.snapshot() == snap

    client = server.client()
    try:
        client.select_folder("INBOX", readonly=True)
        uids = client.search(["HEADER", "Message-ID", "<read@test>"])
        internal = client.fetch(uids, ["INTERNALDATE"])[uids[0]][b"INTERNALDATE"]
    finally:
        client.logout()
    assert internal.astimezone(timezone.utc) == when


def test_restart_keeps_mail_and_port(server: DovecotServer) -> None:
    server.append("INBOX", message("kept"), flags=(SEEN,))
    server.append("Junk", message("junk"))
    before = server.snapshot()
    port = server.port
    old_client = server.client()
    old_client.select_folder("INBOX")

    server.restart()

    assert server.running and server.port == port
    assert server.snapshot() == before
    with pytest.raises(Exception):  # noqa: B017 - the old session is simply gone
        old_client.noop()
    server.append("INBOX", message("after"))
    assert ("<after@test>", frozenset()) in server.snapshot()["INBOX"]


def test_two_servers_side_by_side() -> None:
    with DovecotServer() as one, DovecotServer(layout="outlook", user="other") as two:
        assert one.port != two.port and one.root != two.root
        one.append("INBOX", message("for-one"))
        two.append("Junk Email", message("for-two"), flags=(SEEN,))
        assert one.snapshot()["INBOX"] == [("<for-one@test>", frozenset())]
        assert two.snapshot()["INBOX"] == []
        assert two.snapshot()["Junk Email"] == [("<for-two@test>", frozenset({SEEN}))]


def test_stop_leaves_no_processes() -> None:
    srv = DovecotServer().start()
    try:
        client = srv.client()  # an open session means an imap process to clean up too
        client.select_folder("INBOX")
        pids = srv.pids()
        port = srv.port
        assert len(pids) > 1 and all(alive(pid) for pid in pids)
        srv.stop()
        assert not srv.running
        assert [pid for pid in pids if alive(pid)] == []
        assert not port_open(port)
        config = str(srv.config_path).encode()
        for entry in Path("/proc").glob("[0-9]*"):
            try:
                assert config not in (entry / "cmdline").read_bytes()
            except OSError:
                continue
    finally:
        srv.cleanup()
    assert not srv.root.exists()


def test_start_failure_raises_with_log() -> None:
    with socket.socket() as blocker:
        blocker.bind(("127.0.0.1", 0))
        blocker.listen()
        srv = DovecotServer()
        srv.port = blocker.getsockname()[1]
        try:
            with pytest.raises(RuntimeError, match="Address already in use"):
                srv.start()
            assert not srv.running
        finally:
            srv.cleanup()


def fixed_settings(layout: str) -> DovecotConfig:
    """Config values that don't depend on who runs the tests."""
    root = Path("/tmp/rpa-dovecot-test")
    return DovecotConfig(root=root, home=root / "home", log_path=root / "dovecot.log",
                         host="127.0.0.1", port=1143, layout=layout, mail_uid=65534,
                         mail_gid=65534, login_user="dovenull", internal_user="dovecot",
                         internal_group="dovecot", chroot=True)


def test_config_for_dovecot_24() -> None:
    text = config_text(fixed_settings("outlook"), (2, 4))
    lines = [line for line in text.splitlines() if line and not line.startswith("#")]
    assert lines[0] == "dovecot_config_version = 2.4.0"
    assert "dovecot_storage_version = 2.4.0" in lines
    assert "auth_allow_cleartext = yes" in lines
    assert "passdb passwd-file {" in lines and "userdb static {" in lines
    assert "mail_driver = maildir" in lines
    for old in ("mail_location", "disable_plaintext_auth", "  driver =", "  args ="):
        assert old not in text
    assert "special_use" not in text


def test_config_syntax_follows_the_version() -> None:
    settings = fixed_settings("special-use")
    for version in ((2, 3), None):
        text = config_text(settings, version)
        assert text.startswith("# Generated by rpa.practice.dovecot (Dovecot 2.3 syntax)")
        assert "mail_location = maildir:/tmp/rpa-dovecot-test/home/Maildir" in text
    assert config_text(settings, (2, 5)) == config_text(settings, (2, 4))
    srv = DovecotServer()
    srv.port = 1143
    try:
        assert srv.config_text() == config_text(srv.settings(), dovecot.dovecot_version())
    finally:
        srv.cleanup()
