"""Trusting only authenticated Amazon mail, end to end: a real Dovecot started here, the
mailbox flow alone (no browser), the owner's texts caught by a real HTTP receiver."""

from __future__ import annotations

import email
from collections.abc import Iterator
from typing import Any

import pytest

from rpa.mail.amazon import RELAY_DOMAINS
from rpa.practice import dovecot
from rpa.practice.mailcorpus import (
    AUTHSERV_ID,
    OWNER_ADDRESS,
    relay_buyer_mail,
    stamp,
    trust_mails,
)
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run

ok, why = dovecot.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"Dovecot is not available: {why}")

SEEN = "\\Seen"
HIDDEN = ("\u202e", "\u202c", "\u200b")


@pytest.fixture()
def mail() -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer() as server:
        server.start()
        yield server


def _mid(raw: bytes) -> str:
    return (email.message_from_bytes(raw).get("Message-ID") or "").strip()


def contents(server: dovecot.DovecotServer) -> dict[str, dict[str, frozenset[str]]]:
    return {folder: {(mid or "").strip(): flags for mid, flags in items}
            for folder, items in server.snapshot().items()}


def mailbox_config(make_config: Any, server: dovecot.DovecotServer,
                   monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Any:
    monkeypatch.setenv("T_MAIL_PW", server.password)
    box = {"host": server.host, "port": server.port, "tls": False, "user": server.user,
           "password_env": "T_MAIL_PW", "owner_addresses": [OWNER_ADDRESS], **extra}
    return make_config(flows=["mailbox"], mailbox=box)


def texts_by_code(receiver: Receiver) -> list[str]:
    return [t for t in receiver.messages("sms") if t[:1] == "E"]


# Where each case of trust_mails() ends up with the receiving server's authserv-id set and
# every mail stamped by that server (a mail it found nothing about says "none").
TRASHED = {"authenticated"}
PHISHING = {"spoofed_sold", "spoofed_disbursement", "foreign_pass_under_fail",
            "address_in_name", "reversed_name", "zero_width_name", "several_from",
            "empty_address", "amazon_second_from", "amazon_inside_address"}
UNVERIFIED = {"foreign_header_only", "no_header"}
IN_JUNK = {"spoofed_disbursement", "zero_width_name"}


def test_only_authenticated_amazon_mail_is_trusted(make_config: Any, receiver: Receiver,
                                                   mail: dovecot.DovecotServer,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    cases = trust_mails()
    assert set(cases) == TRASHED | PHISHING | UNVERIFIED
    ids = {case: _mid(raw) for case, raw in cases.items()}
    for case, raw in cases.items():
        mail.append("Junk" if case in IN_JUNK else "INBOX", stamp(raw), flags=(SEEN,))
    # every case texted on its own (the backlog limit is another test's matter)
    cfg = mailbox_config(make_config, mail, monkeypatch, authserv_id=AUTHSERV_ID,
                         max_texts_per_run=len(cases))
    result = run(cfg, flows=["mailbox"])
    assert result.status == "ok", result.data["errors"]

    after = contents(mail)
    assert set(after["Trash"]) == {ids[c] for c in TRASHED}
    kept = {mid: flags for folder in ("INBOX", "Junk") for mid, flags in after[folder].items()}
    assert set(kept) == {ids[c] for c in PHISHING | UNVERIFIED}
    assert all(SEEN not in flags for flags in kept.values()), "escalated mail is left unread"

    entries = {e["message_id"]: e for e in result.data["emails"]}
    rules = {case: entries[ids[case]]["rule"] for case in cases}
    assert rules["authenticated"] == "sold_ship_now"
    assert result.data["observations"]["mail_authentication"]["trusted"] is True
    assert rules["spoofed_sold"] == rules["spoofed_disbursement"] == "spoofed_amazon"
    assert rules["foreign_pass_under_fail"] == "spoofed_amazon"
    assert rules["foreign_header_only"] == rules["no_header"] == "unverified_amazon"
    assert {rules[c] for c in ("address_in_name", "reversed_name", "zero_width_name",
                               "several_from", "empty_address", "amazon_second_from",
                               "amazon_inside_address")} == {"suspicious_from"}
    assert "authenticated" in entries[ids["authenticated"]]["note"]

    texts = texts_by_code(receiver)
    assert len(texts) == len(PHISHING | UNVERIFIED)
    assert sum("Possible phishing" in t for t in texts) == len(PHISHING)
    assert sum("Unverified Amazon sender" in t for t in texts) == len(UNVERIFIED)
    for text in texts:
        assert len(text) <= 160 and text.endswith("-MS"), text
        assert not any(ch in text for ch in HIDDEN), text
    assert any("'seller-notification@amazon.com' from pay-verify.example" in t for t in texts)
    assert any("'Amazon Seller Support' from pay-verify.example" in t for t in texts)
    assert any("'Amazon Payments' from bulk-mailer.example posing as amazon.com" in t
               for t in texts)
    assert any("'Amazon Seller Central' from amazon.com and pay-verify.example" in t
               for t in texts)
    assert any("Possible phishing: pay-verify.example and amazon.com about" in t
               for t in texts)
    assert any("'Amazon Seller Central' from pay-verify.example about" in t for t in texts)
    assert not any("from amazon.com about" in t for t in texts), "no spoof named as Amazon"

    # A second run escalates nothing again and moves nothing.
    second = run(cfg, flows=["mailbox"])
    assert second.status == "ok", second.data["errors"]
    assert contents(mail) == after
    assert texts_by_code(receiver) == texts


def test_required_authentication_keeps_mail_without_results(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cases = trust_mails()
    for case in ("authenticated", "no_header"):
        mail.append("INBOX", cases[case], flags=(SEEN,))
    # No authserv-id configured: no header counts (the one on "authenticated" could be the
    # sender's own), and "required" never treats such mail as Amazon's.
    cfg = mailbox_config(make_config, mail, monkeypatch, authentication="required")
    result = run(cfg, flows=["mailbox"])
    assert result.status == "ok", result.data["errors"]
    after = contents(mail)
    assert set(after.get("Trash", {})) == set()
    assert set(after["INBOX"]) == {_mid(cases["authenticated"]), _mid(cases["no_header"])}
    assert all(SEEN not in flags for flags in after["INBOX"].values())
    entries = {e["message_id"]: e for e in result.data["emails"]}
    assert {entries[_mid(cases[c])]["rule"] for c in ("authenticated", "no_header")} == \
        {"unverified_amazon"}
    assert "not set" in entries[_mid(cases["authenticated"])]["note"]
    texts = texts_by_code(receiver)
    assert len(texts) == 2
    assert all("Unverified Amazon sender: 'Amazon Seller Central' from amazon.com" in t
               for t in texts)
    auth_seen = result.data["observations"]["mail_authentication"]
    assert auth_seen["trusted"] is False and "not set" in auth_seen["why"]


def test_an_authserv_id_the_server_does_not_stamp_on_every_mail_proves_nothing(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """A pinned id on a server that adds no header: the sender writes one with that id
    (a pass for a spoofed Amazon notice), but other mail lacks it, so the id is off this
    run: no header counts, run.json says why, the owner is told once."""
    cases = trust_mails()
    forged = stamp(cases["no_header"], result="dkim=pass header.d=amazon.com; "
                                               "dmarc=pass header.from=amazon.com")
    mail.append("INBOX", forged, flags=(SEEN,))
    mail.append("INBOX", cases["foreign_header_only"], flags=(SEEN,))  # no header of the id
    cfg = mailbox_config(make_config, mail, monkeypatch, authserv_id=AUTHSERV_ID,
                         authentication="required")
    result = run(cfg, flows=["mailbox"])
    assert result.status == "ok", result.data["errors"]
    seen = result.data["observations"]["mail_authentication"]
    assert seen["trusted"] is False and "1 of 2 mails lack" in seen["why"], seen
    entries = {e["message_id"]: e for e in result.data["emails"]}
    assert entries[_mid(forged)]["rule"] == "unverified_amazon", "the forged pass is not read"
    assert set(contents(mail).get("Trash", {})) == set()
    off = [t for t in receiver.messages("sms") if "mail authentication is OFF" in t]
    assert len(off) == 1 and off[0].startswith("F")
    # told once while it stands
    again = run(cfg, flows=["mailbox"])
    assert again.status == "ok", again.data["errors"]
    assert len([t for t in receiver.messages("sms") if "authentication is OFF" in t]) == 1


def test_a_buyer_email_from_every_marketplace_relay_is_a_buyer_email(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    raws = [relay_buyer_mail(relay, i) for i, relay in enumerate(RELAY_DOMAINS)]
    mail.append_many("INBOX", raws)
    cfg = mailbox_config(make_config, mail, monkeypatch, authserv_id=AUTHSERV_ID)
    result = run(cfg, flows=["mailbox"])
    assert result.status == "ok", result.data["errors"]
    entries = result.data["emails"]
    assert len(entries) == len(RELAY_DOMAINS) >= 23
    bad = [(e["from"], e["rule"]) for e in entries if e["action"] != "buyer_message"]
    assert bad == []
    assert all("waiting" in e["note"] for e in entries)  # unanswered: left for Seller Central
    assert set(contents(mail)["INBOX"]) == {_mid(r) for r in raws}
    assert texts_by_code(receiver) == []
