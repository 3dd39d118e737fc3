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
from rpa.owner import escalate
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.seller_central import messaging
from rpa.seller_central.messages import InboxRow, ThreadPage, needs_response, same_text
from rpa.seller_central.pages import SellerCentral
from rpa.seller_central.replies import Decision, ReplyBook, ThreadView, check_outgoing


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
    full = f"{esc['summary']} ({REPLY_NOT_SENT.rstrip('.')})"
    short = str(esc["short"]).replace(REPLY_SENT, REPLY_NOT_SENT)
    details = str(esc["details"]).replace(DETAILS_SENT, DETAILS_NOT_SENT)
    return full, short, details


def blocked_texts(code: str, view: ThreadView, decision: Decision) -> tuple[str, str, str]:
    """The owner's text (full and short) and details for a reply the rules stopped."""
    rules = ", ".join(sorted({r.split(":")[0] for r in decision.reason.split("; ")}))
    what = f"template '{decision.name}'" if decision.name else "the holding reply"
    full = (f"{code}: reply to {view.buyer} (order {view.order_id}) NOT sent: {what} "
            f"breaks Amazon's messaging rules ({rules}).")
    short = f"{code}: reply to {view.buyer} not sent: {what} breaks Amazon's rules."
    details = (f"{code}: a reply was stopped before sending.\nBuyer: {view.buyer}\n"
               f"Order: {view.order_id}\nThread: {view.url}\nRules broken: {decision.reason}\n\n"
               f"Buyer's message:\n{view.question}\n\nStopped text:\n{decision.text}\n\n"
               "Fix the template in the configuration, or answer the buyer by hand.")
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
        with self.ctx.step(f"thread {tid}: read") as step:
            page = self.sc.thread(tid)
            view = page.read()
        entry = self._entry(view, step.screenshot)
        key = view.message_key()
        prior = self.ledger.thread(self.account, tid, key)

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

        decision = self.book.decide(view)
        if decision.kind in ("template", "holding_reply"):
            broken = check_outgoing(decision, self.ctx.config.messaging.max_chars)
            if broken:
                decision = Decision("blocked", name=decision.name, text=decision.text,
                                    topic=decision.topic, reason=messaging.describe(broken))
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
            self._reply(page, view, key, decision, entry)

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
               entry: Entry) -> None:
        tid = view.thread_id
        code = None
        if decision.kind == "holding_reply":
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
        if esc is not None and esc["kind"] == "buyer_question":
            tid, _, key = str(esc["source_key"]).partition(":")
            rec = self.ledger.thread(self.account, tid, key)
            if rec is None or rec["state"] != "sent":
                texts = unsent_texts(esc)
        return escalate.notify(self.ctx, code, texts=texts)

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
        with ctx.step("read the needs-response inbox") as step:
            rows = sc.inbox().needing_response()
            step.name = f"needs-response inbox: {len(rows)} thread(s)"
        failed = [row.thread_id for row in rows if not handler.handle(row)]
        if not ctx.dry_run:
            handler.flush()
    finally:
        handler.save()
    if failed:
        raise PageError(f"{len(failed)} thread(s) could not be handled: {', '.join(failed)}")
