"""The owner's answers by email, and the answers that go out by email.

Mail from an owner address that answers an escalation (it replies to an alert email the
bot sent, or its subject or first line starts with a code) is taken as the answer only with
a proof only the owner has, recorded with the answer: ``reply`` (it replies to an alert
email's Message-ID, random and sent to the owner alone), ``token`` (it quotes the code's
answer token, which only the texts to the owner's channels carry: "E012-K7QP"), or
``authenticated`` (the trusted receiving server's Authentication-Results pass the owner's
domain; see the mailbox flow for when they are trusted). A From address is no proof, nor is
a guessable code. Anything else carrying a code is escalated as a suspicious answer: nothing
is sent and the mail stays where it is.

Answers to escalated emails (``E…``) go back to the sender as a threaded reply over SMTP;
the original is then marked read and the escalation closes. A sending an earlier run began
and never confirmed is not repeated (the reply may have left): the owner is told to check.
The owner's answer mail moves to Trash once its answer has been delivered.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from loguru import logger

from rpa.config import MailboxConfig
from rpa.errors import PageError
from rpa.mail import auth
from rpa.mail.headers import MailItem
from rpa.mail.imap import Mailbox
from rpa.mail.replying import (
    answer_text,
    code_in,
    compose_reply,
    fresh_text,
    owner_verdict,
    referenced_ids,
    token_quoted,
)
from rpa.owner import answers, escalate
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.smtp import SmtpError, new_message_id
from rpa.smtp import send as smtp_send


@dataclass
class OwnerMail:
    """A mail from an owner address, as the triage found it."""

    folder: str
    item: MailItem
    text: str


@dataclass
class Taken:
    """What the owner's mail of one run became (for run.json and the step names)."""

    answers: list[str] = field(default_factory=list)  # codes answered by email
    refused: list[str] = field(default_factory=list)  # answers breaking the rules
    suspicious: list[str] = field(default_factory=list)  # S… escalations opened
    rejected: list[str] = field(default_factory=list)  # "code: why" (closed, unknown …)
    trash: dict[str, list[int]] = field(default_factory=dict)  # folder -> UIDs done with
    # The answer mails taken this run, by code: done with once their answer is delivered.
    mails: dict[str, tuple[str, int]] = field(default_factory=dict)
    notes: dict[str, str] = field(default_factory=dict)  # message_id -> what became of it
    proofs: dict[str, str] = field(default_factory=dict)  # code -> reply|token|authenticated


def _suspicious_texts(item: MailItem, code: str, why: str) -> tuple[str, str, str]:
    sender = item.from_addr or "(no address)"
    full = (f"{{code}}: an email from {sender} answering {code} was NOT used: nothing shows "
            f"it is yours. Nothing sent.")
    short = f"{{code}}: unverified answer to {code} from {sender}; nothing sent."
    details = (f"{{code}}: an email that claims to be your answer to {code} was not acted on, "
               f"because it cannot be proven to come from you: it does not reply to the "
               f"bot's email, does not quote the code's answer token, and is not "
               f"authenticated.\nFrom: {sender}\nSubject: {item.subject}\nMessage-ID: "
               f"{item.message_id}\nWhy: {why}\nThe mail stays in the mailbox.\n\nIf it was "
               f"yours, reply to the bot's email, or write the code with its token as the "
               f"text showed it ({code}-XXXX: your answer), or have the VA enter it with: "
               f"rpa answer {code} \"...\"")
    return full, short, details


PROOFS = {"reply": "replies to the bot's alert email",
          "token": "quotes the answer token",
          "authenticated": "authenticated by the receiving server"}


def take_owner_answers(ctx: RunContext, cfg: MailboxConfig, mails: list[OwnerMail], *,
                       authserv_id: str | None) -> Taken:
    """Every owner mail that answers an escalation goes through the one answer path, when
    it carries a proof (``authserv_id``: the id whose Authentication-Results count this
    run; None: none count)."""
    out = Taken()
    ledger = ctx.ledger
    series = ctx.config.code_series()
    own = series.get(ctx.account.name, "")
    for mail in mails:
        item = mail.item
        mid = item.message_id
        fresh = fresh_text(mail.text)
        by_ref = ledger.code_for_mail(referenced_ids(item))
        code = by_ref or code_in(item.subject, fresh, series=tuple(series.values()))
        if code is not None and own and "-" not in code:
            # "B004" from the owner of an account whose codes are ACME-B004: its own, if
            # the ledger has it and no plain B004 (one from before the account had a
            # prefix) or the mail quotes ACME-B004's token; the proof is asked below.
            mine = f"{own}-{code}"
            if ledger.escalation(mine) is not None and (
                    ledger.escalation(code) is None or token_quoted(
                        [item.subject, fresh], mine, ledger.answer_token(mine))):
                code = mine
        if code is None:
            out.notes[mid] = "mail from the owner (no escalation code): kept"
            continue
        esc = ledger.escalation(code)
        if esc is not None and esc.get("answer_ref") == mid:
            # Taken by an earlier run; once delivered (or closed) the mail is done with.
            if esc["status"] in ("delivered", "closed"):
                out.trash.setdefault(mail.folder, []).append(item.uid)
                out.notes[mid] = f"answer to {code}, delivered: to Trash"
            else:
                out.notes[mid] = f"answer to {code}, waiting for delivery"
            continue
        verdict = owner_verdict(item, authserv_id=authserv_id)
        token = ledger.answer_token(code) if esc is not None else ""
        proof = ("reply" if by_ref is not None
                 else "token" if token_quoted([item.subject, fresh], code, token)
                 else "authenticated" if verdict.status == auth.PASS else "")
        if ctx.dry_run:
            out.notes[mid] = (f"answer to {code} (dry run: not taken; {PROOFS[proof]})"
                              if proof else f"claims to answer {code}, no proof (dry run)")
            continue
        if not proof:
            full, short, details = _suspicious_texts(item, code, verdict.why)
            s_code, new = ledger.escalate(ctx.account.name, "suspicious_answer", mid,
                                          summary=full, short=short, details=details,
                                          buyer=item.from_addr, run_id=ctx.run_id)
            if new:
                out.suspicious.append(s_code)
            out.notes[mid] = (f"claims to answer {code} without proof (no reply to the bot's "
                              f"email, no answer token; {verdict.why}): kept, nothing sent")
            continue
        body = answer_text(fresh, code, token)
        try:
            outcome = answers.submit(ledger, ctx.config, code, body, via="email",
                                     by=item.from_addr, ref=mid, account=ctx.account.name,
                                     run_id=ctx.run_id)
        except answers.AnswerError as err:
            out.rejected.append(f"{code}: {err}")
            out.notes[mid] = f"not taken: {err}"
            logger.warning("owner mail {} not taken as an answer: {}", mid, err)
            if esc is not None and esc["status"] in ("delivered", "closed", "expired"):
                out.trash.setdefault(mail.folder, []).append(item.uid)  # answered already
            else:  # the owner believes it answered: say it did not count (once per mail)
                why = "there is no such code" if esc is None else str(err)
                ctx.notifier.sms(f"{code}: your email answer was NOT used: {why}.",
                                 details=f"{code}: your email answer ({item.subject}) was not "
                                         f"used: {err}",
                                 short=f"{code}: your email answer was NOT used.",
                                 title=f"Answer {code} not used", key=f"rejected:{mid}")
            continue
        if not outcome.accepted:
            out.refused.append(code)
            out.notes[mid] = f"answer to {code} breaks the messaging rules: not sent"
            short, details = answers.refused_text(outcome)
            ctx.notifier.sms(short, details=details, title=f"Answer {code} not sent",
                             key=f"refused:{code}:{mid}")
            continue
        out.answers.append(code)
        out.mails[code] = (mail.folder, item.uid)
        out.proofs[code] = proof
        how = PROOFS[proof] + (f": {verdict.why}" if proof == "authenticated" else "")
        out.notes[mid] = f"answer to {code} ({outcome.status}; {how})"
        if outcome.status == "closed":
            out.trash.setdefault(mail.folder, []).append(item.uid)
    return out


# --------------------------------------------------------------------------- delivery

@dataclass
class Sent:
    delivered: list[str] = field(default_factory=list)
    failed: list[str] = field(default_factory=list)  # "code: why", kept for the next run
    uncertain: list[str] = field(default_factory=list)


def deliver_email_answers(ctx: RunContext, box: Mailbox) -> Sent:
    """Send every answered email escalation to its sender, threaded, once; then mark the
    original read and close the escalation. The mailbox stays connected; the selected
    folder changes."""
    out = Sent()
    ledger = ctx.ledger
    pending = ledger.answered_waiting(ctx.account.name, answers.EMAIL_KINDS)
    if not pending or ctx.dry_run:
        return out
    settings = ctx.notifier.smtp
    cfg = ctx.config.mailbox
    max_bytes = cfg.max_body_bytes if cfg is not None else 65536
    for esc in pending:
        code, message_id = esc["code"], str(esc["source_key"])
        if esc.get("delivery_state") == "sending":
            # Begun by a run that stopped: the reply may have left. Not sent again.
            why = ("a run stopped while sending this reply, so it may have gone out; not "
                   "sent again. Check the sent mail, then answer again to send it")
            ledger.delivery(code, "refused", why, ctx.run_id)
            ctx.notifier.sms(f"{code}: the reply to the sender may not have gone out (the bot "
                             "stopped while sending). Check, and answer again if needed.",
                             title=f"Reply {code} uncertain", key=f"uncertain:{code}")
            out.uncertain.append(code)
            continue
        with ctx.step(f"email {code}: reply to the sender", screenshot=False) as step:
            if settings is None:
                why = "no smtp server configured: the answer is kept until one is"
                ledger.delivery(code, "failed", why, ctx.run_id)
                out.failed.append(f"{code}: {why}")
                step.outcome, step.name = "undelivered", f"email {code}: {why}"
                continue
            row = ledger.email(ctx.account.name, message_id)
            folder = row["folder"] if row else ""
            uid = None
            if folder:
                box.select(folder)
                found = box.find(message_id)
                uid = found[0] if found else None
            if uid is None:
                why = f"the original ({message_id}) is no longer in {folder or 'the mailbox'}"
                ledger.delivery(code, "failed", why, ctx.run_id)
                out.failed.append(f"{code}: {why}")
                step.outcome, step.name = "undelivered", f"email {code}: {why}"
                continue
            raw = box.bodies([uid], max_bytes).get(uid, b"")
            try:
                reply = compose_reply(raw, str(esc["answer"]), from_addr=settings.from_addr,
                                      from_name=settings.from_name,
                                      message_id=new_message_id(settings.from_addr))
            except ValueError as err:
                ledger.delivery(code, "refused", str(err), ctx.run_id)
                out.failed.append(f"{code}: {err}")
                step.outcome, step.name = "undelivered", f"email {code}: {err}"
                continue
            ledger.delivery(code, "sending", run_id=ctx.run_id)
            try:
                sent_id = smtp_send(settings, reply)
            except SmtpError as err:
                ledger.delivery(code, "failed", str(err), ctx.run_id)
                out.failed.append(f"{code}: {err}")
                step.outcome, step.name = "undelivered", f"email {code}: not sent ({err})"
                continue
            ledger.remember_sent_mail(sent_id, code, "reply")
            ledger.delivery(code, "done", f"reply {sent_id} to {reply['To']}", ctx.run_id)
            box.mark_read([uid])
            ledger.set_email_state(ctx.account.name, [message_id], "answered")
            ledger.close_escalation(code, "reply sent, original marked read", ctx.run_id)
            out.delivered.append(code)
            step.name = f"email {code}: reply sent to {reply['To']}, original marked read"
    return out


def trash_done(ctx: RunContext, box: Mailbox, taken: Taken, trash: str) -> int:
    """Move the owner's answer mail whose answers are delivered (or closed) to Trash:
    those of earlier runs' answers, and those this run took and delivered."""
    moved = 0
    if ctx.dry_run:
        return 0
    for code, (folder, uid) in taken.mails.items():
        esc = ctx.ledger.escalation(code)
        if esc is not None and esc["status"] in ("delivered", "closed") and \
                uid not in taken.trash.get(folder, []):
            taken.trash.setdefault(folder, []).append(uid)
    for folder, uids in taken.trash.items():
        if uids:
            box.select(folder)
            moved += box.move(sorted(set(uids)), trash)
    return moved


def tell_about_answers(ctx: RunContext, taken: Taken) -> None:
    """Text the owner the suspicious answers (warnings: one by one)."""
    for code in taken.suspicious:
        escalate.notify(ctx, code)


def report(taken: Taken, sent: Sent) -> dict[str, Any]:
    return {"answers_by_email": taken.answers, "proofs": taken.proofs, "refused": taken.refused,
            "suspicious": taken.suspicious, "rejected": taken.rejected,
            "replies_sent": sent.delivered, "replies_failed": sent.failed,
            "replies_uncertain": sent.uncertain}


@flow("email_answers", browser=False)
def email_answers(ctx: RunContext) -> None:
    """Send the owner's answers to escalated emails (E… codes) as threaded replies."""
    cfg = ctx.config.mailbox
    if cfg is None:
        with ctx.step("email answers: no mailbox configured, skipped", screenshot=False):
            return
    box = Mailbox(cfg.host, cfg.port, cfg.user, ctx.secret("mailbox.password"), tls=cfg.tls,
                  timeout=cfg.timeout_s, chunk=cfg.chunk_size,
                  ca_file=str(cfg.ca_file) if cfg.ca_file else None)
    try:
        with ctx.step("email answers: sign in to the mailbox", screenshot=False):
            box.connect()
        sent = deliver_email_answers(ctx, box)
        if not (sent.delivered or sent.failed or sent.uncertain):
            with ctx.step("email answers: none waiting", screenshot=False):
                pass
    finally:
        box.close()
    ctx.observe("email_answers", report(Taken(), sent))
    if sent.failed:
        raise PageError("reply not sent: " + "; ".join(sent.failed) + " (kept for the next run)")
