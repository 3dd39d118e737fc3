"""Escalations to the owner: created once in the ledger, texted once, never dropped.

A flow first records the escalation (with its code and texts) and only then tells the
owner; a text that does not get through stays marked as not notified and is sent by
:func:`flush` at the end of the flow or on the next run.

The owner's phone is spared two floods: :func:`flush` with a ``limit`` texts that many
escalations one by one and the rest in one digest text (their codes, how many, the whole
list on the details channel), each marked notified once that text is delivered; and
:func:`mailing_list_digest` tells about newsletters at most once a day, as one text.
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from rpa.config import AccountConfig, Config
    from rpa.ledger import LedgerStore
    from rpa.owner.notify import Notifier


class EscalationRun(Protocol):
    """The run an escalation is made in, as far as escalating uses it: the run context
    handed to every flow (``rpa.run.context.RunContext``) has all of it."""

    @property
    def config(self) -> Config: ...
    @property
    def account(self) -> AccountConfig: ...
    @property
    def ledger(self) -> LedgerStore: ...
    @property
    def notifier(self) -> Notifier: ...
    @property
    def run_id(self) -> str: ...
    @property
    def dry_run(self) -> bool: ...
    @property
    def clock(self) -> Callable[[], datetime]: ...


class UnknownEscalation(LookupError):
    """A code was to be texted that the ledger does not hold: a bug or a lost ledger."""


def with_token(text: str, code: str, token: str) -> str:
    """``text`` with each mention of ``code`` shown with its answer token ("E012-K7QP"):
    what the owner's channels get, so that an email answer quoting it proves it saw one."""
    if not token:
        return text
    return re.sub(rf"(?<![A-Za-z0-9]){re.escape(code)}(?![0-9])(?!-{re.escape(token)})",
                  f"{code}-{token}", text)


def notify(ctx: EscalationRun, code: str, *,
           texts: tuple[str, str, str] | None = None) -> bool:
    """Text the owner about escalation ``code`` unless that was done already.

    ``texts`` (summary, short, details) replace the recorded ones, for a text that must
    say something the escalation's texts do not (e.g. that a reply is not sent yet). Each
    channel goes through the outbox under the code, so a channel that delivered is never
    sent again. A code the ledger does not hold raises :class:`UnknownEscalation`.
    """
    esc = ctx.ledger.escalation(code)
    if esc is None:
        raise UnknownEscalation(f"escalation {code!r} is not in the ledger {ctx.ledger.where}; "
                                "nothing can be texted for it")
    if esc["notified_at"]:
        return True
    if ctx.dry_run:
        return False
    token = ctx.ledger.answer_token(code)
    summary, short, details = (with_token(t, code, token) for t in
                               texts or (esc["summary"], esc["short"], esc["details"]))
    ok = ctx.notifier.sms(summary, details=details, short=short or None,
                          title=f"Escalation {code}", key=f"escalation:{code}")
    if ok:
        ctx.ledger.mark_notified(code, ctx.run_id)
    return ok


@dataclass
class Flushed:
    """What one :func:`flush_capped` told the owner."""

    texted: list[str] = field(default_factory=list)  # codes texted one by one (delivered)
    failed: list[str] = field(default_factory=list)  # texted one by one, not delivered
    digest: list[str] = field(default_factory=list)  # codes in the digest text
    digest_delivered: bool = False
    digest_text: str = ""


def flush(ctx: EscalationRun, kinds: tuple[str, ...]) -> int:
    """Send every earlier escalation of ``kinds`` whose text did not go out; returns how many."""
    sent = 0
    for esc in ctx.ledger.escalations(ctx.account.name, unnotified=True):
        if esc["kind"] in kinds and notify(ctx, esc["code"]):
            sent += 1
    return sent


def flush_capped(ctx: EscalationRun, kinds: tuple[str, ...], limit: int, *,
                 noun: tuple[str, str] = ("escalation", "escalations"),
                 without_details: str = "the VA has the list",
                 first: set[str] | frozenset[str] = frozenset()) -> Flushed:
    """Every escalation of ``kinds`` not yet told: the first ``limit`` in a text each
    (the codes in ``first`` before the others), the rest in one digest text (see
    :func:`digest`). ``noun`` is (singular, plural); ``without_details`` ends the digest
    text when there is no details channel."""
    out = Flushed()
    if ctx.dry_run:
        return out
    pending = [e for e in ctx.ledger.escalations(ctx.account.name, unnotified=True)
               if e["kind"] in kinds]
    pending.sort(key=lambda e: e["code"] not in first)  # stable: code order otherwise
    for esc in pending[:max(limit, 0)]:
        (out.texted if notify(ctx, esc["code"]) else out.failed).append(esc["code"])
    rest = pending[max(limit, 0):]
    if rest:
        out.digest = [e["code"] for e in rest]
        out.digest_delivered, out.digest_text = digest(ctx, rest, noun=noun,
                                                       without_details=without_details)
    return out


def _span(codes: list[str]) -> str:
    return codes[0] if len(codes) == 1 else f"{codes[0]}–{codes[-1]}"


DIGEST_LINE_CHARS = 160
DIGEST_DETAILS_LIMIT = 200_000  # about 1,200 lines of the list


def _one_line(summary: str) -> str:
    text = " ".join(summary.split())
    return text if len(text) <= DIGEST_LINE_CHARS else text[:DIGEST_LINE_CHARS - 1] + "…"


def digest(ctx: EscalationRun, escalations: list[dict[str, Any]], *,
           noun: tuple[str, str] = ("escalation", "escalations"),
           without_details: str = "the VA has the list") -> tuple[bool, str]:
    """One text for many escalations ("E011–E250: 240 more emails need you; check
    Upwork."), the whole list (each escalation's own text) on the details channel first.

    Every escalation in it is marked notified once the text is delivered, so none is texted
    again one by one; when it is not delivered they all stay for the next run. Returns
    (delivered, the text).
    """
    codes = [e["code"] for e in escalations]
    n = len(codes)
    span = _span(codes)
    what = f"1 more {noun[0]} needs" if n == 1 else f"{n} more {noun[1]} need"
    notifier = ctx.notifier
    # One bounded line each, so that a long list still fits its larger cap whole.
    listing = "\n".join(
        _one_line(with_token(str(e["summary"]), e["code"], ctx.ledger.answer_token(e["code"])))
        for e in escalations)
    told = False
    key = f"digest:{ctx.account.name}:{span}:{n}"
    if "details" in notifier.urls:
        told = notifier.details(
            f"{span}: {what} you. They were not texted one by one, to keep your phone "
            f"quiet; answer with the code.\n\n{listing}", title=f"Escalations {span}",
            key=f"{key}:list", limit=DIGEST_DETAILS_LIMIT)
    text = (f"{span}: {what} you; check {notifier.details_label}." if told
            else f"{span}: {what} you; {without_details}.")
    delivered = notifier.sms(text, title=f"Escalations {span}", key=key)
    if delivered:
        ctx.ledger.mark_notified_many(codes, ctx.run_id)
    return delivered, text


# --------------------------------------------------------------------------- mailing lists

DIGEST_CAUSE = "mailing_list_digest"


def _sender_label(sender: str) -> str:
    """ "Name <addr>" -> "Name"; a bare address stays."""
    name = sender.split(" <", 1)[0].strip().strip('"')
    return name or sender.strip("<>") or "(no sender)"


def _count_text(counts: list[tuple[str, int]], total: int, room: int) -> str:
    """ "Mailing lists: 12 emails from A (5), B (4) and 2 more senders." within ``room``."""
    head = f"Mailing lists: {total} email{'s' if total != 1 else ''} from "
    names = [f"{name} ({n})" if n > 1 else name for name, n in counts]
    for shown in range(len(names), 0, -1):
        left = len(names) - shown
        tail = f" and {left} more sender{'s' if left != 1 else ''}" if left else ""
        listed = names[:shown]
        joined = (", ".join(listed[:-1]) + " and " + listed[-1]
                  if len(listed) > 1 and not left else ", ".join(listed))
        text = f"{head}{joined}{tail}."
        if len(text) <= room:
            return text
    return f"{head}{len(names)} sender{'s' if len(names) != 1 else ''}."


def mailing_list_digest(ctx: EscalationRun) -> dict[str, Any]:
    """The day's one text about mailing-list mail (emails in state ``digest``): how many
    and from whom, the whole list on the details channel when it does not fit.

    At most one a day per account (claimed in the ledger before it goes out); mail that
    arrives after it waits for the next day's. Listed emails become ``digested`` once the
    text is delivered; an undelivered one is tried again by the next run.
    """
    out: dict[str, Any] = {"waiting": 0, "sent": False, "already_today_by": None, "text": ""}
    rows = ctx.ledger.emails(ctx.account.name, state="digest")
    out["waiting"] = len(rows)
    if not rows or ctx.dry_run:
        return out
    day = datetime.now().astimezone().date().isoformat()
    counts = Counter(_sender_label(r["sender"]) for r in rows)
    ordered = sorted(counts.items(), key=lambda kv: (-kv[1], kv[0].lower()))
    notifier = ctx.notifier
    room = notifier.sms_limit - len(notifier.initials) - 2
    full = _count_text(ordered, len(rows), 10_000)
    has_details = "details" in notifier.urls
    pointer = len(f" Check {notifier.details_label} for details.") if has_details else 0
    short = _count_text(ordered, len(rows), room - pointer)
    earlier = ctx.ledger.claim_run_alert(ctx.account.name, DIGEST_CAUSE, day, ctx.run_id, full)
    if earlier is not None:
        out["already_today_by"] = earlier["run_id"]
        return out
    listing = "\n".join(f"- {r['sender']}: {r['subject'] or '(no subject)'} "
                        f"({r['folder']}, first seen {r['first_seen']})" for r in rows)
    details = (f"{full}\nNothing to answer; they stay in the mailbox as they were.\n\n"
               f"{listing}")
    key = f"{DIGEST_CAUSE}:{ctx.account.name}:{day}"
    if notifier.fits(full):
        delivered = notifier.sms(full, title="Mailing lists", key=key)
        out["text"] = full
    elif has_details:
        delivered = notifier.sms(full, details=details, short=short, title="Mailing lists",
                                 key=key)
        out["text"] = short
    else:
        delivered = notifier.sms(short, title="Mailing lists", key=key)
        out["text"] = short
    out["sent"] = delivered
    if delivered:
        ctx.ledger.run_alert_sent(ctx.account.name, DIGEST_CAUSE, day)
        ctx.ledger.set_email_state(ctx.account.name, [r["message_id"] for r in rows],
                                   "digested")
    return out


# --------------------------------------------------------------------------- reminders

def _ago(then: datetime, now: datetime) -> str:
    hours = max(int((now - then).total_seconds() // 3600), 0)
    return f"{hours // 24} day{'s' if hours // 24 != 1 else ''}" if hours >= 48 else (
        f"{hours} hour{'s' if hours != 1 else ''}")


def _when(value: str) -> datetime:
    at = datetime.fromisoformat(value)
    return at if at.tzinfo is not None else at.replace(tzinfo=timezone.utc)


def _gist(esc: dict[str, Any]) -> str:
    """The escalation's own text without the code in front of it."""
    text = str(esc["short"] or esc["summary"])
    return text.removeprefix(f"{esc['code']}: ").removeprefix(f"{esc['code']} ")


@dataclass
class Followed:
    """What one :func:`followups` did: codes reminded, sent to the fallback channels, and
    those due whose message was not delivered (tried again next run) or left for the next
    run by the per-run cap."""

    reminded: list[str] = field(default_factory=list)
    escalated_further: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)
    later: list[str] = field(default_factory=list)

    def as_dict(self) -> dict[str, list[str]]:
        return {"reminded": self.reminded, "escalated_further": self.escalated_further,
                "failed": self.failed, "later": self.later}


def followups(ctx: EscalationRun, now: datetime | None = None) -> Followed:
    """Remind the owner of escalations still waiting for an answer, each step once.

    ``followup_after`` the first text, a notified escalation is texted again ("Reminder:
    E004 still needs your answer …"); ``fallback_after`` that reminder, it goes to every
    fallback channel. Times come from the ledger and ``now`` (default the context's
    clock). A step is recorded only once delivered, so an undelivered one is tried again
    next run; the outbox keys (``reminder:CODE``, ``fallback:CODE``) keep a channel that
    delivered from getting it twice.
    """
    now = now or ctx.clock()
    conf = ctx.config.followups
    out = Followed()
    budget = {"reminder": conf.max_per_run, "fallback": conf.max_per_run}
    for esc in ctx.ledger.escalations(ctx.account.name, states=("notified", "reminded")):
        code = esc["code"]
        if esc["status"] == "notified" and esc["notified_at"]:
            told = _when(esc["notified_at"])
            if now - told < conf.followup_after:
                continue
            step = "reminder"
        elif esc["status"] == "reminded" and esc["reminded_at"]:
            if now - _when(esc["reminded_at"]) < conf.fallback_after:
                continue
            step = "fallback"
        else:
            continue
        if budget[step] <= 0:
            out.later.append(code)
            continue
        budget[step] -= 1
        if ctx.dry_run:
            (out.reminded if step == "reminder" else out.escalated_further).append(code)
            continue
        at = now.isoformat(timespec="seconds")
        token = ctx.ledger.answer_token(code)
        shown = f"{code}-{token}" if token else code
        if step == "reminder":
            ago = _ago(_when(esc["notified_at"]), now)
            text = (f"Reminder: {shown} still needs your answer (texted {ago} ago): "
                    f"{_gist(esc)}")
            ok = ctx.notifier.sms(
                text, details=f"Reminder, texted {ago} ago and not answered yet:\n\n"
                              f"{with_token(str(esc['details']), code, token)}",
                short=f"Reminder: {shown} still needs your answer (texted {ago} ago).",
                title=f"Reminder {code}", key=f"reminder:{code}")
            if ok and ctx.ledger.mark_reminded(code, at, ctx.run_id):
                out.reminded.append(code)
            elif not ok:
                out.failed.append(code)
        else:
            first = _ago(_when(esc["notified_at"] or esc["created_at"]), now)
            text = (f"{shown} still needs the owner's answer: texted {first} ago and reminded "
                    f"since, no answer yet. Answer with the code {shown}.\n\n"
                    f"{with_token(str(esc['details']), code, token)}")
            ok = ctx.notifier.fallbacks(text, title=f"Unanswered {code}",
                                        key=f"fallback:{code}")
            if ok and ctx.ledger.mark_escalated_further(code, at, ctx.run_id):
                out.escalated_further.append(code)
            elif not ok:
                out.failed.append(code)
    return out


# --------------------------------------------------------------------------- the run's view

RUN_EVENTS = ("opened", "notified", "reminded", "escalated_further", "answered",
              "answer_refused", "delivered", "delivery_failed", "delivery_refused", "closed")


def run_summary(ledger: Any, account: str, run_id: str, now: datetime) -> dict[str, Any]:
    """run.json's ``escalations``: what this run did to them (codes per event: opened,
    reminded, escalated further, answered, delivered, ...), and those still open with
    their state and age (answered ones whose delivery is pending included)."""
    done: dict[str, list[str]] = {name: [] for name in RUN_EVENTS}
    for ev in ledger.events(run_id=run_id):
        codes = done.setdefault(ev["event"], [])
        if ev["code"] not in codes:
            codes.append(ev["code"])
    still = []
    for esc in ledger.escalations(account, states=("open", "notified", "reminded",
                                                  "escalated_further", "answered")):
        still.append({"code": esc["code"], "state": esc["status"], "kind": esc["kind"],
                      "age": _ago(_when(esc["created_at"]), now),
                      "delivery": esc.get("delivery_state") or "",
                      "summary": _one_line(str(esc["short"] or esc["summary"]))})
    return {**{k: v for k, v in done.items() if v}, "still_open": still}


# --------------------------------------------------------------------------- findings

def finding(ctx: EscalationRun, topic: str, signature: str, *, summary: str, details: str,
            short: str = "") -> tuple[str, str]:
    """The ``F…`` escalation for what a run found about ``topic`` (e.g. Seller Performance
    not Good), said once: while the same finding (``signature``) stands, later runs reuse
    it and text nothing new, also after the owner acknowledged it; a different finding
    replaces it. Texts may hold ``{code}``. Returns the code and what became of it:
    "new", "open" (told before, not yet acknowledged) or "acknowledged"."""
    ledger = ctx.ledger
    prefix = f"{topic}:"
    latest = next((e for e in reversed(ledger.escalations(ctx.account.name))
                   if e["kind"] == "finding" and str(e["source_key"]).startswith(prefix)),
                  None)
    if latest is not None and latest["status"] != "expired":
        if str(latest["source_key"]).rsplit("|", 1)[0] == f"{prefix}{signature}":
            state = "acknowledged" if latest["status"] == "closed" else "open"
            return str(latest["code"]), state
        ledger.expire(latest["code"], "replaced by a newer finding", ctx.run_id)
    code, _ = ledger.escalate(ctx.account.name, "finding", f"{prefix}{signature}|{ctx.run_id}",
                              summary=summary, short=short, details=details,
                              run_id=ctx.run_id)
    return code, "new"


def resolve_findings(ctx: EscalationRun, topic: str, why: str) -> list[str]:
    """The findings about ``topic`` no longer hold (e.g. performance is Good again): each
    still standing expires, so the next time it is found it is told afresh."""
    done = []
    for esc in ctx.ledger.escalations(ctx.account.name):
        if esc["kind"] == "finding" and str(esc["source_key"]).startswith(f"{topic}:") \
                and esc["status"] != "expired":
            ctx.ledger.expire(esc["code"], why, ctx.run_id)
            done.append(esc["code"])
    return done
