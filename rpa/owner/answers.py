"""The owner's answers: one way in for every source (``rpa answer``, a reply email, the
console), checked, kept in the ledger, and delivered by the flows that can reach the
buyer or the sender.

:func:`submit` is that way in. It refuses what cannot be an answer (an unknown code, one
of another account, one already delivered or closed, an empty text), checks a text meant
for a buyer against Amazon's messaging rules before anything is kept (a failing answer is
not sent: the caller tells the owner why, and the owner can answer again), and records
the answer. A finding (the home page, Seller Performance) or a suspicious answer needs no
delivery: answering it acknowledges it and closes it.

Delivery happens in the flows: buyer questions and blocked replies in the Seller Central
thread (``buyer_messages`` and ``answers``), emails by a threaded reply over SMTP
(``mailbox`` and ``email_answers``). A delivery that fails keeps the answer for the next
run; the ledger's delivery state and the page (or the outbox) keep it from going twice.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from rpa.messaging import policy

if TYPE_CHECKING:
    from rpa.config import Config
    from rpa.ledger import LedgerStore

# What each kind of escalation's answer becomes.
BUYER_KINDS = ("buyer_question", "blocked_reply")  # a reply in the Seller Central thread
EMAIL_KINDS = ("email",)  # a reply email to the sender
ACKNOWLEDGED_KINDS = ("finding", "suspicious_answer")  # nothing to deliver: closed
VIAS = ("cli", "email", "console")
# The flow that delivers an answer of each kind, run right after it is recorded by the CLI
# and the console (the routine delivers the rest).
DELIVERY_FLOWS = {"buyer_question": "answers", "blocked_reply": "answers",
                  "email": "email_answers"}


class AnswerError(ValueError):
    """An answer that cannot be taken: the message names the code and why."""


@dataclass
class Outcome:
    """What became of one answer."""

    code: str
    kind: str
    status: str  # "recorded" (to be delivered), "closed" (acknowledged), "refused"
    text: str  # what will be sent (a buyer's answer signed with the VA's name)
    problems: str = ""  # the messaging rules the text breaks, when refused
    escalation: dict[str, Any] | None = None

    @property
    def accepted(self) -> bool:
        return self.status != "refused"


# An account's code as typed: "acme b004", "ACME-B004", "acme.b004" (rpa.config.codes).
_SERIES_CODE = re.compile(r"^([A-Z][A-Z0-9]{0,4})[\s\-·./_]*([A-Z]\d{3,5})$")


def normalise_code(code: str) -> str:
    """A code as the ledger keeps it: upper case, an account's prefix joined by a hyphen."""
    cleaned = code.strip().upper()
    found = _SERIES_CODE.match(cleaned)
    return f"{found.group(1)}-{found.group(2)}" if found else cleaned


def buyer_text(text: str, va_full_name: str) -> str:
    """The owner's answer as the buyer will read it: signed with the VA's full name, as
    every reply is, unless the owner signed it so already."""
    body = text.strip()
    if va_full_name.lower() in body.lower():
        return body
    return f"{body}\n\nBest regards,\n{va_full_name}"


def submit(ledger: LedgerStore, config: Config, code: str, text: str, *, via: str, by: str,
           ref: str = "", account: str | None = None,
           run_id: str | None = None) -> Outcome:
    """Take the owner's ``text`` as the answer to escalation ``code``.

    ``via`` says how it came (cli, email, console), ``by`` who gave it (the VA's name, the
    owner's address), ``ref`` the evidence (the answer mail's Message-ID). ``account``,
    when given, must be the escalation's. Raises :class:`AnswerError` for an answer that
    cannot be taken; returns a refused :class:`Outcome` (nothing kept but the event) when
    a buyer's answer breaks Amazon's messaging rules.
    """
    code = normalise_code(code)
    if via not in VIAS:
        raise AnswerError(f"unknown way of answering '{via}' (known: {', '.join(VIAS)})")
    esc = ledger.escalation(code)
    if esc is None:
        meant = ledger.series_codes(code) if "-" not in code else []
        raise AnswerError(f"there is no escalation {code} in the ledger {ledger.where} "
                          + (f"(did you mean {' or '.join(meant)}? each account's codes "
                             "start with its prefix)" if meant
                             else "(list them with `rpa escalations --all`)"))
    if account is not None and esc["account"] != account:
        raise AnswerError(f"escalation {code} belongs to the account '{esc['account']}', "
                          f"not '{account}'")
    status = esc["status"]
    if status in ("delivered", "closed", "expired"):
        when = esc.get(f"{status}_at") or ""
        raise AnswerError(f"escalation {code} is already {status}"
                          + (f" (since {when})" if when else "") + "; it takes no answer")
    if esc.get("delivery_state") == "sending":
        raise AnswerError(f"the answer to {code} is being delivered right now; wait for the "
                          "run to end (rpa escalations show " + code + ")")
    body = text.strip()
    if not body:
        raise AnswerError(f"the answer to {code} is empty")
    kind = esc["kind"]
    if kind in EMAIL_KINDS and (config.smtp is None or config.mailbox is None):
        missing = "smtp" if config.smtp is None else "mailbox"
        raise AnswerError(f"the answer to {code} goes to the sender by email, and the "
                          f"configuration has no {missing} section to send it with: add it, "
                          "then answer again")
    final = kind in ACKNOWLEDGED_KINDS
    if kind in BUYER_KINDS:
        body = buyer_text(body, config.va.full_name)
        broken = policy.check(body, config.messaging.max_chars)
        if broken:
            why = policy.describe(broken)
            ledger.event(code, "answer_refused", f"via {via} by {by}: {why}", run_id)
            return Outcome(code, kind, "refused", body, why, esc)
    row = ledger.record_answer(code, body, via=via, by=by, ref=ref, final=final,
                               run_id=run_id)
    return Outcome(code, kind, "closed" if final else "recorded", body, escalation=row)


def refused_text(outcome: Outcome) -> tuple[str, str]:
    """The owner's text (and its details) when an answer was not sent: what it breaks and
    that answering again with the code works."""
    short = (f"{outcome.code}: your answer was NOT sent: it breaks Amazon's messaging rules "
             f"({', '.join(sorted({p.split(':')[0] for p in outcome.problems.split('; ')}))})"
             f". Answer again with the code {outcome.code}.")
    details = (f"{outcome.code}: your answer was not sent to the buyer, because Amazon's "
               f"messaging rules forbid part of it: {outcome.problems}.\n\nYour answer as it "
               f"would have gone out:\n{outcome.text}\n\nAnswer again with the code "
               f"{outcome.code} (no links, email addresses, phone numbers or review requests).")
    return short, details
