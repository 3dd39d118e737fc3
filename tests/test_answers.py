"""The owner's answers reach buyers: `rpa answer`, delivery in the Seller Central thread
once, a blocked template that still protects the 24-hour clock, refusals and retries.

Real Chromium against the sandbox, a real receiver for the owner's texts; the CLI runs as
a process of its own, as a VA would start it.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml

from rpa.config import Config
from rpa.ledger import Ledger
from rpa.messaging.replies import DEFAULT_REPLIES, HOLDING_SENTENCE
from rpa.owner.answers import AnswerError, submit
from rpa.practice import dovecot
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from tests.cli_forkserver import CliForkServers
from tests.conftest import Sandbox

ROOT = Path(__file__).resolve().parents[1]
QUESTION_THREAD = "T-1002"  # "Is the bamboo cutting board set safe in the dishwasher?"
ANSWER = ("Hello Marcus, the boards are best washed by hand with warm water; they are "
          "finished with food-safe mineral oil.")
# A template for that thread that breaks Amazon's rules (an email address).
BAD_TEMPLATE = {"name": "care", "when": ["dishwasher"],
                "text": "Hello {buyer_first_name}, write to care@bamboo-example.com. "
                        "{va_full_name}"}


# Each `rpa` command is a process of its own, forked from a server that has imported what
# `python -m rpa.cli` imports (tests/cli_forkserver.py): no Python start-up each.
CLI = CliForkServers()


@pytest.fixture(scope="module", autouse=True)
def _cli_servers() -> Iterator[None]:
    yield
    CLI.stop()


def _cli(*args: str, cwd: Path) -> subprocess.CompletedProcess[str]:
    env = {**os.environ, "NO_COLOR": "1", "COLUMNS": "200"}
    return CLI.run(list(args), cwd=cwd, env=env, timeout=120)


def _config_file(cfg: Config, tmp_path: Path) -> Path:
    path = tmp_path / "rpa.yaml"
    path.write_text(yaml.safe_dump(cfg.model_dump(mode="json")))
    return path


def _replies(sandbox: Sandbox, thread_id: str) -> list[str]:
    return [r["text"] for r in sandbox.state()["replies"] if r["thread_id"] == thread_id]


def _ledger(cfg: Config) -> Ledger:
    return Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")


def test_rpa_answer_reaches_the_buyer_once(sandbox: Sandbox, make_config: Any,
                                           receiver: Receiver, tmp_path: Path) -> None:
    cfg = make_config(signed_in=True, flows=["buyer_messages"])
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    entry = next(t for t in first.data["threads"] if t["thread_id"] == QUESTION_THREAD)
    code = entry["escalation"]
    assert code and code.startswith("B") and entry["decision"] == "holding_reply"
    assert len(_replies(sandbox, QUESTION_THREAD)) == 1
    escs = first.data["escalations"]
    assert code in escs["opened"] and code in escs["notified"]
    assert [e["state"] for e in escs["still_open"] if e["code"] == code] == ["notified"]
    assert "escalations-open" in first.report.read_text()
    config = _config_file(cfg, tmp_path)

    # An answer with a link would break Amazon's rules: refused, nothing sent or kept.
    proc = _cli("answer", code, "Yes, see www.bamboo-example.com/care", "--config",
                str(config), cwd=tmp_path)
    assert proc.returncode == 2, proc.stdout + proc.stderr
    assert "messaging rules" in proc.stderr and "link" in proc.stderr
    assert len(_replies(sandbox, QUESTION_THREAD)) == 1

    proc = _cli("answer", code.lower(), ANSWER, "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0, proc.stdout + proc.stderr
    sent = _replies(sandbox, QUESTION_THREAD)
    assert len(sent) == 2 and sent[1].startswith(ANSWER)
    assert sent[1].rstrip().endswith(cfg.va.full_name), "signed like every reply"
    answered_run = json.loads((Path(cfg.paths.recordings_dir) / "latest" / "run.json")
                              .read_text())
    assert answered_run["escalations"]["delivered"] == [code]
    assert code not in [e["code"] for e in answered_run["escalations"]["still_open"]]
    ledger = _ledger(cfg)
    esc = ledger.escalation(code)
    events = [e["event"] for e in ledger.events(code)]
    ledger.close()
    assert esc is not None and esc["status"] == "delivered" and esc["answer_via"] == "cli"
    assert events[:2] == ["opened", "notified"] and events[-2:] == ["answered", "delivered"]
    assert "answer_refused" in events

    # Answered and delivered: a second answer is refused; the routine sends nothing again.
    proc = _cli("answer", code, "Another answer", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and "already delivered" in proc.stderr
    proc = _cli("answer", "B999", "Anything", "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 2 and "no escalation B999" in proc.stderr
    texts = list(receiver.messages("sms"))
    again = run(cfg)
    assert again.status == "ok", again.data["errors"]
    assert len(_replies(sandbox, QUESTION_THREAD)) == 2
    assert receiver.messages("sms") == texts

    proc = _cli("escalations", "show", code, "--config", str(config), cwd=tmp_path)
    assert proc.returncode == 0 and "delivered" in proc.stdout and ANSWER[:40] in proc.stdout


def test_a_blocked_template_sends_the_holding_reply_and_the_answer_goes_once(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    cfg = make_config(signed_in=True, flows=["buyer_messages"],
                      replies=[*DEFAULT_REPLIES, BAD_TEMPLATE], retries={"attempts": 2})
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    entry = next(t for t in first.data["threads"] if t["thread_id"] == QUESTION_THREAD)
    code = entry["escalation"]
    assert code and code.startswith("R"), entry
    assert entry["sent"] and "email_address" in entry["reason"]
    sent = _replies(sandbox, QUESTION_THREAD)
    assert len(sent) == 1 and HOLDING_SENTENCE in sent[0] and "@" not in sent[0]
    text = next(t for t in receiver.messages("sms") if re.match(rf"{code}-[A-Z2-9]{{4}}:", t))
    assert "holding reply sent" in text and len(text) <= 160

    ledger = _ledger(cfg)
    with pytest.raises(AnswerError, match="belongs to the account"):
        submit(ledger, cfg, code, ANSWER, via="cli", by="VA", account="another")
    outcome = submit(ledger, cfg, code, ANSWER, via="console", by="owner")
    assert outcome.accepted and outcome.status == "recorded"
    ledger.close()

    # The reply endpoint fails on every attempt of this run: the answer is kept.
    sandbox.fault(http500="/messaging/thread/*/reply", times=2)
    failed = run(cfg, flows=["answers"])
    assert failed.status == "failed" and failed.exit_code == 1
    assert code in failed.data["errors"][-1]["message"]
    ledger = _ledger(cfg)
    esc = ledger.escalation(code)
    ledger.close()
    assert esc is not None and esc["status"] == "answered" and esc["delivery_state"] == "failed"
    assert len(_replies(sandbox, QUESTION_THREAD)) == 1

    delivered = run(cfg, flows=["answers"])
    assert delivered.status == "ok", delivered.data["errors"]
    sent = _replies(sandbox, QUESTION_THREAD)
    assert len(sent) == 2 and sent[1].startswith(ANSWER)

    # A crash after the send, before the ledger knew: the page settles it, no second send.
    ledger = _ledger(cfg)
    ledger.db.execute("UPDATE escalations SET status='answered', delivery_state='sending'"
                      " WHERE code=?", (code,))
    ledger.close()
    settled = run(cfg, flows=["answers"])
    assert settled.status == "ok", settled.data["errors"]
    assert len(_replies(sandbox, QUESTION_THREAD)) == 2
    ledger = _ledger(cfg)
    esc = ledger.escalation(code)
    ledger.close()
    assert esc is not None and esc["status"] == "delivered"
    assert any("on the page already" in s["name"] for s in settled.data["flows"]["answers"]
               ["steps"])


def test_a_performance_finding_is_told_once_acknowledged_by_an_answer_and_told_again_after_good(
        sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    sandbox.reset("at-risk")
    cfg = make_config(signed_in=True, flows=["performance"])
    first = run(cfg)
    assert first.status == "ok", first.data["errors"]
    code = first.data["observations"]["performance"]["finding"]
    assert code.startswith("F")
    texts = [t for t in receiver.messages("sms") if "Seller Performance" in t]
    assert len(texts) == 1 and re.match(rf"{code}-[A-Z2-9]{{4}}: Seller Performance is At "
                                        "Risk", texts[0]), texts

    second = run(cfg)  # the same finding: nothing new for the owner
    assert second.data["observations"]["performance"]["finding"] == code
    assert len([t for t in receiver.messages("sms") if "Seller Performance" in t]) == 1

    ledger = _ledger(cfg)
    outcome = submit(ledger, cfg, code, "Seen, I am on it.", via="cli", by="Maria Santos")
    esc = ledger.escalation(code)
    ledger.close()
    assert outcome.status == "closed" and esc is not None and esc["status"] == "closed"
    run(cfg)
    assert len([t for t in receiver.messages("sms") if "Seller Performance" in t]) == 1

    sandbox.reset("healthy")  # Good again: the finding no longer holds
    # the same ledger, that seller's login
    good = run(make_config(signed_in=True, flows=["performance"]))
    assert good.status == "ok", good.data["errors"]
    ledger = _ledger(cfg)
    assert (ledger.escalation(code) or {})["status"] == "expired"
    ledger.close()
    sandbox.reset("at-risk")
    again = run(make_config(signed_in=True, flows=["performance"]))
    new_code = again.data["observations"]["performance"]["finding"]
    assert new_code != code and new_code.startswith("F")
    assert len([t for t in receiver.messages("sms") if "Seller Performance" in t]) == 2


@pytest.mark.skipif(not dovecot.available()[0], reason="Dovecot is not available")
def test_a_buyer_answer_by_owner_email_reaches_the_thread_once(
        sandbox: Sandbox, make_config: Any, receiver: Receiver,
        monkeypatch: pytest.MonkeyPatch) -> None:
    from tests.test_email_answers import AUTHSERV, PASSES, _flags, _owner_reply

    with dovecot.DovecotServer() as mail:
        mail.start()
        monkeypatch.setenv("T_MAIL_PW", mail.password)
        box = {"host": mail.host, "port": mail.port, "tls": False, "user": mail.user,
               "password_env": "T_MAIL_PW", "owner_addresses": ["owner@acme-goods.example"],
               "authserv_id": AUTHSERV}
        cfg = make_config(signed_in=True, flows=["buyer_messages", "mailbox", "answers"],
                          mailbox=box)
        first = run(cfg)
        assert first.status == "ok", first.data["errors"]
        code = next(t["escalation"] for t in first.data["threads"]
                    if t["thread_id"] == QUESTION_THREAD)

        # An answer with a phone number: not sent; the owner is told why.
        mail.append("INBOX", _owner_reply(code, f"{code}: Call us on 555 010 4477 please.",
                                          auth=PASSES, message_id="<bad.1@acme-goods.example>"))
        refused = run(cfg)
        assert refused.status == "ok", refused.data["errors"]
        assert len(_replies(sandbox, QUESTION_THREAD)) == 1
        told = [t for t in receiver.messages("sms") if t.startswith(f"{code}: your answer")]
        assert len(told) == 1 and "NOT sent" in told[0] and "phone_number" in told[0]

        good_id = "<good.1@acme-goods.example>"
        mail.append("INBOX", _owner_reply(code, f"{code}: {ANSWER}", auth=PASSES,
                                          message_id=good_id))
        answered = run(cfg)
        assert answered.status == "ok", answered.data["errors"]
        sent = _replies(sandbox, QUESTION_THREAD)
        assert len(sent) == 2 and sent[1].startswith(ANSWER)
        assert answered.data["escalations"]["delivered"] == [code]

        later = run(cfg)  # the answer mails are done with; nothing goes twice
        assert later.status == "ok", later.data["errors"]
        assert len(_replies(sandbox, QUESTION_THREAD)) == 2
        assert len([t for t in receiver.messages("sms")
                    if t.startswith(f"{code}: your answer")]) == 1
        boxes = _flags(mail)
        assert good_id in boxes["Trash"] and "<bad.1@acme-goods.example>" in boxes["Trash"]


def test_an_email_answer_without_a_way_to_send_it_is_refused_clearly(
        make_config: Any) -> None:
    cfg = make_config(flows=["followups"])
    assert cfg.smtp is None
    ledger = _ledger(cfg)
    try:
        code, _ = ledger.escalate("test", "email", "<m1@example.org>",
                                  summary="{code}: Ann asks", details="{code}: Ann asks")
        with pytest.raises(AnswerError, match="no smtp section"):
            submit(ledger, cfg, code, "Yes.", via="cli", by="VA")
        assert (ledger.escalation(code) or {})["status"] == "open", "nothing kept"
    finally:
        ledger.close()
