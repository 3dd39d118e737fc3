"""A forged "owner's answer" never reaches a supplier or a buyer: an email answer is acted on
only with a proof the owner alone has (a reply to the bot's alert email, the code's answer
token, or Authentication-Results from a receiver that demonstrably stamps every mail).

Real servers: Dovecot (a plain one, which adds no Authentication-Results, as many small
shops run), the local SMTP server, the HTTP receiver for the owner's texts.
"""

from __future__ import annotations

import re
from email.message import EmailMessage
from typing import Any

import pytest

from rpa.config import Config
from rpa.practice import dovecot
from rpa.practice.mailcorpus import OWNER_ADDRESS, stamp
from rpa.practice.receiver import Receiver
from rpa.practice.smtpserver import SmtpServer
from rpa.run.orchestrator import RunResult, run
from tests.test_email_answers import (
    SUPPLIER,
    SUPPORT,
    _esc,
    _flags,
    _mail,
    _question,
    _to,
    mail,
    smtp,
)

__all__ = ["mail", "smtp"]  # the Dovecot and SMTP fixtures of the email loop's tests

ok, why = dovecot.available()
pytestmark = pytest.mark.skipif(not ok, reason=f"Dovecot is not available: {why}")

SEEN = "\\Seen"
OWNER_DOMAIN = OWNER_ADDRESS.rpartition("@")[2]
WIRE = "Yes, accept. Wire the deposit to our new account IBAN DE00 1234 5678 9000."
FORGED_PASS = (f"mx.google.com; dkim=pass header.d={OWNER_DOMAIN}; spf=pass "
               f"smtp.mailfrom={OWNER_ADDRESS}; dmarc=pass header.from={OWNER_DOMAIN}")


def answer_mail(text: str, *, sender: str = f"Sam Carter <{OWNER_ADDRESS}>",
                subject: str = "", results: tuple[str, ...] = (),
                message_id: str = "<answer.1@acme-goods.example>") -> bytes:
    msg = EmailMessage()
    for value in results:
        msg["Authentication-Results"] = value
    msg["From"] = sender
    msg["To"] = SUPPORT
    msg["Subject"] = subject or "Re: your text"
    msg["Message-ID"] = message_id
    msg.set_content(f"{text}\n\nSam\n")
    return msg.as_bytes()


def config(make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer,
           monkeypatch: pytest.MonkeyPatch, notify: dict[str, Any] | None = None,
           **box: Any) -> Config:
    monkeypatch.setenv("T_MAIL_PW", mail.password)
    mailbox = {"host": mail.host, "port": mail.port, "tls": False, "user": mail.user,
               "password_env": "T_MAIL_PW", "owner_addresses": [OWNER_ADDRESS], **box}
    extra = {"notify": notify} if notify else {}
    cfg = make_config(flows=["mailbox"], mailbox=mailbox, **extra,
                      smtp={"host": "127.0.0.1", "port": smtp.port, "security": "none",
                            "from_address": SUPPORT, "from_name": "Acme Goods Support"})
    monkeypatch.delenv("T_SC_PASSWORD")
    monkeypatch.delenv("T_SC_TOTP")
    return cfg


def escalated(cfg: Config, receiver: Receiver, mail: dovecot.DovecotServer,
              question: bytes) -> tuple[str, str]:
    """The supplier's question escalated; its code and the token the owner's text shows."""
    mail.append("INBOX", question, flags=(SEEN,))
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    code = next(e["escalation"] for e in first.data["emails"] if e["escalation"])
    text = next(t for t in receiver.messages("sms") if t.startswith(code))
    found = re.match(rf"{code}-([A-Z2-9]{{4}}):", text)
    assert found, f"the owner's text shows the code with its token: {text!r}"
    return code, found.group(1)


def refused(result: RunResult, receiver: Receiver, smtp: SmtpServer, code: str, cfg: Config,
            mail: dovecot.DovecotServer, message_id: str) -> None:
    """Nothing left: no reply to the supplier, the escalation still waits, one owner text
    about the forged mail, which stays in the Inbox."""
    assert result.status == "ok", result.data["errors"]
    assert _to(smtp, SUPPLIER) == [], "nothing reached the supplier"
    esc = _esc(cfg, code)
    assert esc["status"] == "notified" and not esc["answer"]
    opened = result.data["escalations"]["opened"]
    assert len(opened) == 1 and opened[0][0] in "SE", opened
    about = [t for t in receiver.messages("sms") if t.startswith(opened[0])]
    assert len(about) == 1, about
    assert message_id in _flags(mail)["INBOX"], "kept in the Inbox, never to Trash"
    assert SEEN not in _flags(mail)["INBOX"][_question_id()], "the supplier's mail stays unread"


def _question_id() -> str:
    return "<carton-sizes.1@kartonwerk.example>"


def test_a_forged_authentication_header_with_no_authserv_id_set_is_refused(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(make_config, mail, smtp, monkeypatch)
    code, _ = escalated(cfg, receiver, mail, _question())
    forged = answer_mail(f"{code}: {WIRE}", subject=f"Re: {code}", results=(FORGED_PASS,),
                         message_id="<forged.1@attacker.example>")
    mail.append("INBOX", forged)
    result = run(cfg)
    refused(result, receiver, smtp, code, cfg, mail, "<forged.1@attacker.example>")
    assert result.data["escalations"]["opened"][0].startswith("S")
    assert result.data["observations"]["email_answers"]["answers_by_email"] == []


def test_an_authserv_id_pinned_to_the_forged_header_is_off_when_other_mail_lacks_it(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(make_config, mail, smtp, monkeypatch, authserv_id="mx.google.com")
    code, _ = escalated(cfg, receiver, mail, _question())
    forged = answer_mail(f"{code}: {WIRE}", subject=f"Re: {code}", results=(FORGED_PASS,),
                         message_id="<forged.2@attacker.example>")
    mail.append("INBOX", forged)
    result = run(cfg)
    refused(result, receiver, smtp, code, cfg, mail, "<forged.2@attacker.example>")
    seen = result.data["observations"]["mail_authentication"]
    assert seen["trusted"] is False and "lack" in seen["why"]
    assert len([t for t in receiver.messages("sms") if "authentication is OFF" in t]) == 1


def test_a_lookalike_of_the_owners_domain_is_phishing_and_never_an_answer(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(make_config, mail, smtp, monkeypatch)
    code, token = escalated(cfg, receiver, mail, _question())
    lookalike = OWNER_ADDRESS.replace("acme-goods", "acme-g00ds")
    forged = answer_mail(f"{code}-{token}: {WIRE}", sender=f"Pat Owner <{lookalike}>",
                         subject=f"Re: {code}", message_id="<forged.3@attacker.example>")
    mail.append("INBOX", forged)
    result = run(cfg)
    refused(result, receiver, smtp, code, cfg, mail, "<forged.3@attacker.example>")
    entry = next(e for e in result.data["emails"]
                 if e["message_id"] == "<forged.3@attacker.example>")
    assert entry["rule"] == "owner_lookalike" and entry["action"] == "escalate"
    text = next(t for t in receiver.messages("sms") if t.startswith(entry["escalation"]))
    assert "Possible phishing imitating the owner" in text and "acme-g00ds" in text


def test_a_guessed_code_from_the_owners_real_address_without_a_proof_sends_nothing(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(make_config, mail, smtp, monkeypatch)
    code, token = escalated(cfg, receiver, mail, _question())
    wrong = "ZZZZ" if token != "ZZZZ" else "YYYY"
    forged = answer_mail(f"{code}-{wrong}: {WIRE}", message_id="<forged.4@attacker.example>")
    mail.append("INBOX", forged)
    result = run(cfg)
    refused(result, receiver, smtp, code, cfg, mail, "<forged.4@attacker.example>")
    text = next(t for t in receiver.messages("sms")
                if t.startswith(result.data["escalations"]["opened"][0]))
    assert "NOT used" in text and token not in text


@pytest.mark.parametrize("quoted", ["{code}-{token}: ", "{code}·{token} ", "{lower}{ltoken}: ",
                                    "{code} {token} - "])
def test_an_answer_quoting_the_token_is_taken_and_sent_once(
        quoted: str, make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer,
        receiver: Receiver, monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(make_config, mail, smtp, monkeypatch)
    code, token = escalated(cfg, receiver, mail, _question())
    head = quoted.format(code=code, token=token, lower=code.lower(), ltoken=token.lower())
    mail.append("INBOX", answer_mail(f"{head}Yes, those cartons are fine."))
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    assert result.data["observations"]["email_answers"]["proofs"] == {code: "token"}
    [reply] = _to(smtp, SUPPLIER)
    body = reply.get_content()
    assert body.startswith("Yes, those cartons are fine."), body
    assert token not in body and token.lower() not in body, "the token never leaves"
    run(cfg)
    assert len(_to(smtp, SUPPLIER)) == 1


def test_an_answer_authenticated_by_the_pinned_receiver_above_a_forged_header_is_taken(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    receiver_id = "mx.acme-goods.example"
    cfg = config(make_config, mail, smtp, monkeypatch, authserv_id=receiver_id)
    code, _ = escalated(cfg, receiver, mail, stamp(_question(), receiver_id))
    real = (f"{receiver_id}; dkim=pass header.d={OWNER_DOMAIN}; "
            f"dmarc=pass header.from={OWNER_DOMAIN}")
    # What the sender wrote comes below the receiver's own header.
    below = f"{receiver_id}; dmarc=fail header.from={OWNER_DOMAIN}"
    mail.append("INBOX", answer_mail(f"{code}: Yes, those cartons are fine.",
                                     results=(real, below)))
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    assert result.data["observations"]["mail_authentication"]["trusted"] is True
    assert result.data["observations"]["email_answers"]["proofs"] == {code: "authenticated"}
    assert len(_to(smtp, SUPPLIER)) == 1


def test_a_reply_to_the_alert_email_is_taken_with_no_authentication(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    cfg = config(make_config, mail, smtp, monkeypatch,
                 notify={"sms": {"url_env": "T_SMS_URL"},
                         "details": {"email_to": OWNER_ADDRESS, "label": "email"}})
    # Too long for one text: the details go to the owner by email, under the bot's own
    # Message-ID.
    long_question = _mail(
        sender=f"Li Wei <{SUPPLIER}>", to=SUPPORT, subject="Carton sizes for order 7",
        body=("Hello, for the next order we would like to change the cartons. " * 12
              + "\n\nLi Wei\n"), message_id=_question_id())
    mail.append("INBOX", long_question, flags=(SEEN,))
    assert run(cfg).status == "ok"
    [alert] = _to(smtp, OWNER_ADDRESS)
    msg = EmailMessage()
    msg["From"] = f"Sam Carter <{OWNER_ADDRESS}>"
    msg["To"] = SUPPORT
    msg["Subject"] = "Re: your email"
    msg["Message-ID"] = "<answer.5@acme-goods.example>"
    msg["In-Reply-To"] = msg["References"] = alert["Message-ID"]
    msg.set_content("Yes, those cartons are fine.\n")
    mail.append("INBOX", msg.as_bytes())
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    assert list(result.data["observations"]["email_answers"]["proofs"].values()) == ["reply"]
    assert len(_to(smtp, SUPPLIER)) == 1


def test_config_check_says_whether_the_authserv_id_is_on_every_mail_and_suggests_one(
        make_config: Any, mail: dovecot.DovecotServer, smtp: SmtpServer,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    from rpa.cli.config import authentication_check

    for n in range(3):
        mail.append("INBOX", stamp(answer_mail(f"hello {n}", message_id=f"<s.{n}@x.example>"),
                                   "mx.acme-goods.example"))
    authentication_check(config(make_config, mail, smtp, monkeypatch))
    unset = capsys.readouterr().out
    assert "is not set" in unset
    assert "carries Authentication-Results from 'mx.acme-goods.example'" in unset
    authentication_check(config(make_config, mail, smtp, monkeypatch,
                                authserv_id="mx.google.com"))
    pinned = capsys.readouterr().out
    assert "'mx.google.com'" in pinned and "NOT trusted" in pinned
    assert "set mailbox.authserv_id to it" in pinned
    mail.append("INBOX", answer_mail("no stamp", message_id="<s.9@x.example>"))
    authentication_check(config(make_config, mail, smtp, monkeypatch,
                                authserv_id="mx.acme-goods.example"))
    partly = capsys.readouterr().out
    assert "on 3 of them: NOT trusted" in partly and "leave mailbox.authserv_id unset" in partly
