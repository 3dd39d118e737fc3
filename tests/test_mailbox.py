"""The mailbox flow against a real Dovecot started here, seeded through IMAP APPEND."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest

from rpa.config import parse_config
from rpa.errors import ConfigError
from rpa.ledger import Ledger
from rpa.practice import dovecot
from rpa.practice.mailcorpus import OWNER_ADDRESS, demo_mails
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from tests.conftest import Sandbox

ok, why = dovecot.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"Dovecot is not available: {why}")

SEEN = "\\Seen"
# Seeded unread: the buyer whose thread is not answered, to see its state is left alone.
SEED_UNREAD = {"<demo.buyer-wendy@marketplace.amazon.com>"}
# Escalated: read, summarised, texted, then marked unread.
ESCALATED = {
    "<demo.price-change@sunrise-bamboo.example>",
    "<demo.accountant@lopez-accounting.example>",
    "<demo.pickup-change@fastfreight.example>",
    "<demo.carton-delay@kartonwerk.example>",
    "<demo.phish-support@amaz0n-seller-support.com>",
    "<demo.no-subject@acme-warehouse.example>",
    "",  # the mail with no Message-ID ("Your storage unit invoice")
    "<demo.junk-phish@amazon.example-security.com>",
}
NOTICES_TO_TRASH = {
    "<demo.copy-olivia@seller-notification.amazon.com>",
    "<demo.copy-daniel@seller-notification.amazon.com>",
    "<demo.sold-boards@seller-notification.amazon.com>",
    "<demo.sold-press@seller-notification.amazon.com>",
    "<demo.fba-sender@amazon.com>",
    "<demo.fba-subject@amazon.com>",
    "<demo.junk-sold-mat@seller-notification.amazon.com>",
    "<demo.junk-copy-rachel@seller-notification.amazon.com>",
    "<demo.junk-fba@amazon.com>",
}
ANSWERED_BUYERS = {  # answered in Seller Central by the buyer-messages flow (at-risk)
    "<demo.buyer-olivia@marketplace.amazon.com>",
    "<demo.buyer-daniel@marketplace.amazon.com>",
    "<demo.buyer-rachel@marketplace.amazon.com>",
    "<demo.junk-buyer-tom@marketplace.amazon.com>",
}
STAYS_IN_INBOX = {
    "<demo.buyer-wendy@marketplace.amazon.com>",
    "<demo.owner-answer@acme-goods.example>",
} | (ESCALATED - {"<demo.junk-phish@amazon.example-security.com>"})


def seed(server: dovecot.DovecotServer, junk: str = "Junk") -> None:
    for folder, raws in demo_mails().items():
        for raw in raws:
            mid = _mid(raw)
            flags = () if mid in SEED_UNREAD else (SEEN,)
            server.append("INBOX" if folder == "INBOX" else junk, raw, flags=flags)


def _mid(raw: bytes) -> str:
    import email

    return (email.message_from_bytes(raw).get("Message-ID") or "").strip()


def contents(server: dovecot.DovecotServer) -> dict[str, dict[str, frozenset[str]]]:
    out: dict[str, dict[str, frozenset[str]]] = {}
    for folder, items in server.snapshot().items():
        box: dict[str, frozenset[str]] = {}
        for mid, flags in items:
            key = (mid or "").strip()
            assert key not in box, f"{key!r} twice in {folder}"
            box[key] = flags
        out[folder] = box
    return out


@pytest.fixture()
def mail() -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer() as server:
        server.start()
        yield server


@pytest.fixture()
def outlook() -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer(layout="outlook") as server:
        server.start()
        yield server


def mail_config(make_config: Any, server: dovecot.DovecotServer,
                monkeypatch: pytest.MonkeyPatch, flows: list[str], **extra: Any) -> Any:
    monkeypatch.setenv("T_MAIL_PW", server.password)
    box = {"host": server.host, "port": server.port, "tls": False, "user": server.user,
           "password_env": "T_MAIL_PW", "owner_addresses": [OWNER_ADDRESS], **extra}
    return make_config(signed_in=True, flows=flows, mailbox=box)


def test_inbox_and_spam_triaged_exactly(sandbox: Sandbox, make_config: Any, receiver: Receiver,
                                        mail: dovecot.DovecotServer,
                                        monkeypatch: pytest.MonkeyPatch) -> None:
    sandbox.reset("at-risk")
    seed(mail)
    cfg = mail_config(make_config, mail, monkeypatch, ["buyer_messages", "mailbox"])
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]

    after = contents(mail)
    assert set(after["INBOX"]) == STAYS_IN_INBOX
    assert set(after["Junk"]) == {"<demo.junk-phish@amazon.example-security.com>"}
    assert set(after["Trash"]) == NOTICES_TO_TRASH | ANSWERED_BUYERS
    for folder in ("INBOX", "Junk"):
        for mid, flags in after[folder].items():
            if mid in ESCALATED:
                assert SEEN not in flags, f"{mid} must be left unread"
            elif mid in SEED_UNREAD:
                assert SEEN not in flags
            else:
                assert SEEN in flags, f"{mid}: read state must not change"
    for flags in after["Trash"].values():
        assert SEEN in flags  # moved as they were, not marked or deleted

    emails = {e["message_id"]: e for e in result.data["emails"]}
    assert len(result.data["emails"]) == 23
    wendy = emails["<demo.buyer-wendy@marketplace.amazon.com>"]
    assert wendy["action"] == "buyer_message" and "waiting" in wendy["note"]
    phish = emails["<demo.phish-support@amaz0n-seller-support.com>"]
    assert phish["rule"] == "lookalike" and phish["action"] == "escalate"
    assert phish["escalation"]
    assert emails["<demo.owner-answer@acme-goods.example>"]["action"] == "owner_reply"
    for mid in NOTICES_TO_TRASH | ANSWERED_BUYERS:
        assert emails[mid]["done"] is True
    assert result.data["email_folders"]["INBOX"]["total"] == 18
    assert result.data["email_folders"]["Junk"]["total"] == 5
    assert set(result.data["emails"][0]) >= {"folder", "message_id", "from", "subject",
                                             "rule", "action", "done", "escalation"}

    texts = [t for t in receiver.messages("sms") if t.startswith("E")]
    assert len(texts) == len(ESCALATED)
    for text in texts:
        assert len(text) <= 160 and text.endswith("-MS"), text
    assert any("Possible phishing" in t and "Amazon Seller Support" in t for t in texts)
    assert any("Maria Lopez" in t and "VAT" in t for t in texts)

    ledger = Ledger(cfg.paths.state_dir / "ledger.sqlite")
    try:
        owner = ledger.email("test", "<demo.owner-answer@acme-goods.example>")
        assert owner is not None and owner["state"] == "recorded" and owner["body"]
        assert len([e for e in ledger.escalations("test") if e["kind"] == "email"]) == 8
    finally:
        ledger.close()


def test_rerun_changes_nothing_and_escalates_nothing(make_config: Any, receiver: Receiver,
                                                    mail: dovecot.DovecotServer,
                                                    monkeypatch: pytest.MonkeyPatch) -> None:
    seed(mail)
    cfg = mail_config(make_config, mail, monkeypatch, ["mailbox"])
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    before = contents(mail)
    texts = list(receiver.items)
    # unanswered buyers stay; all eight unknown mails were texted once
    assert "<demo.buyer-olivia@marketplace.amazon.com>" in before["INBOX"]
    assert len(receiver.messages("sms")) == len(ESCALATED)  # long ones also sent details

    second = run(cfg)
    assert second.status == "ok", second.data["errors"]
    assert contents(mail) == before
    assert receiver.items == texts
    assert all(e["escalation"] is None or "escalated before" in e["note"]
               for e in second.data["emails"] if e["action"] == "escalate")


def test_outlook_names_without_special_use(make_config: Any, outlook: dovecot.DovecotServer,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    seed(outlook, junk="Junk Email")
    cfg = mail_config(make_config, outlook, monkeypatch, ["mailbox"])
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    after = contents(outlook)
    assert set(after["Deleted Items"]) == NOTICES_TO_TRASH
    assert set(after["Junk Email"]) == {"<demo.junk-buyer-tom@marketplace.amazon.com>",
                                        "<demo.junk-phish@amazon.example-security.com>"}
    assert "Junk Email" in result.data["email_folders"]


def test_dry_run_changes_nothing(make_config: Any, receiver: Receiver,
                                 mail: dovecot.DovecotServer,
                                 monkeypatch: pytest.MonkeyPatch) -> None:
    seed(mail)
    before = contents(mail)
    cfg = mail_config(make_config, mail, monkeypatch, ["mailbox"])
    result = run(cfg, dry_run=True)
    assert result.status == "ok", result.data["errors"]
    assert contents(mail) == before
    assert receiver.items == []
    actions = {e["message_id"]: e["action"] for e in result.data["emails"]}
    assert actions["<demo.sold-boards@seller-notification.amazon.com>"] == "delete"
    assert not any(e["done"] and e["action"] == "delete" for e in result.data["emails"])


def test_dovecot_restart_mid_run_loses_and_doubles_nothing(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    seed(mail)
    everything = {mid for box in contents(mail).values() for mid in box}
    cfg = mail_config(make_config, mail, monkeypatch, ["mailbox"], timeout_s=5)
    restarted: list[bool] = []

    def restart_between_folders(event: str, rec: Any) -> None:
        if event == "end" and rec.name.startswith("mailbox: INBOX") and not restarted:
            restarted.append(True)
            mail.restart()

    first = run(cfg, on_step=restart_between_folders)
    assert restarted
    assert any(e["flow"] == "mailbox" and "mail server" in e["message"]
               for e in first.data["errors"]), "the run reports the broken connection"
    second = run(cfg)
    assert second.status == "ok", second.data["errors"]
    after = contents(mail)
    seen = [mid for box in after.values() for mid in box]
    assert sorted(seen) == sorted(everything), "every message once, none lost"
    assert set(after["Trash"]) == NOTICES_TO_TRASH
    codes = [t.split(":")[0] for t in receiver.messages("sms")]
    assert len(codes) == len(set(codes)) == len(ESCALATED)


def test_plaintext_only_to_this_machine() -> None:
    data = {
        "accounts": [{"name": "a", "email": "s@example.com", "password_env": "P",
                      "totp_secret_env": "T"}],
        "va": {"full_name": "Maria Santos", "initials": "MS"},
        "mailbox": {"host": "mail.example.com", "port": 143, "tls": False, "user": "u",
                    "password_env": "M"},
    }
    with pytest.raises(ConfigError) as err:
        parse_config(data, "m.yaml")
    assert "m.yaml: mailbox.tls:" in str(err.value)
    data["mailbox"]["allow_plaintext"] = True  # type: ignore[index]
    assert parse_config(data, "m.yaml").mailbox is not None
    data["mailbox"]["rules"] = [{"name": "x", "action": "explode",  # type: ignore[index]
                                 "subject": ["a"]}]
    with pytest.raises(ConfigError) as err:
        parse_config(data, "m.yaml")
    assert "mailbox.rules[0]" in str(err.value)


def test_move_without_move_capability_expunges_exactly_those(
        mail: dovecot.DovecotServer, monkeypatch: pytest.MonkeyPatch) -> None:
    """COPY + \\Deleted + UID EXPUNGE of exactly the moved UIDs: another message already
    flagged \\Deleted by someone else stays."""
    from rpa.mail.imap import Mailbox

    raws = [f"Message-ID: <m{i}@x.example>\r\nFrom: a@x.example\r\nSubject: {i}\r\n\r\nhi\r\n"
            .encode() for i in range(5)]
    for raw in raws:
        mail.append("INBOX", raw)
    with Mailbox(mail.host, mail.port, mail.user, mail.password, tls=False) as box:
        real = box.c.has_capability
        monkeypatch.setattr(box.c, "has_capability",
                            lambda cap: False if cap.upper() == "MOVE" else real(cap))
        box.select("INBOX")
        uids = box.all_uids()
        box.c.add_flags([uids[4]], [b"\\Deleted"])  # the VA's own pending delete
        assert box.move(uids[:2], "Trash") == 2
    after = contents(mail)
    assert set(after["Trash"]) == {"<m0@x.example>", "<m1@x.example>"}
    assert set(after["INBOX"]) == {"<m2@x.example>", "<m3@x.example>", "<m4@x.example>"}


def test_command_chunks_stay_small() -> None:
    from rpa.mail.imap import chunks

    uids = list(range(1_000_000_000, 1_000_003_000))
    groups = list(chunks(uids, limit=5000))
    assert sum(len(g) for g in groups) == 3000
    assert all(len(",".join(map(str, g))) <= 7000 for g in groups)
    assert [len(g) for g in chunks(range(1, 1201), limit=500)] == [500, 500, 200]


def test_large_message_is_read_only_up_to_the_cap(mail: dovecot.DovecotServer) -> None:
    from rpa.mail.body import body_text
    from rpa.mail.imap import Mailbox

    body = ("Please call me about the pallet. " * 60000).encode()  # about 2 MB
    raw = (b"Message-ID: <big@x.example>\r\nFrom: Big Sender <big@x.example>\r\n"
           b"Subject: Huge\r\nContent-Type: text/plain; charset=utf-8\r\n\r\n" + body)
    mail.append("INBOX", raw)
    with Mailbox(mail.host, mail.port, mail.user, mail.password, tls=False) as box:
        box.select("INBOX")
        uid = box.all_uids()[0]
        got = box.bodies([uid], 4096)[uid]
    assert 0 < len(got) <= 4096
    assert body_text(got).startswith("Please call me about the pallet.")
    assert SEEN not in contents(mail)["INBOX"]["<big@x.example>"], "reading did not mark it"
