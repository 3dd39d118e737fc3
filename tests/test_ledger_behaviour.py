"""The storage interface's behaviour, the same on both ledgers: each test runs on the
SQLite file and on PostgreSQL (a throwaway server, tests/conftest.py: a database per test).
Escalation codes, the reply protocol, the outbox's claims, run alerts, answers, emails,
runs and the audit trail."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from rpa.ledger import Ledger, LedgerStore, PostgresLedger
from tests.conftest import PgDatabase

Opener = Callable[..., LedgerStore]


@pytest.fixture(params=["sqlite", pytest.param("postgres", marks=pytest.mark.postgres)])
def open_store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[Opener]:
    """Opens the ledger under test (the SQLite file, or a database of this test's own);
    every ledger opened is closed after the test."""
    opened: list[LedgerStore] = []

    def make(*, code_floor: int = 0) -> LedgerStore:
        if request.param == "sqlite":
            store: LedgerStore = Ledger(tmp_path / "state" / "ledger.sqlite",
                                        code_floor=code_floor)
        else:
            db: PgDatabase = request.getfixturevalue("pg_database")
            store = PostgresLedger(db.url, password=db.password, code_floor=code_floor)
        opened.append(store)
        return store

    yield make
    for store in opened:
        store.close()



def test_escalation_codes_go_on_and_are_never_reused(open_store: Opener) -> None:
    store = open_store(code_floor=2)
    first = [store.escalate("a", "email", f"<m{i}@x>", summary="{code}: s", details="d {code}")
             for i in range(2)]
    assert first == [("E003", True), ("E004", True)]
    assert store.escalate("a", "email", "<m0@x>", summary="again", details="d") == ("E003", False)
    many = store.escalate_many("a", "email", [
        {"source_key": "<m1@x>", "summary": "s", "details": "d"},
        {"source_key": "<new@x>", "summary": "{code} new", "details": "d"},
        {"source_key": "<new@x>", "summary": "{code} twice", "details": "d"},
        {"source_key": "<other@x>", "summary": "s", "details": "d"}], run_id=None)
    assert many == [("E004", False), ("E005", True), ("E005", False), ("E006", True)]
    assert store.escalate("b", "buyer_question", "t:1", summary="{code}", details="d")[0] == "B007"
    assert store.escalation_counter() == 7
    row = store.escalation("E005")
    assert row is not None and row["summary"] == "E005 new" and row["status"] == "open"
    assert [e["event"] for e in store.events("E005")] == ["opened"]
    assert [e["code"] for e in store.escalations("a")] == ["E003", "E004", "E005", "E006"]
    assert [e["code"] for e in store.escalations(None, states=("open",))][-1] == "B007"
    assert re.fullmatch(r"[A-Z][A-Z2-9]{3}", store.answer_token("E005"))


def test_the_reply_protocol_records_before_and_confirms_after(open_store: Opener) -> None:
    store = open_store()
    args = dict(buyer="Tom Becker", order_id="114-1", url="https://x/M-04",
                decision="holding_reply", reply_text="Hello Tom")
    assert store.thread("a", "M-04", "k1") is None
    store.record_thread("a", "M-04", "k1", state="sending", escalation="B001", run_id="r1",
                        **args)
    row = store.thread("a", "M-04", "k1")
    assert row is not None and (row["state"], row["escalation"]) == ("sending", "B001")
    assert not store.answered("a", order_id="114-1"), "not answered until confirmed"
    store.set_thread_state("a", "M-04", "k1", "sent")
    assert store.answered("a", order_id="114-1") and store.answered("a", buyer="tom becker")
    assert not store.answered("b", order_id="114-1") and not store.answered("a")
    store.record_thread("a", "M-04", "k1", state="sent", run_id="r2", **args)
    row = store.thread("a", "M-04", "k1")
    assert row is not None and row["escalation"] == "B001", "a later write keeps the code"
    assert [t["thread_id"] for t in store.threads("a", state="sent")] == ["M-04"]
    assert store.threads("a", state="sending") == []


def test_the_outbox_claims_each_text_once_per_channel(open_store: Opener) -> None:
    store = open_store()
    for run_id, account in (("r1", "a"), ("r2", "a"), ("r3", "b")):
        store.start_run(run_id, account, False)
    assert store.outbox_sending("escalation:E001", "sms", "E001: x", "", "r1")
    store.outbox_done("escalation:E001", "sms", True)
    assert not store.outbox_sending("escalation:E001", "sms", "E001: x", "", "r2"), \
        "a text that went out is never claimed again"
    assert store.outbox_sending("escalation:E001", "details", "long", "", "r1")
    store.outbox_done("escalation:E001", "details", False)
    assert store.outbox_sending("escalation:E001", "details", "long", "", "r2")
    row = store.outbox("escalation:E001", "details")
    assert row is not None and (row["state"], row["attempts"], row["run_id"]) == (
        "sending", 2, "r2")
    # r2 dies here: the next run of account a sends it again, a run of b leaves it alone
    store.start_run("r4", "a", False)
    store.start_run("r5", "b", False)
    assert [(r["channel"], r["run_id"]) for r in store.outbox_interrupted("r4")] == [
        ("details", "r2")]
    assert store.outbox_interrupted("r5") == []
    assert store.outbox_interrupted("r2") == [], "not its own"
    assert [(u["channel"], u["account"]) for u in store.outbox_unsent()] == [("details", "a")]
    assert [d["channel"] for d in store.deliveries("E001")] == ["sms", "details"]
    store.record_alert("r4", "sms", "E001: x", True)


def test_a_run_alert_is_claimed_until_one_is_delivered(open_store: Opener) -> None:
    store = open_store()
    assert store.claim_run_alert("a", "failed:login", "2025-01-01", "r1", "t1") is None
    assert store.claim_run_alert("a", "failed:login", "2025-01-01", "r2", "t2") is None
    store.run_alert_sent("a", "failed:login", "2025-01-01")
    earlier = store.claim_run_alert("a", "failed:login", "2025-01-01", "r3", "t3")
    assert earlier is not None and (earlier["run_id"], earlier["delivered"]) == ("r2", 1)
    assert store.claim_run_alert("a", "failed:login", "2025-01-02", "r3", "t3") is None
    assert store.claim_run_alert("b", "failed:login", "2025-01-01", "r3", "t3") is None


def test_an_answer_is_taken_once_and_delivered(open_store: Opener) -> None:
    store = open_store()
    code, _ = store.escalate("a", "buyer_question", "M-1:k", summary="{code}", details="d")
    store.mark_notified(code, "r1")
    assert store.mark_reminded(code, "2025-01-01T00:00:00+00:00", "r1")
    assert not store.mark_reminded(code, "2025-01-01T00:00:00+00:00", "r1"), "once"
    store.record_answer(code, "first", via="cli", by="Ann")
    row = store.record_answer(code, "Yes, it ships today.", via="email", by="owner")
    assert (row["status"], row["answer"], row["answer_via"]) == (
        "answered", "Yes, it ships today.", "email")
    assert [e["code"] for e in store.answered_waiting("a", ("buyer_question",))] == [code]
    store.delivery(code, "sending")
    with pytest.raises(ValueError, match="cannot take an answer"):
        store.record_answer(code, "too late", via="cli", by="Ann")
    store.delivery(code, "failed", "HTTP 500")
    store.delivery(code, "sending")
    assert store.escalation(code)["delivery_attempts"] == "2"  # type: ignore[index]
    store.delivery(code, "done", run_id="r2")
    row = store.escalation(code)
    assert row is not None and row["status"] == "delivered" and row["delivered_at"]
    assert store.close_escalation(code, "done") and not store.close_escalation(code, "x")
    assert [e["event"] for e in store.events(code)][-3:] == [
        "delivery_failed", "delivered", "closed"]
    assert store.expire(code, "gone") and not store.expire(code, "gone")


def test_emails_and_the_mail_the_bot_sent(open_store: Opener) -> None:
    store = open_store()
    store.record_emails("a", [
        {"message_id": "<1@x>", "state": "waiting", "subject": "Hi", "body": "first body"},
        {"message_id": "<2@x>", "state": "trashed", "escalation": "E001"}], run_id="r1")
    store.record_emails("a", [{"message_id": "<1@x>", "state": "escalated", "body": "",
                               "escalation": "E002"},
                              {"message_id": "<2@x>", "state": "kept"}])
    known = store.emails_known("a", ["<1@x>", "<2@x>", "<3@x>", "<1@x>"])
    assert sorted(known) == ["<1@x>", "<2@x>"]
    assert (known["<1@x>"]["body"], known["<1@x>"]["escalation"]) == ("first body", "E002")
    assert known["<2@x>"]["escalation"] == "E001", "kept when a later write names none"
    store.set_email_state("a", ["<1@x>", "<2@x>"], "digested")
    assert [e["state"] for e in store.emails("a")] == ["digested", "digested"]
    assert store.emails("a", state="waiting") == [] and store.email("b", "<1@x>") is None
    store.remember_sent_mail("<alert@bot>", "E002", "alert")
    store.remember_sent_mail("<alert@bot>", "E009", "alert")  # the first one stays
    assert store.code_for_mail(["<none@x>", "<alert@bot>"]) == "E002"


def test_runs_steps_observations_and_the_audit(open_store: Opener) -> None:
    store = open_store()
    store.start_run("r1", "a", True)
    first = store.start_step("r1", "login", "sign in")
    second = store.start_step("r1", "login", "home")
    assert second > first > 0
    store.finish_step(first, "ok", "shot.png", None)
    store.observe("r1", "performance", {"odr": 0.5})
    store.observe("r1", "performance", {"odr": 0.7, "text": "nul \x00 char"})
    store.finish_run("r1", "ok")
    assert store.observations("r1")["performance"]["odr"] == 0.7
    assert [(s["name"], s["outcome"]) for s in store.steps("r1")] == [
        ("sign in", "ok"), ("home", None)]
    (run,) = store.runs()
    assert (run["account"], run["status"], run["dry_run"]) == ("a", "ok", 1)
    store.audit("ann", "signin", "from 127.0.0.1")
    store.audit("bob", "answer", "E001", account="a")
    assert [(e["user"], e["action"]) for e in store.audit_log()] == [
        ("bob", "answer"), ("ann", "signin")]
    assert [e["user"] for e in store.audit_log(action="signin")] == ["ann"]
