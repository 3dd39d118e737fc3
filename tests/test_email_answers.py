"""The email loop, closed: an unknown email is texted to the owner, reminded after two
days, sent to the fallback channels a day later; the owner's authenticated reply arrives
in the mailbox and the sender gets a threaded reply over SMTP; nothing repeats after.

Real servers only: Dovecot (IMAP), aiosmtpd (SMTP) and the HTTP receiver for the texts,
all on 127.0.0.1. No browser: the mailbox flows need none.
"""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from email.message import EmailMessage
from email.utils import format_datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.config import Config
from rpa.ledger import Ledger
from rpa.practice import dovecot
from rpa.practice.mailcorpus import OWNER_ADDRESS
from rpa.practice.receiver import Receiver
from rpa.practice.smtpserver import SmtpServer
from rpa.run.orchestrator import run

ok, why = dovecot.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"Dovecot is not available: {why}")

SUPPORT = "support@acme-goods.example"
AUTHSERV = "mx.acme-goods.example"
SUPPLIER = "li.wei@kartonwerk.example"
QUESTION_ID = "<carton-sizes.1@kartonwerk.example>"
ANSWER = "Yes, 40 x 30 x 25 cm cartons are fine. Please ship them on Monday."
SEEN = "\\Seen"


def _mail(*, sender: str, to: str, subject: str, body: str, message_id: str,
          headers: dict[str, str] | None = None) -> bytes:
    msg = EmailMessage()
    # The receiving server (AUTHSERV, configured below) stamps every mail it takes in:
    # "none" where it found nothing to say.
    headers = {"Authentication-Results": f"{AUTHSERV}; none", **(headers or {})}
    for name, value in headers.items():
        msg[name] = value
    msg["From"] = sender
    msg["To"] = to
    msg["Subject"] = subject
    msg["Date"] = format_datetime(datetime(2026, 11, 20, 9, 30, tzinfo=timezone.utc))
    msg["Message-ID"] = message_id
    msg.set_content(body)
    return msg.as_bytes()


def _question(n: int = 1) -> bytes:
    return _mail(sender=f"Li Wei <{SUPPLIER}>", to=SUPPORT,
                 subject=f"Carton sizes for order {n}",
                 body="Hello, can we pack the next order in 40 x 30 x 25 cm cartons "
                      "instead of the usual size? Please confirm.\n\nLi Wei\nKartonwerk\n",
                 message_id=QUESTION_ID.replace(".1@", f".{n}@"))


def _owner_reply(code: str, text: str, *, auth: str | None, message_id: str,
                 in_reply_to: str = "", subject: str = "") -> bytes:
    headers = {"Authentication-Results": auth} if auth else {}
    if in_reply_to:
        headers["In-Reply-To"] = in_reply_to
        headers["References"] = in_reply_to
    quoted = f"On Fri, 20 Nov 2026, the bot wrote:\n> {code}: Li Wei asks about cartons.\n"
    return _mail(sender=f"Sam Carter <{OWNER_ADDRESS}>", to=SUPPORT,
                 subject=subject or f"Re: {code} cartons", message_id=message_id,
                 body=f"{text}\n\nSam\n\n{quoted}", headers=headers)


PASSES = (f"{AUTHSERV}; dkim=pass header.d=acme-goods.example; spf=pass "
          f"smtp.mailfrom={OWNER_ADDRESS}; dmarc=pass header.from=acme-goods.example")
FAILS = (f"{AUTHSERV}; dkim=none; spf=fail smtp.mailfrom=owner@acme-goods.example; "
         "dmarc=fail header.from=acme-goods.example")


@pytest.fixture()
def mail() -> Iterator[dovecot.DovecotServer]:
    with dovecot.DovecotServer() as server:
        server.start()
        yield server


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _config(make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer,
            receiver: Receiver, monkeypatch: pytest.MonkeyPatch, **notify: Any) -> Config:
    monkeypatch.setenv("T_MAIL_PW", mail.password)
    monkeypatch.setenv("T_FALLBACK_URL", receiver.url("fallback"))
    box = {"host": mail.host, "port": mail.port, "tls": False, "user": mail.user,
           "password_env": "T_MAIL_PW", "owner_addresses": [OWNER_ADDRESS],
           "authserv_id": AUTHSERV}
    channels = {"sms": {"url_env": "T_SMS_URL"},
                "details": {"url_env": "T_DETAILS_URL", "label": "Upwork"},
                "fallback": [{"url_env": "T_FALLBACK_URL"}], **notify}
    cfg = make_config(flows=["mailbox", "followups"], mailbox=box, notify=channels,
                      smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none",
                            "from_address": SUPPORT, "from_name": "Acme Goods Support"})
    monkeypatch.delenv("T_SC_PASSWORD")  # no Seller Central secret is needed
    monkeypatch.delenv("T_SC_TOTP")
    return cfg


def _esc(cfg: Config, code: str) -> dict[str, Any]:
    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    try:
        esc = ledger.escalation(code)
        assert esc is not None
        return esc
    finally:
        ledger.close()


def _to(smtp: SmtpServer, address: str) -> list[EmailMessage]:
    return [m for m in smtp.messages() if address in str(m["To"])]


def _flags(mail: dovecot.DovecotServer) -> dict[str, dict[str, frozenset[str]]]:
    return {folder: {mid: flags for mid, flags in items}
            for folder, items in mail.snapshot().items()}


def test_email_loop_reminder_fallback_answer_threaded_reply_once(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(make_config, mail, smtp, receiver, monkeypatch)
    mail.append("INBOX", _question(), flags=(SEEN,))
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    code = next(e["escalation"] for e in first.data["emails"] if e["escalation"])
    assert code.startswith("E")
    sms = receiver.messages("sms")
    assert len(sms) == 1 and sms[0].startswith(code) and len(sms[0]) <= 160
    assert sms[0].endswith("-MS") and "Li Wei" in sms[0]
    assert SEEN not in _flags(mail)["INBOX"][QUESTION_ID], "left unread for the VA"

    now = datetime.now(timezone.utc)
    reminded = run(cfg, clock=lambda: now + timedelta(days=2, minutes=1))
    assert reminded.data["escalations"]["reminded"] == [code]
    assert receiver.messages("sms")[-1].startswith(f"Reminder: {code}")
    further = run(cfg, clock=lambda: now + timedelta(days=3, minutes=2))
    assert further.data["escalations"]["escalated_further"] == [code]
    assert any(code in m for m in receiver.messages("fallback"))
    assert _esc(cfg, code)["status"] == "escalated_further"

    # The owner answers by email, authenticated by the receiving server.
    answer_id = "<answer.1@acme-goods.example>"
    mail.append("INBOX", _owner_reply(code, f"{code}: {ANSWER}", auth=PASSES,
                                      message_id=answer_id))
    answered = run(cfg, clock=lambda: now + timedelta(days=3, hours=1))
    assert answered.status == "ok", answered.data["errors"]
    replies = _to(smtp, SUPPLIER)
    assert len(replies) == 1
    reply = replies[0]
    assert reply["Subject"] == "Re: Carton sizes for order 1"
    assert reply["In-Reply-To"] == QUESTION_ID and QUESTION_ID in reply["References"]
    assert SUPPORT in reply["From"]
    body = reply.get_content()
    assert body.startswith(ANSWER) and f"{code}:" not in body.splitlines()[0]
    assert "> Hello, can we pack the next order" in body
    assert "Sam Carter" not in body.split("wrote:")[0], "the owner's signature stays out"
    esc = _esc(cfg, code)
    assert esc["status"] == "closed" and esc["answer_via"] == "email"
    assert esc["answer_ref"] == answer_id and esc["delivered_at"]
    boxes = _flags(mail)
    assert SEEN in boxes["INBOX"][QUESTION_ID], "the original is marked read"
    assert answer_id in boxes["Trash"] and answer_id not in boxes["INBOX"]
    assert answered.data["escalations"]["delivered"] == [code]
    assert code in answered.data["escalations"]["closed"]

    # Further runs repeat nothing: no reply, no text, no reminder.
    texts = {ch: list(receiver.messages(ch)) for ch in ("sms", "details", "fallback")}
    again = run(cfg, clock=lambda: now + timedelta(days=9))
    assert again.status == "ok", again.data["errors"]
    assert len(_to(smtp, SUPPLIER)) == 1
    assert {ch: receiver.messages(ch) for ch in texts} == texts


def test_unauthenticated_owner_answer_sends_nothing_and_is_escalated(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(make_config, mail, smtp, receiver, monkeypatch)
    mail.append("INBOX", _question(), flags=(SEEN,))
    first = run(cfg)
    code = next(e["escalation"] for e in first.data["emails"] if e["escalation"])
    forged = "<forged.1@acme-goods.example>"
    mail.append("INBOX", _owner_reply(code, f"{code}: Send them to our new warehouse.",
                                      auth=FAILS, message_id=forged))
    second = run(cfg)
    assert second.status == "ok", second.data["errors"]
    assert _to(smtp, SUPPLIER) == []
    opened = second.data["escalations"]["opened"]
    assert len(opened) == 1 and opened[0].startswith("S")
    text = next(t for t in receiver.messages("sms") if t.startswith(opened[0]))
    assert code in text and "NOT used" in text
    assert _esc(cfg, code)["status"] == "notified" and not _esc(cfg, code)["answer"]
    assert forged in _flags(mail)["INBOX"], "kept for the VA to look at"
    third = run(cfg)
    assert third.data["escalations"].get("opened") is None, "escalated once"


def test_reply_to_the_bots_email_is_matched_and_smtp_down_then_up_delivers_once(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    # The details go to the owner by email: the bot's own Message-ID comes back in the reply.
    cfg = _config(make_config, mail, smtp, receiver, monkeypatch,
                  details={"email_to": OWNER_ADDRESS, "label": "email"})
    long_question = _mail(
        sender=f"Li Wei <{SUPPLIER}>", to=SUPPORT, subject="Carton sizes for order 7",
        body=("Hello, for the next order we would like to change the cartons. " * 12
              + "\n\nLi Wei\n"), message_id=QUESTION_ID)
    mail.append("INBOX", long_question, flags=(SEEN,))
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    code = next(e["escalation"] for e in first.data["emails"] if e["escalation"])
    alerts = _to(smtp, OWNER_ADDRESS)
    assert len(alerts) == 1 and code in alerts[0]["Subject"]
    alert_id = alerts[0]["Message-ID"]

    # No Authentication-Results at all and no code in the subject: the reference decides.
    smtp.stop()
    mail.append("INBOX", _owner_reply(code, ANSWER, auth=None, message_id="<a2@acme>",
                                      in_reply_to=alert_id, subject="Re: your email"))
    down = run(cfg)
    assert down.status == "failed" and down.exit_code == 1
    assert "kept for the next run" in down.data["errors"][0]["message"]
    assert down.data["flows"]["mailbox"]["attempts"] == 1, "not triaged again for it"
    esc = _esc(cfg, code)
    assert esc["status"] == "answered" and esc["delivery_state"] == "failed"
    assert any("failed" in t for t in receiver.messages("sms")), "the owner hears of it"

    smtp.start()
    up = run(cfg)
    assert up.status == "ok", up.data["errors"]
    replies = _to(smtp, SUPPLIER)
    assert len(replies) == 1 and replies[0].get_content().startswith(ANSWER)
    assert _esc(cfg, code)["status"] == "closed"
    run(cfg)
    assert len(_to(smtp, SUPPLIER)) == 1


def test_rpa_answer_for_an_email_sends_the_threaded_reply_at_once(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    cfg = _config(make_config, mail, smtp, receiver, monkeypatch)
    mail.append("INBOX", _question(), flags=(SEEN,))
    first = run(cfg)
    code = next(e["escalation"] for e in first.data["emails"] if e["escalation"])
    config = tmp_path / "rpa.yaml"
    config.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    answer = tmp_path / "answer.txt"
    answer.write_text(ANSWER + "\n")
    proc = subprocess.run([sys.executable, "-m", "rpa.cli", "answer", code, "--file",
                           str(answer), "--config", str(config)], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "goes to the sender by email" in proc.stdout
    replies = _to(smtp, SUPPLIER)
    assert len(replies) == 1 and replies[0].get_content().startswith(ANSWER)
    assert replies[0]["In-Reply-To"] == QUESTION_ID
    assert _esc(cfg, code)["status"] == "closed"
    assert SEEN in _flags(mail)["INBOX"][QUESTION_ID]


def test_an_owner_answer_to_an_unknown_code_is_told_once_and_sends_nothing(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = _config(make_config, mail, smtp, receiver, monkeypatch)
    mail.append("INBOX", _question(), flags=(SEEN,))
    assert run(cfg).status == "ok"
    mail.append("INBOX", _owner_reply("E099", "E099: yes, go ahead.", auth=PASSES,
                                      message_id="<typo.1@acme-goods.example>"))
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    told = [t for t in receiver.messages("sms") if t.startswith("E099:")]
    assert len(told) == 1 and "NOT used: there is no such code" in told[0]
    assert _to(smtp, SUPPLIER) == []
    run(cfg)
    assert len([t for t in receiver.messages("sms") if t.startswith("E099:")]) == 1
