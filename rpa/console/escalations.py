"""The escalations pages: the list (waiting ones first), one escalation whole, and the
owner's answer form.

The answer goes the way of every answer (``rpa.owner.answers.submit``, as ``rpa answer``
and the owner's emails do): checked, recorded, then delivered by a run of the delivery
flow for its kind, started as a run-now job so that the page returns at once. A preview
shows the text as it will be sent (a buyer's signed with the VA's name) and what Amazon's
messaging rules say of it, and records nothing. Every answer given here, taken or refused,
goes to the audit table with the user.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from typing import Any

from starlette.exceptions import HTTPException
from starlette.requests import Request
from starlette.responses import RedirectResponse, Response
from starlette.routing import Route

from rpa.console import web
from rpa.console.runnow import jobs_of, start_job
from rpa.ledger import WAITING_STATES, LedgerStore
from rpa.messaging import policy
from rpa.owner import answers
from rpa.text import clean_line, clean_text

KIND_NAMES = {"buyer_question": "buyer question", "blocked_reply": "reply the rules stopped",
              "email": "email", "finding": "finding", "suspicious_answer": "suspicious answer"}
# What the list calls "open": waiting for the owner, or answered and not yet delivered.
OPEN_STATES = (*WAITING_STATES, "answered")


def age(since: str | None, now: datetime | None = None) -> str:
    """How long ago ``since`` (an ISO time) was, in the largest whole unit (e.g. "3 d")."""
    if not since:
        return ""
    try:
        then = datetime.fromisoformat(since)
    except ValueError:
        return ""
    if then.tzinfo is None:
        then = then.replace(tzinfo=timezone.utc)
    seconds = max(0, int(((now or datetime.now(timezone.utc)) - then).total_seconds()))
    for unit, size in (("d", 86400), ("h", 3600), ("min", 60)):
        if seconds >= size:
            return f"{seconds // size} {unit}"
    return f"{seconds} s"


def reminder_state(esc: dict[str, Any]) -> str:
    """Where the reminders of ``esc`` stand, in words."""
    if esc.get("escalated_further_at"):
        return f"sent to the fallback channels {esc['escalated_further_at']}"
    if esc.get("reminded_at"):
        return f"reminded {esc['reminded_at']}"
    if esc.get("notified_at"):
        return f"texted {esc['notified_at']}, not reminded yet"
    return "not texted yet"


def _row(esc: dict[str, Any], now: datetime) -> dict[str, Any]:
    return {"code": esc["code"], "account": esc["account"],
            "kind": KIND_NAMES.get(esc["kind"], esc["kind"]), "state": esc["status"],
            "age": age(esc.get("created_at"), now), "created_at": esc.get("created_at") or "",
            "reminders": reminder_state(esc), "buyer": clean_line(esc.get("buyer") or "", 80),
            "summary": clean_line(esc.get("summary") or "", 200),
            "waiting": esc["status"] in WAITING_STATES}


def list_page(request: Request) -> Response:
    """GET /escalations[?show=all]: the open ones (waiting for the owner first, then
    answered and not yet delivered); with ``show=all`` the rest follow."""
    try:
        web.require(request, "viewer")
    except web.SignInNeeded:
        return web.sign_in_redirect(request)
    show = "all" if request.query_params.get("show") == "all" else "open"
    ledger = web.console_of(request).ledger()
    rows: list[dict[str, Any]] = []
    if ledger is not None:
        try:
            everything = ledger.escalations(None)
        finally:
            ledger.close()
        now = datetime.now(timezone.utc)
        order = {state: i for i, state in enumerate(OPEN_STATES)}
        opened = sorted((e for e in everything if e["status"] in OPEN_STATES),
                        key=lambda e: (e["status"] not in WAITING_STATES,
                                       e.get("created_at") or "", e["id"]))
        rows = [_row(e, now) for e in opened]
        if show == "all":
            rest = [e for e in everything if e["status"] not in order]
            rows += [_row(e, now) for e in sorted(rest, key=lambda e: e["id"], reverse=True)]
    return web.render(request, "escalations.html", rows=rows, show=show,
                      has_ledger=ledger is not None)


def _thread(ledger: LedgerStore, esc: dict[str, Any]) -> dict[str, Any] | None:
    """The buyer thread the escalation came from, as the ledger knows it."""
    for row in ledger.threads(esc["account"]):
        if row.get("escalation") == esc["code"]:
            return row
    return None


def _question(esc: dict[str, Any]) -> str:
    """The buyer's own words when the details carry them (after "Question:"), else ''."""
    details = esc.get("details") or ""
    head, sep, rest = details.partition("\nQuestion:\n")
    if not sep:
        return ""
    return clean_text(rest.split("\n\n", 1)[0]).strip()


@contextmanager
def _escalation(console: web.Console, code: str) -> Iterator[tuple[LedgerStore, dict[str, Any]]]:
    """The open ledger and escalation ``code`` (404 when either is missing); the ledger
    is closed afterwards."""
    ledger = console.ledger()
    if ledger is None:
        raise HTTPException(404, f"no escalation {code}: there is no ledger yet")
    try:
        esc = ledger.escalation(code)
        if esc is None:
            raise HTTPException(404, f"no escalation {code}")
        yield ledger, esc
    finally:
        ledger.close()


def _detail_page(request: Request, code: str, *, text: str = "", preview: str = "",
                 problems: list[str] | None = None, checked: bool = False, note: str = "",
                 error: str = "") -> Response:
    """The escalation page, with the answer form's state (text kept, preview, refusal)."""
    console = web.console_of(request)
    with _escalation(console, code) as (ledger, esc):
        events = ledger.events(code)
        deliveries = ledger.deliveries(code)
        thread = _thread(ledger, esc) if esc["kind"] in answers.BUYER_KINDS else None
    session = web.require(request)
    job = jobs_of(console).for_code(code)
    kind = esc["kind"]
    return web.render(
        request, "escalation.html", esc=esc, code=code,
        kind=KIND_NAMES.get(kind, kind), buyer=clean_line(esc.get("buyer") or "", 120),
        summary=clean_text(esc.get("summary") or ""), details=clean_text(esc.get("details") or ""),
        question=_question(esc), thread=thread, events=events, deliveries=deliveries,
        age=age(esc.get("created_at")), reminders=reminder_state(esc),
        answer=clean_text(esc.get("answer") or ""), job=job.snapshot() if job else None,
        can_answer=web.may(session.role, "owner")
        and esc["status"] not in ("delivered", "closed", "expired"),
        for_buyer=kind in answers.BUYER_KINDS, acknowledges=kind in answers.ACKNOWLEDGED_KINDS,
        text=text, preview=preview, problems=problems or [], checked=checked, note=note,
        error=error, max_chars=console.config.messaging.max_chars)


def detail_page(request: Request) -> Response:
    """GET /escalations/{code}: the question, its history, the texts' deliveries, the
    answer and its delivery; for an owner the answer form."""
    try:
        web.require(request, "viewer")
    except web.SignInNeeded:
        return web.sign_in_redirect(request)
    code = answers.normalise_code(request.path_params["code"])
    note = ""
    if request.query_params.get("sent") == "1":
        note = "Answer recorded."
        busy = jobs_of(web.console_of(request)).get(request.query_params.get("busy", ""))
        if busy is not None:
            note += (f" A run for the account '{busy.account}' is in progress (job {busy.id}); "
                     "the answer is delivered by the next run.")
    return _detail_page(request, code, note=note)


def _as_sent(esc: dict[str, Any], text: str, va_full_name: str) -> str:
    if esc["kind"] in answers.BUYER_KINDS:
        return answers.buyer_text(text, va_full_name)
    return text.strip()


async def answer(request: Request) -> Response:
    """POST /escalations/{code}/answer: ``action=preview`` shows the text as it will go and
    the rules' verdict (nothing kept); ``action=send`` submits and starts the delivery."""
    try:
        session = web.require(request, "owner")
    except web.SignInNeeded:
        return web.sign_in_redirect(request)
    form = await web.checked_form(request, session)
    console = web.console_of(request)
    cfg = console.config
    code = answers.normalise_code(request.path_params["code"])
    text = form.get("text", "")
    with _escalation(console, code) as (ledger, esc):
        if form.get("action") != "send":
            return _preview(request, code, esc, text, cfg.va.full_name,
                            cfg.messaging.max_chars)
        try:
            outcome = answers.submit(ledger, cfg, code, text, via="console", by=session.user)
        except answers.AnswerError as err:
            console.audit(session.user, "answer_refused", f"{code}: {err}", esc["account"])
            return _detail_page(request, code, text=text, error=str(err))
    if not outcome.accepted:
        console.audit(session.user, "answer_refused",
                      f"{code}: breaks the messaging rules ({outcome.problems})",
                      esc["account"])
        return _detail_page(request, code, text=text, preview=outcome.text,
                            problems=outcome.problems.split("; "), checked=True,
                            error="Not sent: the answer breaks Amazon's messaging rules. "
                                  "Correct it and send again.")
    console.audit(session.user, "answer", f"{code}: {outcome.status}", esc["account"])
    flow = answers.DELIVERY_FLOWS.get(outcome.kind)
    if outcome.status == "recorded" and flow is not None:
        job, started = start_job(console, account=esc["account"], flows=[flow], dry_run=False,
                                 user=session.user, purpose=f"deliver {code}", code=code)
        if not started:  # the answer waits for the next run of the account
            return RedirectResponse(f"/escalations/{code}?sent=1&busy={job.id}",
                                    status_code=303)
        console.audit(session.user, "run_start", f"{flow} (delivering {code}); job {job.id}",
                      esc["account"])
    return RedirectResponse(f"/escalations/{code}?sent=1", status_code=303)


def _preview(request: Request, code: str, esc: dict[str, Any], text: str, va_full_name: str,
             max_chars: int) -> Response:
    if not text.strip():
        return _detail_page(request, code, text=text, error="The answer is empty.")
    shown = _as_sent(esc, text, va_full_name)
    problems: list[str] = []
    checked = esc["kind"] in answers.BUYER_KINDS
    if checked:
        problems = [str(v) for v in policy.check(shown, max_chars)]
    return _detail_page(request, code, text=text, preview=shown, problems=problems,
                        checked=checked)


ROUTES = [
    Route("/escalations", list_page, methods=["GET"]),
    Route("/escalations/{code}", detail_page, methods=["GET"]),
    Route("/escalations/{code}/answer", answer, methods=["POST"]),
]
