"""Answer every buyer message that needs a response, the way the operating instructions say.

Known questions get a reply template; a thank-you alone is marked "No response needed";
anything else gets the holding reply signed with the VA's full name, and the question goes
to the owner. Every outgoing text is checked against Amazon's messaging rules first: a text
that breaks one is not sent, the thread is escalated with the reason.

Never twice: the ledger records the intent before a reply is sent and the confirmation
after; before sending, the thread page itself is read, and a thread whose latest message is
already ours is never answered again (also after a crash between the send and the ledger).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from loguru import logger

from rpa.errors import ApplicationError, PageError
from rpa.messaging import policy
from rpa.messaging.replies import Decision, ReplyBook, ThreadView, check_outgoing
from rpa.owner import answers, escalate
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central.messages import InboxRow, ThreadPage, needs_response, same_text
from rpa.seller_central.pages import SellerCentral


@dataclass
class Entry:
    """One line of run.json's ``threads``."""

    thread_id: str
    buyer: str = ""
    order_id: str = ""
    decision: str = ""
    reason: str = ""
    sent: bool = False
    escalation: str | None = None
    screenshot: str | None = None
    answer: str | None = None  # the code of an owner's answer sent in this thread
    answer_sent: bool = False

    def as_dict(self) -> dict[str, Any]:
        return dict(self.__dict__)


def one_line(text: str) -> str:
    return " ".join(text.split())


# What the owner's texts say about the holding reply: the escalation is recorded with the
# first wording (texted once the reply shows on the page); when the reply could not be
# sent, the text that leaves says so instead (see ``unsent_texts``).
REPLY_SENT = "holding reply sent."
REPLY_NOT_SENT = "holding reply NOT sent yet; will retry."
DETAILS_SENT = "The buyer got the holding reply."
DETAILS_NOT_SENT = ("The holding reply could NOT be sent yet; the bot tries again on its "
                    "next run.")


def question_texts(code: str, view: ThreadView, topic: str) -> tuple[str, str, str]:
    """The owner's text (full and short) and the details message for an unknown question."""
    who = f"{view.buyer} (order {view.order_id})" if view.order_id else view.buyer
    full = f"{code}: {who} asks: {one_line(view.question)}"
    short = f"{code}: {who} asked about {topic}; {REPLY_SENT}"
    details = (f"{code}: a buyer question needs your answer.\n"
               f"Buyer: {view.buyer}\nOrder: {view.order_id}\nSubject: {view.subject}\n"
               f"Thread: {view.url}\n\nQuestion:\n{view.question}\n\n"
               f"{DETAILS_SENT} Answer with the code {code}.")
    return full, short, details


def unsent_texts(esc: dict[str, Any]) -> tuple[str, str, str]:
    """A buyer question's texts for when its holding reply is not on the page."""
    summary = str(esc["summary"])
    full = (summary.replace(REPLY_SENT, REPLY_NOT_SENT) if REPLY_SENT in summary
            else f"{summary} ({REPLY_NOT_SENT.rstrip('.')})")
    short = str(esc["short"]).replace(REPLY_SENT, REPLY_NOT_SENT)
    details = str(esc["details"]).replace(DETAILS_SENT, DETAILS_NOT_SENT)
    return full, short, details


def blocked_texts(code: str, view: ThreadView, decision: Decision, *,
                  holding_sent: bool = False) -> tuple[str, str, str]:
    """The owner's text (full and short) and details for a reply the rules stopped;
    ``holding_sent`` when the buyer got the holding reply instead."""
    rules = ", ".join(sorted({r.split(":")[0] for r in decision.reason.split("; ")}))
    what = f"template '{decision.name}'" if decision.name else "the holding reply"
    if holding_sent:
        full = (f"{code}: template '{decision.name}' for {view.buyer} (order "
                f"{view.order_id}) breaks Amazon's rules ({rules}); {REPLY_SENT} Your answer?")
        short = f"{code}: template for {view.buyer} breaks Amazon's rules; {REPLY_SENT}"
        after = (f"{DETAILS_SENT} Answer with the code {code} (your answer is sent to the "
                 "buyer), and fix the template in the configuration.")
    else:
        full = (f"{code}: reply to {view.buyer} (order {view.order_id}) NOT sent: {what} "
                f"breaks Amazon's messaging rules ({rules}).")
        short = f"{code}: reply to {view.buyer} not sent: {what} breaks Amazon's rules."
        after = (f"Nothing was sent to the buyer. Answer with the code {code} (your answer "
                 "is sent to the buyer), and fix the template in the configuration.")
    details = (f"{code}: a reply was stopped before sending.\nBuyer: {view.buyer}\n"
               f"Order: {view.order_id}\nThread: {view.url}\nRules broken: {decision.reason}\n\n"
               f"Buyer's message:\n{view.question}\n\nStopped text:\n{decision.text}\n\n"
               f"{after}")
    return full, short, details


class Handler:
    """Works through the threads; keeps one entry per thread for run.json."""

    def __init__(self, ctx: RunContext, sc: SellerCentral, book: ReplyBook) -> None:
        self.ctx = ctx
        self.sc = sc
        self.book = book
        self.account = ctx.account.name
        self.ledger = ctx.ledger
        self.entries: dict[str, Entry] = {}
        for item in ctx.observations.get("threads") or []:
            self.entries[item["thread_id"]] = Entry(**item)

    def save(self) -> None:
        self.ctx.observe("threads", [e.as_dict() for e in self.entries.values()])

    # --- the pieces ------------------------------------------------------------------
    def reconcile(self) -> None:
        """Replies whose sending was begun but never confirmed: settle them from the page."""
        for rec in self.ledger.threads(self.account, state="sending"):
            tid = rec["thread_id"]
            with self.ctx.step(f"thread {tid}: check an unconfirmed reply") as step:
                view = self.sc.thread(tid).read()
                confirmed = (view.answered
                             and same_text(view.last_seller_text(), rec["reply_text"]))
                if confirmed:
                    self.ledger.set_thread_state(self.account, tid, rec["message_key"], "sent")
                    step.name = f"thread {tid}: earlier reply confirmed on the page"
                else:
                    step.name = f"thread {tid}: earlier reply not on the page; will answer"
            if rec["escalation"] and confirmed:  # else told once the reply is sent, or why not
                self.notify_step(tid, rec["escalation"], "question sent to the owner")

    def handle(self, row: InboxRow) -> bool:
        """Handle one thread, retrying technical failures; False when it could not be done."""
        attempts = self.ctx.config.retries.attempts
        for attempt in range(1, attempts + 1):
            try:
                self._handle(row)
                return True
            except ApplicationError as err:
                logger.warning("thread {} attempt {} of {} failed: {}", row.thread_id,
                               attempt, attempts, err)
                entry = self.entries.setdefault(row.thread_id, Entry(row.thread_id))
                entry.reason = f"error: {str(err).splitlines()[0]}"
        return False

    def _entry(self, view: ThreadView, shot: str | None) -> Entry:
        entry = self.entries.setdefault(view.thread_id, Entry(view.thread_id))
        entry.buyer, entry.order_id = view.buyer, view.order_id
        entry.screenshot = shot or entry.screenshot
        return entry

    def _handle(self, row: InboxRow) -> None:
        tid = row.thread_id
        # One screenshot per thread, after its decisive action: the page after the reply or
        # "No response needed", or, when nothing on the page changes (answered already,
        # handled before, blocked, a dry run), the page as read.
        with self.ctx.step(f"thread {tid}: read", screenshot=False) as step:
            page = self.sc.thread(tid)
            view = page.read()
            key = view.message_key()
            prior = self.ledger.thread(self.account, tid, key)
            done = (view.answered or not needs_response(view)
                    or bool(prior and prior["state"] in ("sent", "no_response")))
            decision, stopped = (None, None) if done else self.decide(view)
            if decision is None or self.ctx.dry_run or decision.kind == "blocked":
                self.ctx.screenshot(step)
        entry = self._entry(view, step.screenshot)

        if view.answered or not needs_response(view):
            if prior and prior["state"] == "sending":
                self.ledger.set_thread_state(self.account, tid, key, "sent")
            entry.decision = (prior or {}).get("decision") or "already_answered"
            entry.sent = bool(prior and prior["state"] in ("sending", "sent"))
            entry.reason = "the page shows the thread answered already; nothing sent"
            return
        if prior and prior["state"] in ("sent", "no_response"):
            entry.decision, entry.sent = prior["decision"], False
            entry.reason = ("the ledger shows this message handled already, though the page "
                            "still lists it; not sent again")
            logger.warning("thread {}: {}", tid, entry.reason)
            return
        assert decision is not None
        entry.decision, entry.reason = decision.label, decision.reason

        if self.ctx.dry_run:
            with self.ctx.step(f"thread {tid}: would {decision.label} (dry run)",
                               screenshot=False):
                entry.reason = f"dry run: {decision.reason}"
            return
        if decision.kind == "no_response_needed":
            self._no_response(page, view, key, decision, entry)
        elif decision.kind == "blocked":
            self._blocked(view, key, decision, entry)
        else:
            self._reply(page, view, key, decision, entry, stopped)

    def decide(self, view: ThreadView) -> tuple[Decision, Decision | None]:
        """What to send, and the template the messaging rules stopped (if one was).

        A template that breaks a rule is not sent; the buyer gets the holding reply instead
        (when it passes), so the 24-hour clock is kept, and the owner gets the ``R…``
        escalation. When the holding reply breaks a rule too, nothing is sent.
        """
        limit = self.ctx.config.messaging.max_chars
        decision = self.book.decide(view)
        if decision.kind not in ("template", "holding_reply"):
            return decision, None
        broken = check_outgoing(decision, limit)
        if not broken:
            return decision, None
        stopped = Decision("blocked", name=decision.name, text=decision.text,
                           topic=decision.topic, reason=policy.describe(broken))
        if decision.kind == "template":
            holding = self.book.holding(
                view, reason=(f"template '{decision.name}' breaks the messaging rules "
                              f"({stopped.reason}): holding reply sent, the owner asked"))
            if not check_outgoing(holding, limit):
                return holding, stopped
            also = policy.describe(check_outgoing(holding, limit))
            stopped.reason += f"; the holding reply too: {also}"
        return stopped, None

    def _no_response(self, page: ThreadPage, view: ThreadView, key: str, decision: Decision,
                     entry: Entry) -> None:
        with self.ctx.step(f"thread {view.thread_id}: no response needed") as step:
            after = page.mark_no_response()
            if needs_response(after):
                raise PageError(f"thread {view.thread_id} still needs a response after "
                                "'No response needed'")
            self.ledger.record_thread(self.account, view.thread_id, key, buyer=view.buyer,
                                      order_id=view.order_id, url=view.url,
                                      decision=decision.label, reply_text="",
                                      state="no_response", reason=decision.reason,
                                      run_id=self.ctx.run_id)
        entry.screenshot = step.screenshot or entry.screenshot

    def _blocked(self, view: ThreadView, key: str, decision: Decision, entry: Entry) -> None:
        full, short, details = blocked_texts("{code}", view, decision)
        code, _ = self.ledger.escalate(
            self.account, "blocked_reply", f"{view.thread_id}:{key}", buyer=view.buyer,
            order_id=view.order_id, url=view.url, run_id=self.ctx.run_id,
            summary=full, short=short, details=details)
        self.ledger.record_thread(self.account, view.thread_id, key, buyer=view.buyer,
                                  order_id=view.order_id, url=view.url,
                                  decision=decision.label, reply_text=decision.text,
                                  state="blocked", reason=decision.reason, escalation=code,
                                  run_id=self.ctx.run_id)
        entry.escalation = code
        self.notify_step(view.thread_id, code, "reply blocked by the messaging rules")

    def _reply(self, page: ThreadPage, view: ThreadView, key: str, decision: Decision,
               entry: Entry, stopped: Decision | None = None) -> None:
        tid = view.thread_id
        code = None
        if decision.kind == "holding_reply" and stopped is not None:
            full, short, details = blocked_texts("{code}", view, stopped, holding_sent=True)
            code, _ = self.ledger.escalate(
                self.account, "blocked_reply", f"{tid}:{key}", buyer=view.buyer,
                order_id=view.order_id, url=view.url, run_id=self.ctx.run_id,
                summary=full, short=short, details=details)
            entry.escalation = code
        elif decision.kind == "holding_reply":
            full, short, details = question_texts("{code}", view, decision.topic)
            code, _ = self.ledger.escalate(
                self.account, "buyer_question", f"{tid}:{key}", buyer=view.buyer,
                order_id=view.order_id, url=view.url, run_id=self.ctx.run_id,
                summary=full, short=short, details=details)
            entry.escalation = code
        # The intent, before anything leaves: a crash from here on is settled from the page.
        self.ledger.record_thread(self.account, tid, key, buyer=view.buyer,
                                  order_id=view.order_id, url=view.url,
                                  decision=decision.label, reply_text=decision.text,
                                  state="sending", reason=decision.reason, escalation=code,
                                  run_id=self.ctx.run_id)
        with self.ctx.step(f"thread {tid}: send {decision.label}") as step:
            after = page.send(decision.text)
            if not (after.answered and same_text(after.last_seller_text(), decision.text)):
                problem = page.error_text() or "the reply does not show on the thread"
                raise PageError(f"thread {tid}: reply not confirmed ({problem})")
            if needs_response(after):
                raise PageError(f"thread {tid}: still listed as needing a response")
            self.ledger.set_thread_state(self.account, tid, key, "sent")
            entry.sent = True
        entry.screenshot = step.screenshot or entry.screenshot
        if code:  # only now: the text says the holding reply was sent, and it was
            self.notify_step(tid, code, "question sent to the owner")

    def notify_step(self, tid: str, code: str, what: str) -> bool:
        """Tell the owner about ``code`` in a step of its own, not ok when undelivered."""
        with self.ctx.step(f"thread {tid}: {what} ({code})", screenshot=False) as step:
            ok = self.notify(code)
            if not ok:
                step.outcome = "undelivered"
                step.name = f"thread {tid}: {code} NOT delivered to the owner; tried next run"
        return ok

    def notify(self, code: str) -> bool:
        """Text escalation ``code``; a buyer question whose holding reply is not on the page
        (yet) is texted saying so, never as if the reply had gone out."""
        esc = self.ledger.escalation(code)
        texts = None
        if esc is not None and esc["kind"] in ("buyer_question", "blocked_reply"):
            tid, _, key = str(esc["source_key"]).partition(":")
            rec = self.ledger.thread(self.account, tid, key)
            holding = rec is None or str(rec["decision"]).startswith("holding_reply")
            if holding and (rec is None or rec["state"] != "sent") and \
                    REPLY_SENT in str(esc["summary"]) + str(esc["short"]):
                texts = unsent_texts(esc)
        return escalate.notify(self.ctx, code, texts=texts)

    # --- the owner's answers ---------------------------------------------------------
    def deliver_answers(self) -> list[str]:
        """Send every answered buyer question and blocked reply to its thread, once.

        The thread page decides: an answer already among the seller's messages there is
        delivered (a crash after the send), else it is sent and must show on the page.
        The rules are checked again (the configuration may have changed); a failure keeps
        the answer for the next run. Returns the codes that could not be delivered.
        """
        failed: list[str] = []
        for esc in self.ledger.answered_waiting(self.account, answers.BUYER_KINDS):
            code = esc["code"]
            try:
                self._deliver(esc)
            except ApplicationError as err:
                why = str(err).splitlines()[0]
                self.ledger.delivery(code, "failed", why, self.ctx.run_id)
                logger.warning("answer {} not delivered: {}", code, why)
                failed.append(code)
        return failed

    def _deliver(self, esc: dict[str, Any]) -> None:
        code, text = esc["code"], str(esc["answer"])
        tid, _, key = str(esc["source_key"]).partition(":")
        run_id = self.ctx.run_id
        with self.ctx.step(f"thread {tid}: deliver the owner's answer ({code})") as step:
            page = self.sc.thread(tid)
            view = page.read()
            entry = self._entry(view, None)
            if not entry.decision:  # a thread this run touches only for the answer
                entry.decision = "owner_answer"
                entry.reason = f"the owner's answer to {code}"
                entry.escalation = code
            if self.ctx.dry_run:
                step.name = f"thread {tid}: would send the answer to {code} (dry run)"
                return
            if any(m.sender == "seller" and same_text(m.text, text) for m in view.messages):
                self.ledger.delivery(code, "done", "found on the thread page", run_id)
                step.name = f"thread {tid}: the answer to {code} is on the page already"
                entry.answer, entry.answer_sent = code, True
                return
            broken = policy.check(text, self.ctx.config.messaging.max_chars)
            if broken:
                why = policy.describe(broken)
                self.ledger.delivery(code, "refused", why, run_id)
                step.outcome = "refused"
                step.name = f"thread {tid}: the answer to {code} breaks the messaging rules"
                self._tell_refused(esc, text, why)
                return
            self.ledger.delivery(code, "sending", run_id=run_id)
            after = page.send(text)
            if not (after.answered and same_text(after.last_seller_text(), text)):
                problem = page.error_text() or "the answer does not show on the thread"
                raise PageError(f"thread {tid}: answer {code} not confirmed ({problem})")
            self.ledger.delivery(code, "done", f"sent in thread {tid}", run_id)
            entry.answer, entry.answer_sent = code, True
            entry.sent = entry.sent or entry.decision == "owner_answer"
            step.name = f"thread {tid}: the owner's answer ({code}) sent to {view.buyer}"
        entry.screenshot = step.screenshot or entry.screenshot

    def _tell_refused(self, esc: dict[str, Any], text: str, why: str) -> None:
        outcome = answers.Outcome(esc["code"], esc["kind"], "refused", text, why, esc)
        short, details = answers.refused_text(outcome)
        with self.ctx.step(f"{esc['code']}: owner told the answer was not sent",
                           screenshot=False) as step:
            if not self.ctx.notifier.sms(short, details=details,
                                         title=f"Answer {esc['code']} not sent",
                                         key=f"refused:{esc['code']}:{esc['answered_at']}"):
                step.outcome = "undelivered"

    def flush(self) -> None:
        """Escalations created earlier whose text to the owner did not go out."""
        for esc in self.ledger.escalations(self.account, unnotified=True):
            if esc["kind"] in ("buyer_question", "blocked_reply"):
                self.notify(esc["code"])


@flow("buyer_messages", needs=("login",))
def buyer_messages(ctx: RunContext) -> None:
    """Answer buyer messages from templates; holding reply + escalation for the unknown."""
    sc = SellerCentral(ctx)
    handler = Handler(ctx, sc, ctx.config.reply_book())
    try:
        if not ctx.dry_run:
            handler.reconcile()
        undelivered = handler.deliver_answers()
        with ctx.step("read the needs-response inbox") as step:
            rows = sc.inbox().needing_response()
            step.name = f"needs-response inbox: {len(rows)} thread(s)"
        failed = [row.thread_id for row in rows if not handler.handle(row)]
        if not ctx.dry_run:
            handler.flush()
    finally:
        handler.save()
    if failed or undelivered:
        raise PageError(", ".join(
            ([f"{len(failed)} thread(s) could not be handled: {', '.join(failed)}"]
             if failed else [])
            + ([f"answer(s) not delivered: {', '.join(undelivered)} (kept for the next run)"]
               if undelivered else [])))


@flow("answers", needs=("login",))
def deliver_answers(ctx: RunContext) -> None:
    """Deliver the owner's answers to buyers (B… and R… codes) in their Seller Central
    threads, and nothing else; the routine does the same in buyer_messages."""
    sc = SellerCentral(ctx)
    handler = Handler(ctx, sc, ctx.config.reply_book())
    try:
        if not ctx.dry_run:
            handler.reconcile()
        undelivered = handler.deliver_answers()
        if not handler.entries:
            with ctx.step("no answer waiting for delivery in Seller Central", screenshot=False):
                pass
    finally:
        handler.save()
    if undelivered:
        raise PageError(f"answer(s) not delivered: {', '.join(undelivered)} "
                        "(kept for the next run)")
