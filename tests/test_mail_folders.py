"""Finding Inbox, Spam and Trash on every kind of host: the pure matcher, then real Dovecot
servers laid out as cPanel/Courier, INBOX children with "/", a French mailbox and one with
no Spam folder, each triaged by a mailbox-only run without Seller Central secrets."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import unicodedata
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.errors import ApplicationError, ConfigError
from rpa.mail.folders import Folders, FoldersNotFound, Listed, find_folders, relative_path
from rpa.practice import dovecot
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run

DOVECOT, WHY = dovecot.available()
needs_dovecot = pytest.mark.skipif(not DOVECOT, reason=f"Dovecot is not available: {WHY}")
SEEN = "\\Seen"


def listed(*names: str, delim: str = "/", flags: dict[str, str] | None = None) -> list[Listed]:
    """A LIST result: ``flags`` maps a name to its space-separated flags."""
    flags = flags or {}
    return [Listed(name, delim, frozenset(flags.get(name, "").lower().split()))
            for name in names]


# --------------------------------------------------------------------------- the matcher

@pytest.mark.parametrize(("names", "delim", "prefixes", "spam", "trash"), [
    # cPanel/Courier: everything under the INBOX. prefix, "." between levels
    (("INBOX", "INBOX.Junk", "INBOX.Trash", "INBOX.Sent"), ".", ["INBOX."],
     "INBOX.Junk", "INBOX.Trash"),
    # the same without a NAMESPACE answer: children of INBOX still count
    (("INBOX", "INBOX.spam", "INBOX.Deleted Messages"), ".", [], "INBOX.spam",
     "INBOX.Deleted Messages"),
    (("INBOX", "INBOX/Spam", "INBOX/Trash", "Spam reports"), "/", [""],
     "INBOX/Spam", "INBOX/Trash"),
    (("INBOX", "Junk Email", "Deleted Items", "Sent Items"), "/", [""],
     "Junk Email", "Deleted Items"),
    (("INBOX", "Spam-Verdacht", "Papierkorb", "Gesendet"), "/", [""],
     "Spam-Verdacht", "Papierkorb"),
    (("INBOX", "Courrier indésirable", "Corbeille"), "/", [""],
     "Courrier indésirable", "Corbeille"),
    (("INBOX", "Posta indesiderata", "Cestino"), "/", [""], "Posta indesiderata", "Cestino"),
    (("INBOX", "Correo no deseado", "Papelera"), "/", [""], "Correo no deseado", "Papelera"),
    (("INBOX", "[Gmail]", "[Gmail]/Spam", "[Gmail]/Bin"), "/", [""],
     "[Gmail]/Spam", "[Gmail]/Bin"),
    # case does not matter; a name that only starts like one never counts
    (("Inbox", "JUNK", "trash"), "/", [""], "JUNK", "trash"),
    (("INBOX", "Spam reports", "Junk mail archive", "Old Trash", "Trash can"), "/", [""],
     None, None),
])
def test_well_known_names_on_every_layout(names: tuple[str, ...], delim: str,
                                          prefixes: list[str], spam: str | None,
                                          trash: str | None) -> None:
    found = find_folders(listed(*names, delim=delim), prefixes=prefixes)
    assert (found.spam, found.trash) == (spam, trash), found.how
    assert found.inbox == names[0]
    assert found.names == list(names)


def test_special_use_wins_over_names_and_configured_names_over_both() -> None:
    listing = listed("INBOX", "Spam", "Quarantine", "Trash", "Bin",
                     flags={"Quarantine": "\\HasNoChildren \\Junk", "Bin": "\\Trash"})
    found = find_folders(listing)
    assert (found.spam, found.trash) == ("Quarantine", "Bin")
    assert found.how == {"spam": "special-use \\Junk", "trash": "special-use \\Trash"}

    mine = find_folders(listing, spam_names=["nothing here", "spam"], trash_names=["TRASH"])
    assert (mine.spam, mine.trash) == ("Spam", "Trash")
    assert mine.how["spam"] == "configured name 'spam'"


def test_configured_name_matches_below_the_namespace_prefix() -> None:
    listing = listed("INBOX", "INBOX.Filtered", "INBOX.Trash", delim=".")
    found = find_folders(listing, prefixes=["INBOX."], spam_names=["Filtered"])
    assert (found.spam, found.trash) == ("INBOX.Filtered", "INBOX.Trash")
    assert find_folders(listing, prefixes=["INBOX."],
                        spam_names=["INBOX.Filtered"]).spam == "INBOX.Filtered"


def test_a_name_fitting_two_folders_decides_nothing() -> None:
    listing = listed("INBOX", "Spam", "SPAM", "Trash",
                     flags={"Trash": "\\Trash"})
    found = find_folders(listing)
    assert found.spam is None
    assert "several folders" in found.how["spam"] and "'SPAM'" in found.how["spam"]
    # one top-level, one child of INBOX: the exact full name is the one meant
    assert find_folders(listed("INBOX", "Junk", "INBOX/Junk", "Trash")).spam == "Junk"


def test_unselectable_folders_and_unicode_forms() -> None:
    nfd = unicodedata.normalize("NFD", "Courrier indésirable")
    listing = listed("INBOX", "Spam", nfd, "Corbeille",
                     flags={"Spam": "\\Noselect \\HasChildren"})
    found = find_folders(listing)
    assert (found.spam, found.trash) == (nfd, "Corbeille")


def test_relative_path() -> None:
    assert relative_path(Listed("INBOX.Junk", "."), ["INBOX."]) == "Junk"
    assert relative_path(Listed("INBOX.Archive.Spam", "."), ["INBOX."]) == "Archive/Spam"
    assert relative_path(Listed("inbox/Spam", "/"), [""]) == "Spam"
    assert relative_path(Listed("INBOX", "/"), [""]) == "INBOX"
    assert relative_path(Listed("Archive/Spam", "/"), [""]) == "Archive/Spam"


def test_missing_folder_error_lists_the_servers_folders() -> None:
    found = find_folders(listed("INBOX", "Sent", "Spam reports", "Trash"),
                         host="imap.example.com")
    assert found.trash == "Trash" and found.spam is None
    with pytest.raises(FoldersNotFound) as err:
        found.require()
    text = str(err.value)
    assert "\n" not in text  # the run's error shows the first line only
    assert "Spam folder not found on imap.example.com" in text
    assert "INBOX, Sent, Spam reports, Trash" in text
    assert "mailbox.spam_folders" in text and "Trash folder" not in text
    assert isinstance(err.value, ApplicationError) and err.value.retryable is False

    both = find_folders(listed("INBOX", *(f"Project {i:03}" for i in range(60))))
    with pytest.raises(FoldersNotFound) as err:
        both.require()
    assert "Trash folder not found" in str(err.value)
    assert "mailbox.spam_folders / mailbox.trash_folders" in str(err.value)
    assert "(21 more)" in str(err.value)
    Folders("INBOX", "Junk", "Trash", {}).require()  # both there: nothing raised


def test_spam_trash_and_inbox_must_be_different_folders() -> None:
    same = find_folders(listed("INBOX", "Junk", "Trash"), spam_names=["trash"])
    assert same.spam == same.trash == "Trash"
    with pytest.raises(FoldersNotFound, match="Spam and Trash would be the same folder"):
        same.require()
    with pytest.raises(FoldersNotFound, match="Inbox and Spam"):
        find_folders(listed("INBOX", "Trash"), spam_names=["inbox"]).require()


# --------------------------------------------------------------------------- real Dovecot

def _mail(mid: str, sender: str, subject: str, *, authenticated: bool = False) -> bytes:
    auth = ("Authentication-Results: mx.test.example; dkim=pass header.d=amazon.com; "
            "spf=pass smtp.mailfrom=amazon.com; dmarc=pass header.from=amazon.com\r\n"
            if authenticated else "")
    return (f"{auth}Message-ID: <{mid}@folders.test>\r\nFrom: {sender}\r\n"
            f"To: support@acme-goods.example\r\nSubject: {subject}\r\n"
            "Date: Mon, 10 Mar 2025 07:00:00 +0000\r\nContent-Type: text/plain\r\n\r\n"
            "Hello, please let me know about the new prices for April. Thanks\r\n").encode()


SOLD = _mail("sold", "Amazon Seller Central <seller-notification@amazon.com>",
             "Sold, ship now: Bamboo board", authenticated=True)
FBA = _mail("fba", "Amazon Seller Central <seller-notification@amazon.com>",
            "Fulfillment by Amazon: save on shipping", authenticated=True)
SUPPLIER = _mail("supplier", "Sunrise Bamboo <sales@sunrise-bamboo.example>",
                 "Price change for April")
UNKNOWN = _mail("unknown", "Kartonwerk <info@kartonwerk.example>", "Cartons delayed")

# layout -> (Spam folder, Trash folder, the other folders)
LAYOUT_FOLDERS = {
    "courier": ("INBOX.Junk", "INBOX.Trash", ("INBOX.Sent", "INBOX.Drafts")),
    "inbox-children": ("INBOX/Spam", "INBOX/Trash", ("Sent", "Spam reports")),
    "french": ("Courrier indésirable", "Corbeille", ("Éléments envoyés",)),
}


def _server(layout: str) -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer(layout=layout) as server:
        server.start()
        yield server


@pytest.fixture(params=sorted(LAYOUT_FOLDERS))
def host(request: pytest.FixtureRequest) -> Iterator[dovecot.DovecotServer]:
    yield from _server(request.param)


@pytest.fixture()
def no_spam() -> Iterator[dovecot.DovecotServer]:
    yield from _server("no-spam")


def mailbox_only_config(make_config: Any, server: dovecot.DovecotServer,
                        monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Any:
    """A config whose run is the mailbox alone, with the Seller Central secrets unset."""
    monkeypatch.setenv("T_MAIL_PW", server.password)
    box = {"host": server.host, "port": server.port, "tls": False, "user": server.user,
           "password_env": "T_MAIL_PW", **extra}
    cfg = make_config(flows=["mailbox"], mailbox=box)
    monkeypatch.delenv("T_SC_PASSWORD")
    monkeypatch.delenv("T_SC_TOTP")
    return cfg


def snapshot(server: dovecot.DovecotServer) -> dict[str, dict[str, frozenset[str]]]:
    return {folder: {mid: flags for mid, flags in items}
            for folder, items in server.snapshot().items()}


@needs_dovecot
def test_each_layout_triages_inbox_and_spam_into_its_trash(
        host: dovecot.DovecotServer, make_config: Any, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    spam, trash, others = LAYOUT_FOLDERS[host.layout]
    client = host.client()
    try:
        flags = {name: {f.decode().lower() for f in fl} for fl, _, name in client.list_folders()}
        personal = client.namespace().personal
        raw_names = client._imap.list()[1]  # noqa: SLF001 - the names as sent on the wire
    finally:
        client.logout()
    assert set(flags) == {"INBOX", spam, trash, *others}
    assert not {"\\junk", "\\trash"} & set().union(*flags.values()), "found by name"
    assert personal[0][0] == ("INBOX." if host.layout == "courier" else "")
    if host.layout == "french":  # non-ASCII names travel as modified UTF-7
        assert any(b'"Courrier ind&AOk-sirable"' in line for line in raw_names)

    host.append("INBOX", SOLD, flags=(SEEN,))
    host.append("INBOX", SUPPLIER, flags=(SEEN,))
    host.append(spam, FBA, flags=(SEEN,))
    host.append(spam, UNKNOWN, flags=(SEEN,))
    cfg = mailbox_only_config(make_config, host, monkeypatch)

    result = run(cfg, flows=["mailbox"])

    assert result.status == "ok" and result.exit_code == 0, result.data["errors"]
    assert snapshot(host) == {
        "INBOX": {"<supplier@folders.test>": frozenset()},  # escalated: left unread
        spam: {"<unknown@folders.test>": frozenset()},
        trash: {"<sold@folders.test>": frozenset({SEEN}), "<fba@folders.test>":
                frozenset({SEEN})},
        **{name: {} for name in others},
    }
    assert set(result.data["email_folders"]) == {"INBOX", spam}
    steps = result.data["flows"]["mailbox"]["steps"]
    assert f"Spam={spam} (name " in steps[0]["name"]
    assert f"Trash={trash} (name " in steps[0]["name"]
    texts = receiver.messages("sms")
    assert len(texts) == 2 and all(t.startswith("E") for t in texts), texts


@needs_dovecot
def test_no_spam_folder_fails_once_with_the_folder_list_and_moves_nothing(
        no_spam: dovecot.DovecotServer, make_config: Any, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    no_spam.append("INBOX", SOLD, flags=(SEEN,))
    no_spam.append("INBOX", SUPPLIER, flags=(SEEN,))
    no_spam.append("Spam reports", UNKNOWN, flags=(SEEN,))
    before = snapshot(no_spam)
    cfg = mailbox_only_config(make_config, no_spam, monkeypatch)

    result = run(cfg, flows=["mailbox"])

    assert (result.status, result.exit_code) == ("failed", 1)
    assert snapshot(no_spam) == before, "nothing read as triaged, nothing moved"
    flow = result.data["flows"]["mailbox"]
    assert flow["attempts"] == 1, "the same folders would be found again: not retried"
    (error,) = result.data["errors"]
    assert error["type"] == "FoldersNotFound" and error["kind"] == "application"
    assert "Spam folder not found" in error["message"]
    assert "INBOX, Sent, Spam reports, Trash" in error["message"]
    assert "mailbox.spam_folders" in error["message"]
    texts = receiver.messages("sms")
    assert len(texts) == 1 and "mailbox" in texts[0], texts
    assert result.data["run_alert"]["sent"] is True
    # the same cause on the next run the same day fails again but texts the owner no more
    rerun = run(cfg, flows=["mailbox"])
    assert (rerun.status, rerun.exit_code) == ("failed", 1)
    assert receiver.messages("sms") == texts

    # naming the folder in the configuration is the fix the message points to
    fixed = mailbox_only_config(make_config, no_spam, monkeypatch,
                                spam_folders=["Spam reports"])
    again = run(fixed, flows=["mailbox"])
    assert again.status == "ok", again.data["errors"]
    after = snapshot(no_spam)
    assert set(after["Trash"]) == {"<sold@folders.test>"}
    assert set(after["Spam reports"]) == {"<unknown@folders.test>"}


@needs_dovecot
def test_mailbox_run_needs_only_the_mailbox_secret(
        make_config: Any, receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    with dovecot.DovecotServer() as server:
        server.start()
        server.append("INBOX", SOLD, flags=(SEEN,))
        cfg = mailbox_only_config(make_config, server, monkeypatch)
        result = run(cfg, flows=["mailbox"])
        assert result.status == "ok", result.data["errors"]
        assert set(snapshot(server)["Trash"]) == {"<sold@folders.test>"}
        assert "login" not in result.data["flows"]
        # a Seller Central flow still asks for its own secrets, before any browser starts
        with pytest.raises(ConfigError) as err:
            run(cfg, flows=["dashboard"])
        assert "T_SC_PASSWORD" in str(err.value)
        assert "accounts[0].password_env" in str(err.value)


@needs_dovecot
def test_rpa_run_flow_mailbox_with_only_the_mailbox_secret(
        tmp_path: Path, receiver: Receiver) -> None:
    """The command a VA types, in its own process, with no Seller Central secret set."""
    with dovecot.DovecotServer(layout="courier") as server:
        server.start()
        server.append("INBOX", SOLD, flags=(SEEN,))
        server.append("INBOX.Junk", SUPPLIER, flags=(SEEN,))
        data = yaml.safe_load(Path("rpa.example.yaml").read_text())
        acc = data["accounts"][0]
        data.update(
            flows=["mailbox"],
            mailbox={"host": server.host, "port": server.port, "tls": False,
                     "user": server.user, "password_env": "T_MAIL_PW"},
            paths={"state_dir": str(tmp_path / "state"),
                   "recordings_dir": str(tmp_path / "recordings")})
        data.pop("smtp", None)
        path = tmp_path / "rpa.yaml"
        path.write_text(yaml.safe_dump(data))
        env = {k: v for k, v in os.environ.items()
               if k not in (acc["password_env"], acc["totp_secret_env"])}
        env.update({"NO_COLOR": "1", "COLUMNS": "200", "T_MAIL_PW": server.password,
                    data["notify"]["sms"]["url_env"]: receiver.url("sms"),
                    data["notify"]["details"]["url_env"]: receiver.url("details")})

        def rpa_run(flow: str) -> subprocess.CompletedProcess[str]:
            return subprocess.run([sys.executable, "-m", "rpa.cli", "run", "--flow", flow,
                                   "--config", str(path)], cwd=tmp_path, env=env,
                                  capture_output=True, text=True, timeout=180, check=False)

        proc = rpa_run("mailbox")
        assert proc.returncode == 0, proc.stdout + proc.stderr
        after = snapshot(server)
        # the same environment cannot run a Seller Central flow: it is the secrets' absence
        # that the mailbox run did without
        seller = rpa_run("dashboard")
        assert seller.returncode == 2, seller.stdout + seller.stderr
        assert acc["password_env"] in seller.stdout + seller.stderr
    assert set(after["INBOX.Trash"]) == {"<sold@folders.test>"}
    assert set(after["INBOX.Junk"]) == {"<supplier@folders.test>"}  # escalated, kept
    texts = receiver.messages("sms")
    assert len(texts) == 1 and re.match(r"E001-[A-Z2-9]{4}: ", texts[0]), texts
    assert acc["password_env"] not in proc.stdout + proc.stderr
