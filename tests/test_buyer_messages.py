"""The buyer-messages flow end to end: real Chromium, the sandbox, a real receiver."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import yaml

from rpa.messaging.replies import DEFAULT_REPLIES, HOLDING_SENTENCE
from rpa.practice.receiver import Receiver
from rpa.run.orchestrator import run
from tests.conftest import Sandbox

# A template that breaks Amazon's rules (a phone number): it must be stopped, never sent;
# the buyer gets the holding reply instead and the owner an R… escalation.
BAD_TEMPLATE = {
    "name": "warranty",
    "when": ["warranty"],
    "text": "Hello {buyer_first_name}, call our warranty desk on +1 (555) 010-4477. "
            "{va_full_name}",
}
REPLIES = [*DEFAULT_REPLIES, BAD_TEMPLATE]
EXPECTED = {
    "M-01": "template:where_is_my_order",
    "M-02": "template:return_request",
    "M-03": "template:item_not_as_described",
    "M-04": "holding_reply",
    "M-05": "holding_reply",
    "M-06": "no_response_needed",
    "M-07": "holding_reply",
    "M-08": "template:where_is_my_order",
    "M-09": "holding_reply",
    "M-10": "holding_reply",
    "M-11": "template:item_not_as_described",
    "M-12": "holding_reply",
    "M-13": "holding_reply",
    "M-15": "holding_reply",
}
STOPPED_TEMPLATE = "M-15"


def messages_config(sandbox: Sandbox, make_config: Any, *, signed_in: bool = True,
                    **extra: Any) -> Any:
    sandbox.reset("messages")
    return make_config(signed_in=signed_in, flows=["buyer_messages"], replies=REPLIES,
                       **extra)


def replies_by_thread(sandbox: Sandbox) -> dict[str, list[str]]:
    out: dict[str, list[str]] = {}
    for item in sandbox.state()["replies"]:
        out.setdefault(item["thread_id"], []).append(item["text"])
    return out


def test_every_decision_path(sandbox: Sandbox, make_config: Any, receiver: Receiver) -> None:
    cfg = messages_config(sandbox, make_config)
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    state = sandbox.state()
    sent = replies_by_thread(sandbox)

    decisions = {t["thread_id"]: t["decision"] for t in result.data["threads"]}
    assert decisions == EXPECTED, "every thread, also those on the inbox's second page"
    assert all(len(texts) == 1 for texts in sent.values())
    replied = {tid for tid, d in EXPECTED.items() if d.startswith(("template", "holding"))}
    assert set(sent) == replied
    assert [x["thread_id"] for x in state["no_response"]] == ["M-06"]
    assert state["buyer_messages"] == 0  # the blocked template's buyer got the holding reply

    # a template, placeholders filled
    olivia = sent["M-01"][0]
    assert olivia.startswith("Hello Olivia,")
    assert "order 113-5520981-3307741" in olivia and olivia.endswith("Maria Santos")
    assert "{" not in olivia
    # the holding reply names the topic and is signed with the VA's full name
    tom = sent["M-04"][0]
    assert HOLDING_SENTENCE in tom and "shipping and delivery" in tom
    assert tom.startswith("Hello Tom,") and tom.endswith("Maria Santos")
    assert "the invoice" in sent["M-05"][0]
    # two buyer messages in a row are read together
    assert "the product details" in sent["M-13"][0]

    by_id = {t["thread_id"]: t for t in result.data["threads"]}
    for tid, entry in by_id.items():
        assert entry["sent"] == (tid in replied)
        assert entry["screenshot"] and (result.folder / entry["screenshot"]).is_file()
        assert entry["buyer"] and entry["order_id"]
    holding = [tid for tid, d in EXPECTED.items()
               if d == "holding_reply" and tid != STOPPED_TEMPLATE]
    codes = [by_id[tid]["escalation"] for tid in holding]
    assert all(codes) and len(set(codes)) == len(codes)
    assert all(code.startswith("B") for code in codes)
    # the stopped template: never sent; the holding reply went instead, the owner has R…
    assert by_id["M-15"]["escalation"].startswith("R") and by_id["M-15"]["sent"]
    assert "phone_number" in by_id["M-15"]["reason"]
    assert "555" not in sent["M-15"][0] and HOLDING_SENTENCE in sent["M-15"][0]
    assert by_id["M-01"]["escalation"] is None

    sms = receiver.messages("sms")
    assert len(sms) == len(holding) + 1
    for text in sms:
        assert len(text) <= 160 and text.endswith("-MS"), text
    for code in [*codes, by_id["M-15"]["escalation"]]:
        assert sum(bool(re.match(rf"{code}-[A-Z2-9]{{4}}:", text)) for text in sms) == 1
    blocked_text = next(t for t in sms if t.startswith(by_id["M-15"]["escalation"]))
    assert "breaks Amazon's rules" in blocked_text and "holding reply sent" in blocked_text
    # the long question does not fit a text: the text points at the details channel
    long_code = by_id["M-09"]["escalation"]
    long_sms = next(t for t in sms if t.startswith(long_code))
    assert "Check Upwork for details." in long_sms
    details = receiver.messages("details")
    assert any(long_code in d and "plain boxes without any printed retail packaging" in d
               for d in details)
    # a short question is texted whole
    short_sms = next(t for t in sms if t.startswith(by_id["M-10"]["escalation"]))
    assert "gift note" in short_sms

    run_json = json.loads((result.folder / "run.json").read_text())
    assert {t["thread_id"] for t in run_json["threads"]} == set(EXPECTED)
    assert set(run_json["threads"][0]) >= {"thread_id", "buyer", "order_id", "decision",
                                           "reason", "sent", "escalation", "screenshot"}

    # A rerun sends nothing new: no reply and no text twice.
    first_replies = sandbox.state()["replies"]
    first_texts = list(receiver.messages("sms"))
    second = run(cfg)
    assert second.status == "ok", second.data["errors"]
    assert sandbox.state()["replies"] == first_replies
    assert receiver.messages("sms") == first_texts, "no escalation is texted twice"
    assert not [t for t in second.data["threads"] if t["decision"] == "blocked"]


def test_dry_run_decides_and_sends_nothing(sandbox: Sandbox, make_config: Any,
                                           receiver: Receiver) -> None:
    result = run(messages_config(sandbox, make_config), dry_run=True)
    assert result.status == "ok", result.data["errors"]
    state = sandbox.state()
    assert state["replies"] == [] and state["no_response"] == []
    assert receiver.items == []
    decisions = {t["thread_id"]: t["decision"] for t in result.data["threads"]}
    assert decisions == EXPECTED
    assert not any(t["sent"] for t in result.data["threads"])


def test_send_fails_once_then_retried(sandbox: Sandbox, make_config: Any) -> None:
    cfg = messages_config(sandbox, make_config)
    sandbox.fault(http500="/messaging/thread/*/reply")
    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    state = sandbox.state()
    assert state["counters"]["http500_served"] == 1
    sent = replies_by_thread(sandbox)
    assert all(len(v) == 1 for v in sent.values())
    assert len(sent) == sum(1 for d in EXPECTED.values() if d.startswith(("template", "hold")))


def test_session_expires_between_open_and_send(sandbox: Sandbox, make_config: Any) -> None:
    cfg = messages_config(sandbox, make_config, signed_in=False)  # counts both sign-ins

    fired: list[str] = []

    def expire(event: str, rec: Any) -> None:
        if event == "end" and rec.name == "thread M-02: read" and not fired:
            fired.append(rec.name)  # once: the session ends between reading and sending
            sandbox.fault(expire_session=True)

    result = run(cfg, on_step=expire)
    assert result.status == "ok", result.data["errors"]
    assert sandbox.state()["counters"]["signins"] == 2
    sent = replies_by_thread(sandbox)
    assert len(sent["M-02"]) == 1
    assert all(len(v) == 1 for v in sent.values())


KILL_SCRIPT = """
import os, signal, sys
from rpa.config import load_config
from rpa.run.orchestrator import run
from rpa.seller_central.messages import ThreadPage

original = ThreadPage.send

def send_then_die(self, text):
    view = original(self, text)
    if self.thread_id == sys.argv[2]:
        os.kill(os.getpid(), signal.SIGKILL)  # after the send, before the ledger knows
    return view

ThreadPage.send = send_then_die
run(load_config(sys.argv[1]))
"""


def test_killed_right_after_a_send_never_sends_twice(sandbox: Sandbox, make_config: Any,
                                                     receiver: Receiver,
                                                     tmp_path: Path) -> None:
    cfg = messages_config(sandbox, make_config)
    cfg_file = tmp_path / "rpa.yaml"
    data = cfg.model_dump(mode="json")
    cfg_file.write_text(yaml.safe_dump(data))
    script = tmp_path / "kill.py"
    script.write_text(KILL_SCRIPT)
    root = Path(__file__).resolve().parent.parent
    proc = subprocess.run([sys.executable, str(script), str(cfg_file), "M-04"], cwd=root,
                          env={**os.environ, "PYTHONPATH": str(root)}, capture_output=True,
                          text=True, timeout=180, check=False)
    assert proc.returncode == -9, proc.stderr[-2000:]
    killed_state = replies_by_thread(sandbox)
    assert "M-04" in killed_state and "M-05" not in killed_state
    assert not any(t.startswith("B") for t in receiver.messages("sms")), \
        "the owner was not texted yet about M-04"

    result = run(cfg)
    assert result.status == "ok", result.data["errors"]
    sent = replies_by_thread(sandbox)
    assert all(len(v) == 1 for v in sent.values()), sent
    assert len(sent) == sum(1 for d in EXPECTED.values() if d.startswith(("template", "hold")))
    # the escalation begun before the kill is not dropped: the owner hears about M-04 once
    from rpa.ledger import Ledger

    ledger = Ledger(Path(cfg.paths.state_dir) / "ledger.sqlite")
    rec = next(r for r in ledger.threads("test") if r["thread_id"] == "M-04")
    assert rec["state"] == "sent" and rec["escalation"]
    ledger.close()
    assert sum(bool(re.match(rf"{rec['escalation']}-[A-Z2-9]{{4}}:", t))
               for t in receiver.messages("sms")) == 1
