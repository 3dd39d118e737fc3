"""The owner's alert emails (an ``email:`` channel): one Message-ID per text and address,
kept before the mail leaves, so a text sent again after a crash is the same mail to the
owner's mailbox and a reply to it still names the escalation. A real SMTP server (the
local one) and the SQLite ledger."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from rpa.ledger import Ledger
from rpa.owner.notify import Notifier
from rpa.practice.smtpserver import SmtpServer
from rpa.smtp import SmtpSettings

OWNER = "sam@acme-goods.example"


@pytest.fixture()
def smtp() -> Iterator[SmtpServer]:
    server = SmtpServer().start()
    yield server
    server.stop()


def _notifier(ledger: Ledger, smtp: SmtpServer, run_id: str) -> Notifier:
    return Notifier(initials="MS", urls={"sms": [f"email:{OWNER}"],
                                         "details": [f"email:{OWNER}"]},
                    ledger=ledger, run_id=run_id,
                    smtp=SmtpSettings("127.0.0.1", smtp.port, "none", "bot@acme.example"))


def test_a_text_sent_again_after_a_crash_keeps_its_message_id(smtp: SmtpServer,
                                                              tmp_path: Path) -> None:
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        code, _ = ledger.escalate("shop", "email", "<q@x>", summary="{code}: s", details="d")
        long = "x" * 400  # does not fit a text: the details channel gets it too
        assert _notifier(ledger, smtp, "run-1").sms(
            f"{code}: {long}", details=f"{code} details {long}", short=f"{code}: short",
            key=f"escalation:{code}")
        first = smtp.messages()
        assert len(first) == 2, "the short text and the details, each a mail"
        ids = {str(m["Message-ID"]) for m in first}
        assert len(ids) == 2, "two texts: two mails a mailbox keeps apart"
        # The process died after the mails left, before the outbox heard
        ledger.db.execute("UPDATE outbox SET state='sending'")
        assert _notifier(ledger, smtp, "run-2").resend_interrupted() == 2
        again = smtp.messages()[2:]
        assert len(again) == 2
        assert {str(m["Message-ID"]) for m in again} == ids, "the same mails, once shown"
        for mid in ids:
            assert ledger.code_for_mail([mid]) == code
    finally:
        ledger.close()


def test_the_id_is_kept_before_the_mail_leaves(smtp: SmtpServer, tmp_path: Path) -> None:
    """The server is down when the text is first tried: the later send uses the id kept,
    and a mail the bot never sent under another id is no reply to anything."""
    ledger = Ledger(tmp_path / "ledger.sqlite")
    try:
        code, _ = ledger.escalate("shop", "email", "<q@x>", summary="{code}: s", details="d")
        down = SmtpServer().start()
        port = down.port
        down.stop()
        cold = Notifier(initials="MS", urls={"sms": [f"email:{OWNER}"]}, ledger=ledger,
                        run_id="run-1",
                        smtp=SmtpSettings("127.0.0.1", port, "none", "bot@acme.example",
                                          timeout_s=2))
        assert not cold.sms(f"{code}: short", key=f"escalation:{code}")
        kept = ledger.db.execute("SELECT message_id FROM sent_mail").fetchall()
        assert len(kept) == 1
        assert _notifier(ledger, smtp, "run-2").sms(f"{code}: short",
                                                     key=f"escalation:{code}")
        (mail,) = smtp.messages()
        assert str(mail["Message-ID"]) == kept[0]["message_id"]
        assert ledger.code_for_mail(["<other@acme.example>"]) is None
    finally:
        ledger.close()
