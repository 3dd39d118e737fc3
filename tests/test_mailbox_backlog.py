"""The owner's phone on a full mailbox, against a real Dovecot started here: a backlog
sends a few texts and one digest, mail no person wrote is told the right way, nothing is
texted twice, and the run counts say what this run did."""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from rpa.ledger import Ledger
from rpa.practice import dovecot
from rpa.practice import mailcorpus as corpus
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import RunResult, run

ok, why = dovecot.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"Dovecot is not available: {why}")


@pytest.fixture()
def mail() -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer() as server:
        server.start()
        yield server


def mail_config(make_config: Any, server: dovecot.DovecotServer,
                monkeypatch: pytest.MonkeyPatch, **extra: Any) -> Any:
    monkeypatch.setenv("T_MAIL_PW", server.password)
    box = {"host": server.host, "port": server.port, "tls": False, "user": server.user,
           "password_env": "T_MAIL_PW", "owner_addresses": [corpus.OWNER_ADDRESS], **extra}
    return make_config(flows=["mailbox"], mailbox=box)


def ledger_of(cfg: Any) -> Ledger:
    return Ledger(cfg.paths.state_dir / "ledger.sqlite")


def test_a_backlog_sends_the_configured_texts_and_one_digest(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    backlog = corpus.unknown_mails(300)
    mail.append_many("INBOX", backlog[:240], flags=("\\Seen",))
    mail.append_many("Junk", backlog[240:], flags=("\\Seen",))
    cfg = mail_config(make_config, mail, monkeypatch, max_texts_per_run=7)

    first = run(cfg, flows=["mailbox"])
    assert first.status == "ok", first.data["errors"]
    sms = receiver.messages("sms")
    assert len(sms) == 7 + 1, sms
    singles, digest = sms[:7], sms[7]
    assert all(re.match(r"E\d{3}-[A-Z2-9]{4}: ", t) and len(t) <= 160 for t in singles)
    assert digest == "E008–E300: 293 more emails need you; check Upwork. -MS"
    listing = [t for t in receiver.messages("details") if t.startswith("E008–E300")]
    assert len(listing) == 1
    for n in range(8, 301):  # every code not texted alone is on the list, with its summary
        assert re.search(rf"\nE{n:03d}-[A-Z2-9]{{4}}: ", listing[0]), n

    ledger = ledger_of(cfg)
    try:
        escalations = [e for e in ledger.escalations("test") if e["kind"] == "email"]
        assert len(escalations) == 300
        assert all(e["notified_at"] for e in escalations), "the digest counts as told"
        emails = ledger.emails("test")
        assert len(emails) == 300 and all(e["escalation"] for e in emails)
        assert len({e["escalation"] for e in emails}) == 300
    finally:
        ledger.close()
    assert first.data["email_folders"]["INBOX"]["escalated"] == 240
    assert first.data["email_folders"]["Junk"]["escalated"] == 60
    assert first.data["email_folders"]["INBOX"]["already_escalated"] == 0
    texts = first.data["observations"]["email_texts"]
    assert texts["one_by_one"] == 7 and len(texts["digest"]) == 293
    assert texts["digest_delivered"] is True
    assert all(e["done"] for e in first.data["emails"])

    # A second run: nothing new, nothing texted, and the counts say so.
    before = list(receiver.items)
    second = run(cfg, flows=["mailbox"])
    assert second.status == "ok", second.data["errors"]
    assert receiver.items == before
    counts = second.data["email_folders"]
    assert (counts["INBOX"]["escalated"], counts["INBOX"]["already_escalated"]) == (0, 240)
    assert (counts["Junk"]["escalated"], counts["Junk"]["already_escalated"]) == (0, 60)
    names = [s["name"] for s in second.data["flows"]["mailbox"]["steps"]]
    assert any("0 escalated, 240 already escalated" in n for n in names), names
    assert any("0 escalated, 60 already escalated" in n for n in names), names


def test_a_digest_that_does_not_get_through_is_sent_by_the_next_run(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    mail.append_many("INBOX", corpus.unknown_mails(15))
    cfg = mail_config(make_config, mail, monkeypatch, max_texts_per_run=3)
    receiver.fail_next = 1000  # the owner's channels are down for the whole first run
    first = run(cfg, flows=["mailbox"])
    assert receiver.messages() == []
    assert not first.data["observations"]["email_texts"]["digest_delivered"]

    receiver.fail_next = 0
    second = run(cfg, flows=["mailbox"])
    assert second.status == "ok", second.data["errors"]
    sms = receiver.messages("sms")
    assert len(sms) == 3 + 1
    assert sms[-1] == "E004–E015: 12 more emails need you; check Upwork. -MS"
    ledger = ledger_of(cfg)
    try:
        assert all(e["notified_at"] for e in ledger.escalations("test"))
    finally:
        ledger.close()
    third = run(cfg, flows=["mailbox"])
    assert third.status == "ok"
    assert len(receiver.messages("sms")) == 4


def test_mail_no_person_wrote_and_texts_that_can_be_acted_on(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    mail.append("INBOX", corpus.bounce_mail(), flags=("\\Seen",))
    mail.append("INBOX", corpus.auto_reply_mail(), flags=("\\Seen",))
    mail.append("INBOX", corpus.long_supplier_mail(), flags=("\\Seen",))
    mail.append("INBOX", corpus.question_mail(), flags=("\\Seen",))
    mail.append_many("INBOX", [corpus.newsletter_mail(1), corpus.newsletter_mail(2),
                               corpus.newsletter_mail(3, ("City News", "news@city.example"))],
                     flags=("\\Seen",))
    mail.append("Junk", corpus.plain_bounce_mail(), flags=("\\Seen",))
    cfg = mail_config(make_config, mail, monkeypatch)

    first = run(cfg, flows=["mailbox"])
    assert first.status == "ok", first.data["errors"]
    sms = receiver.messages("sms")
    assert len(sms) == 4 + 1, sms  # two bounces, the long mail, the question; one digest
    assert all(len(t) <= 160 and t.endswith(" -MS") for t in sms)
    assert not any("out of the office" in t or "Automatic reply" in t for t in sms)
    bounce = next(t for t in sms if "old-sunrise-bamboo" in t)
    assert '"Re: New price list from 1 April 2025"' in bounce
    assert "the address does not exist" in bounce
    assert "mail system" not in bounce
    assert any("orders@kartonwerk-sued.example" in t and "mailbox is full" in t for t in sms)
    question = next(t for t in sms if "Pickup tomorrow" in t)
    assert question.endswith("instead of 2:30 pm? -MS")
    long_text = next(t for t in sms if "Important changes" in t)
    assert long_text.endswith("Check Upwork for details. -MS")
    code = long_text.split(":", 1)[0]
    details = [t for t in receiver.messages("details") if t.startswith(code)]
    assert len(details) == 1 and "Please confirm by 28 March" in details[0]
    assert sms[-1] == ("Mailing lists: 3 emails from Shopify Partners (2) and City News. -MS")

    emails = {e["message_id"]: e for e in first.data["emails"]}
    ooo = emails["<demo.ooo@lopez-accounting.example>"]
    assert (ooo["rule"], ooo["action"], ooo["escalation"]) == ("auto_reply", "keep", None)
    assert emails["<demo.newsletter-1@partner-news.example>"]["action"] == "digest"
    assert emails["<demo.bounce@mx.acme-goods.example>"]["rule"] == "bounce"
    ledger = ledger_of(cfg)
    try:
        assert ledger.email("test", "<demo.ooo@lopez-accounting.example>")["state"] == "kept"
        assert {e["state"] for e in ledger.emails("test") if e["action"] == "digest"} == \
            {"digested"}
    finally:
        ledger.close()
    inbox = first.data["email_folders"]["INBOX"]
    assert (inbox["escalated"], inbox["keep"], inbox["digest"]) == (3, 1, 3)

    # Later the same day: a new newsletter waits for tomorrow's digest; nothing is texted.
    mail.append("INBOX", corpus.newsletter_mail(4), flags=("\\Seen",))
    before = list(receiver.items)
    second = run(cfg, flows=["mailbox"])
    assert second.status == "ok", second.data["errors"]
    assert receiver.items == before
    lists = second.data["observations"]["email_texts"]["mailing_lists"]
    assert lists["waiting"] == 1 and lists["already_today_by"] == first.data["run_id"]
    inbox = second.data["email_folders"]["INBOX"]
    assert (inbox["escalated"], inbox["already_escalated"]) == (0, 3)


def test_a_warning_behind_a_backlog_is_texted_on_its_own(
        make_config: Any, receiver: Receiver, mail: dovecot.DovecotServer,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The receiving server stamps every mail, and its authserv-id is trusted: the spoof's
    # failed authentication is its word.
    mail.append_many("INBOX", [corpus.stamp(raw) for raw in corpus.unknown_mails(20)])
    mail.append("Junk", corpus.trust_mails()["spoofed_disbursement"])  # last of all
    cfg = mail_config(make_config, mail, monkeypatch, max_texts_per_run=3,
                      authserv_id=corpus.AUTHSERV_ID)
    result = run(cfg, flows=["mailbox"])
    assert result.status == "ok", result.data["errors"]
    sms = receiver.messages("sms")
    assert len(sms) == 3 + 1
    assert "Possible phishing" in sms[0] and "bulk-mailer.example" in sms[0], sms[0]
    assert not any("phishing" in t for t in sms[1:])
    assert sms[-1].startswith("E") and "18 more emails need you" in sms[-1]


@pytest.mark.parametrize(("total", "listed"), [(12, 12), (120, 50), (10_000, 50)])
def test_a_dry_run_lists_at_most_fifty_emails_in_the_terminal_and_says_where_the_rest_are(
        tmp_path: Path, capsys: pytest.CaptureFixture[str], total: int, listed: int) -> None:
    """Laying out a table of 500 emails took the terminal longer than triaging 10,000;
    the terminal shows those that need a person first and names the file with all."""
    from rpa.cli import TERMINAL_EMAILS, print_summary

    assert listed <= TERMINAL_EMAILS
    in_run_json = min(total, 500)
    emails = [{"folder": "INBOX", "from": f"sender{i}@example.com", "subject": f"S-{i:05d}",
               "rule": "unknown", "action": "escalate", "note": ""}
              for i in range(in_run_json)]
    data: dict[str, Any] = {"run_id": "r1", "observations": {}, "flows": {}, "dry_run": True,
                            "emails": emails, "emails_total": total}
    if total > 500:
        data["emails_file"] = "emails.jsonl"
    print_summary(RunResult("ok", 0, tmp_path, data))
    out = capsys.readouterr().out
    shown = sorted(set(re.findall(r"S-\d{5}", out)))
    assert shown == [f"S-{i:05d}" for i in range(listed)]
    pointer = [line for line in out.splitlines() if "emails listed here" in line]
    if total > listed:
        assert len(pointer) == 1 and f"{listed} of {total} emails" in pointer[0]
        expected = tmp_path / ("emails.jsonl" if total > 500 else "report.html")
        assert str(expected) in out.replace("\n", "")
    else:
        assert not pointer
