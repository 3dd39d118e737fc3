"""Triage the support mailbox, Inbox AND Spam, by the operating instructions' rules.

Amazon's own notices are moved to Trash; buyer emails are moved only once the ledger shows
the buyer answered in Seller Central; mail from the owner is recorded for the answers;
every other mail is read, summarised for the owner in a text (with a code), and marked
unread so the VA comes back to it. A sender that only pretends to be Amazon is escalated
as possible phishing and never deleted. Nothing is removed permanently, nothing is
escalated twice (the ledger keys escalations by Message-ID), and a dry run changes nothing.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

from flows import email_answers
from rpa.config import MailboxConfig
from rpa.errors import PageError
from rpa.mail import auth, kinds
from rpa.mail.body import body_text
from rpa.mail.headers import MailItem, parse_headers
from rpa.mail.imap import Mailbox
from rpa.mail.replying import readable_text
from rpa.mail.rules import AuthPolicy, Decision, classify
from rpa.mail.summary import SUMMARY_CHARS, BounceSummary, Summary, build, capped
from rpa.owner import escalate
from rpa.owner.notify import sms_encoding, sms_room
from rpa.run.context import RunContext
from rpa.run.registry import flow
from rpa.text import show_hidden

ORDER_ID = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")
CODE_ROOM = len("E00000: ")  # the code in front of a text, up to 99,999 escalations


@dataclass
class Triage:
    """One folder's messages and what becomes of them."""

    folder: str
    role: str
    scanned: list[MailItem] = field(default_factory=list)  # headers read, not yet decided
    items: list[tuple[MailItem, Decision]] = field(default_factory=list)
    known: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # ledger rows
    trash: list[int] = field(default_factory=list)
    unread: list[int] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)
    # New escalations waiting to be written together: (item, decision, entry, row, texts).
    pending: list[tuple[Any, ...]] = field(default_factory=list)
    escalated: int = 0  # escalated by this run (in a dry run: would be)
    already_escalated: int = 0  # escalated by an earlier run, still in the folder

    def counts(self) -> dict[str, int]:
        """What this run did here: messages, moves, and escalations new and earlier apart
        (an action's count for the other actions)."""
        out = {"total": len(self.items), "to_trash": len(self.trash),
               "escalated": self.escalated, "already_escalated": self.already_escalated}
        for entry in self.entries:
            if entry["action"] != "escalate":
                out[entry["action"]] = out.get(entry["action"], 0) + 1
        return out


def sender_of(item: MailItem) -> str:
    """ "Name <address>"; a hidden character in the address shown as U+FFFD, not carried."""
    addr = show_hidden(item.from_addr)
    if item.from_name and addr:
        return f"{item.from_name} <{addr}>"
    return item.from_name or addr or "(no sender)"


def warning_texts(item: MailItem, decision: Decision, *, room: int = 156) -> tuple[str, str]:
    """The owner's text and its short form for a sender the checks warn about.

    They name the sender as it really is, the display name in quotes and the domain the
    mail comes from ("Possible phishing: 'Amazon Seller Support' from pay-verify.example"),
    never as it claims to be; the subject follows when it fits in one text.
    """
    head = f"{{code}}: {decision.warning}: {decision.sender or sender_of(item)}"
    tail = " Not deleted."
    subject = item.subject or "(no subject)"
    space = room - CODE_ROOM - len(head) + len("{code}: ") - len(' about "".') - len(tail)
    if space < 12:
        return f"{head}.{tail}", f"{head}.{tail}"
    if len(subject) > space:
        subject = subject[:space - 1].rstrip() + "…"
    return f'{head} about "{subject}".{tail}', f"{head}.{tail}"


def escalation_texts(item: MailItem, decision: Decision, summary: Summary | BounceSummary,
                     text: str, *, room: int = 156, pointer: int = 0,
                     details_channel: bool = True) -> tuple[str, str, str]:
    """The owner's text, its short form, and the details message for an escalated email.

    The text is the whole one- or two-sentence summary. ``room`` is what one text holds
    before the signature and ``pointer`` what "Check <details> for details." takes: when
    the text does not fit, the notifier sends the short form instead, which is the most of
    the summary that fits beside the pointer (the sender and subject at least, never cut
    mid-word), and the details carry the whole mail, cleaned and capped. Without a details
    channel the text itself is that short form, fitted to one text.
    """
    whole = summary.fitted(SUMMARY_CHARS)
    full = f"{{code}}: {whole}"  # the summary names the sender
    short = f"{{code}}: {summary.fitted(max(room - pointer - CODE_ROOM, 40))}"
    if not details_channel:
        full = f"{{code}}: {summary.fitted(max(room - CODE_ROOM, 40))}"
    if decision.warning:
        full, short = warning_texts(item, decision, room=room)
    note = f"{decision.note}\n" if decision.note else ""
    details = (f"{{code}}: an email needs your answer.\n{note}"
               f"From: {sender_of(item)}\nSubject: {item.subject}\nDate: {item.date}\n"
               f"Folder: {item.folder}\nMessage-ID: {item.message_id}\n\nSummary: {whole}\n\n"
               f"{capped(text)}\n\nThe email is left unread in the mailbox. Answer with the "
               "code {code}.")
    return full, short, details


class MailTriage:
    def __init__(self, ctx: RunContext, cfg: MailboxConfig, box: Mailbox) -> None:
        self.ctx = ctx
        self.cfg = cfg
        self.box = box
        self.account = ctx.account.name
        self.rules = ctx.config.mail_rules()
        self.trusted = ctx.config.trusted_domains()
        self.auth = AuthPolicy(authserv_id=cfg.authserv_id,
                               required=cfg.authentication == "required")
        # Escalations that warn (phishing, spoofed or unverified Amazon senders): they are
        # texted before the others, so a backlog's digest never swallows a warning.
        self.urgent: set[str] = set()
        # The owner's mail, read whole: answers to escalations are taken from it.
        self.owner_mail: list[email_answers.OwnerMail] = []

    def scan(self, name: str, role: str) -> Triage:
        """Read one folder's headers (nothing decided yet: that waits for every folder's
        scan, see :meth:`check_stamps`)."""
        tri = Triage(name, role)
        self.box.select(name, readonly=self.ctx.dry_run)
        for uid, raw, flags, size in self.box.headers(self.box.all_uids()):
            tri.scanned.append(parse_headers(raw, uid=uid, folder=name, size=size,
                                             flags=flags))
        return tri

    def check_stamps(self, scans: list[Triage]) -> dict[str, Any]:
        """Whether the configured authserv-id proves anything this run: the receiving
        server that owns it stamps every mail it takes in, so when some scanned mail lacks
        it, the server does not (or not always) and a header under that id may be the
        sender's own. Then no Authentication-Results count this run (as with no id set);
        the owner is told once (a finding) until the id is on every mail again."""
        wanted = (self.cfg.authserv_id or "").strip()
        items = [item for tri in scans for item in tri.scanned]
        if not wanted:
            return {"authserv_id": None, "trusted": False,
                    "why": "mailbox.authserv_id is not set: no Authentication-Results "
                           "header is trusted (anyone can write one)"}
        lacking = [item for item in items
                   if not auth.stamped(item.header_values("authentication-results"), wanted)]
        topic = "mail_authentication"
        if not lacking:
            if items and not self.ctx.dry_run:
                escalate.resolve_findings(self.ctx, topic, f"{wanted} is on every mail again")
            return {"authserv_id": wanted, "trusted": True,
                    "why": f"every scanned mail ({len(items)}) carries {wanted}'s "
                           "Authentication-Results"}
        self.auth = AuthPolicy(authserv_id=None, required=self.auth.required)
        example = lacking[0]
        why = (f"{len(lacking)} of {len(items)} mails lack an Authentication-Results header "
               f"from {wanted} (e.g. {show_hidden(example.subject)[:60]!r} in "
               f"{example.folder}): the server does not stamp every mail, so that id proves "
               "nothing this run and no Authentication-Results header is trusted")
        if not self.ctx.dry_run:
            code, state = escalate.finding(
                self.ctx, topic, f"unstamped:{wanted}",
                summary=(f"{{code}}: mail authentication is OFF: {len(lacking)} of "
                         f"{len(items)} mails lack {wanted}'s Authentication-Results. Check "
                         "mailbox.authserv_id."),
                short="{code}: mail authentication OFF: check mailbox.authserv_id.",
                details=(f"{{code}}: mailbox.authserv_id is {wanted!r}, but {why}. Until "
                         "the id is on every mail, Amazon's mail is trusted by its domain "
                         "only as mailbox.authentication allows, and an email answer is "
                         "taken only when it replies to the bot's alert or quotes the "
                         "answer token. `rpa config check` shows the id the mails carry."))
            if state == "new":
                escalate.notify(self.ctx, code)
        return {"authserv_id": wanted, "trusted": False, "why": why}

    def folder(self, tri: Triage) -> Triage:
        """Decide every scanned mail of one folder, read the bodies the decisions need and
        open the folder's escalations; the folder is selected again for its changes."""
        self.box.select(tri.folder, readonly=self.ctx.dry_run)
        for item in tri.scanned:
            tri.items.append((item, classify(item, self.rules, trusted_domains=self.trusted,
                                             owner_addresses=self.cfg.owner_addresses,
                                             auth_policy=self.auth)))
        tri.scanned = []
        # Bodies only where the decision needs them: unknown mail to summarise, buyer
        # emails without an order id in the subject, and the owner's mail to record.
        need: list[int] = []
        rows = self.ctx.ledger.emails_known(self.account,
                                            [item.message_id for item, _ in tri.items])
        for item, dec in tri.items:
            known = tri.known[item.message_id] = rows.get(item.message_id)
            if dec.action == "escalate" and not (known and known["escalation"]):
                need.append(item.uid)
            elif dec.action == "buyer_message" and not dec.order_id:
                need.append(item.uid)
            elif dec.action == "owner_reply":
                need.append(item.uid)  # read every run: an answer in it may be pending
        raws = self.box.bodies(need, self.cfg.max_body_bytes) if need else {}
        for item, dec in tri.items:
            text = body_text(raws[item.uid]) if item.uid in raws else ""
            self.decide(tri, item, dec, text, raws.get(item.uid, b""))
        self.open_escalations(tri)
        return tri

    def decide(self, tri: Triage, item: MailItem, dec: Decision, text: str,
               raw: bytes = b"") -> None:
        entry = {"folder": tri.folder, "message_id": item.message_id, "from": sender_of(item),
                 "subject": item.subject, "rule": dec.rule, "action": dec.action,
                 "done": False, "escalation": None, "note": dec.note}
        row = {"message_id": item.message_id, "folder": tri.folder, "sender": sender_of(item),
               "subject": item.subject, "rule": dec.rule, "action": dec.action,
               "state": "kept"}
        if dec.action == "delete":
            tri.trash.append(item.uid)
            row["state"] = "trashed"
        elif dec.action == "buyer_message":
            order_id = dec.order_id or next(iter(ORDER_ID.findall(text)), "")
            answered = self.ctx.ledger.answered(self.account, order_id=order_id,
                                                buyer="" if order_id else dec.buyer_name)
            if answered:
                tri.trash.append(item.uid)
                row["state"] = "trashed"
                entry["note"] = f"buyer answered in Seller Central (order {order_id or '?'})"
            else:
                row["state"] = "waiting"
                entry["note"] = (f"waiting: the buyer's thread (order {order_id or 'unknown'}) "
                                 "is not answered yet")
                entry["done"] = True  # nothing to do yet, by the rules
        elif dec.action == "owner_reply":
            row["state"] = "recorded"
            row["body"] = text
            entry["done"] = True
            self.owner_mail.append(email_answers.OwnerMail(
                tri.folder, item, readable_text(raw) if raw else text))
        elif dec.action == "escalate":
            self.escalate(tri, item, dec, text, entry, row, raw)
        elif dec.action == "digest":
            # Told in the owner's daily digest of list mail (see escalate); left as it is.
            known = tri.known.get(item.message_id)
            row["state"] = "digested" if known and known["state"] == "digested" else "digest"
            entry["note"] = ("listed in an earlier daily digest" if row["state"] == "digested"
                             else "for the owner's daily digest of list mail")
            entry["done"] = True
        else:  # keep
            if kinds.is_auto_reply(item):
                entry["note"] = entry["note"] or "auto-reply: kept, no text"
            entry["done"] = True
        tri.entries.append(entry)
        tri.rows.append(row)

    def escalate(self, tri: Triage, item: MailItem, dec: Decision, text: str,
                 entry: dict[str, Any], row: dict[str, Any], raw: bytes = b"") -> None:
        known = tri.known.get(item.message_id)
        if known and known["escalation"]:
            entry["escalation"] = known["escalation"]
            entry["done"] = True
            answered = known["state"] == "answered"
            entry["note"] = (dec.note + "; " if dec.note else "") + (
                "answered: the owner's reply was sent" if answered else "escalated before")
            row["state"] = "answered" if answered else "escalated"
            row["escalation"] = known["escalation"]
            tri.already_escalated += 1
            return
        tri.escalated += 1
        # A bounce is told by what bounced, not by the mail system's words.
        summary: Summary | BounceSummary = (
            BounceSummary(kinds.read_bounce(raw)) if kinds.is_bounce(item)
            else build(item, text))
        entry["summary"] = summary.fitted(SUMMARY_CHARS)
        if self.ctx.dry_run:
            return
        notifier = self.ctx.notifier
        has_details = "details" in notifier.urls
        # A name or subject outside GSM-7 (Łukasz, Иван) makes the text UCS-2: 70 a text.
        shown = f"{summary.fitted(SUMMARY_CHARS)} {sender_of(item)} {item.subject}"
        encoding = "gsm7" if notifier.transliterate else sms_encoding(shown)
        full, short, details = escalation_texts(
            item, dec, summary, text,
            room=sms_room(notifier.sms_limit, encoding) - len(notifier.initials) - 2,
            pointer=len(f" Check {notifier.details_label} for details.") if has_details else 0,
            details_channel=has_details)
        tri.pending.append((item, dec, entry, row, {
            "source_key": item.message_id, "summary": full, "short": short,
            "details": details, "buyer": item.from_name or item.from_addr}))

    def open_escalations(self, tri: Triage) -> None:
        """The folder's new escalations, written to the ledger in one transaction."""
        if not tri.pending:
            return
        codes = self.ctx.ledger.escalate_many(self.account, "email",
                                              [p[4] for p in tri.pending],
                                              run_id=self.ctx.run_id)
        for (item, dec, entry, row, _), (code, _new) in zip(tri.pending, codes, strict=True):
            entry["escalation"] = code
            row["state"], row["escalation"] = "escalated", code
            tri.unread.append(item.uid)
            if dec.warning:
                self.urgent.add(code)
        tri.pending = []

    def apply(self, tri: Triage, trash: str) -> None:
        """Make the changes for one folder (it is still selected), then record them."""
        if self.ctx.dry_run:
            return
        if tri.trash:
            self.box.move(tri.trash, trash)
        if tri.unread:
            self.box.mark_unread(tri.unread)
        self.ctx.ledger.record_emails(self.account, tri.rows, self.ctx.run_id)
        moved = set(tri.trash)
        by_id = {item.message_id: item.uid for item, _ in tri.items}
        for entry in tri.entries:
            uid = by_id.get(entry["message_id"])
            if entry["action"] in ("delete", "buyer_message") and uid in moved:
                entry["done"] = True
        # The owner is texted after both folders (tell_owner), warnings first.


def tell_owner(ctx: RunContext, entries: list[dict[str, Any]], limit: int,
               urgent: set[str]) -> dict[str, Any]:
    """The owner texts after the folders: every email escalation not yet told (earlier
    runs' too), one text each up to ``limit`` (the ``urgent`` codes, warnings, first) and
    the rest in one digest text; then the day's digest of list mail. Returns what was
    told, for run.json."""
    flushed = escalate.flush_capped(ctx, ("email", "suspicious_answer"), limit,
                                    noun=("email", "emails"),
                                    without_details="they are unread in the mailbox",
                                    first=urgent)
    in_digest = set(flushed.digest) if flushed.digest_delivered else set()
    for entry in entries:
        code = entry.get("escalation")
        if code in flushed.texted or code in in_digest:
            entry["done"] = True
        if code in in_digest:
            entry["note"] = (entry["note"] + "; " if entry["note"] else "") + \
                "told in the digest text"
    lists = escalate.mailing_list_digest(ctx)
    one_by_one = len(flushed.texted) + len(flushed.failed)
    said = f"{one_by_one} text(s) to the owner, one per email"
    if flushed.digest:
        said += (f", {len(flushed.digest)} more in one digest text "
                 f"({flushed.digest[0]}–{flushed.digest[-1]})"
                 + ("" if flushed.digest_delivered else ", not delivered: tried next run"))
    if lists["sent"]:
        said += f"; mailing lists: {lists['waiting']} in today's digest text"
    elif lists["waiting"]:
        said += (f"; mailing lists: {lists['waiting']} wait for "
                 + ("tomorrow's digest" if lists["already_today_by"] else "the next digest"))
    return {"one_by_one": one_by_one, "digest": flushed.digest,
            "digest_delivered": flushed.digest_delivered, "digest_text": flushed.digest_text,
            "mailing_lists": lists, "said": said}


@flow("mailbox")
def mailbox(ctx: RunContext) -> None:
    """Inbox and Spam by the rules: Amazon notices to Trash, buyers only once answered,
    the rest summarised for the owner and left unread."""
    cfg = ctx.config.mailbox
    if cfg is None:
        with ctx.step("mailbox: none configured, skipped", screenshot=False):
            return
    entries: list[dict[str, Any]] = []
    counts: dict[str, dict[str, int]] = {}
    texts: dict[str, Any] = {}
    answers_seen: dict[str, Any] = {}
    authentication: dict[str, Any] = {}
    box = Mailbox(cfg.host, cfg.port, cfg.user, ctx.secret("mailbox.password"), tls=cfg.tls,
                  timeout=cfg.timeout_s, chunk=cfg.chunk_size,
                  ca_file=str(cfg.ca_file) if cfg.ca_file else None)
    try:
        with ctx.step("mailbox: sign in and find the folders", screenshot=False) as step:
            box.connect()
            folders = box.folders(cfg.spam_folders, cfg.trash_folders)
            step.name = (f"mailbox: folders Inbox={folders.inbox}, Spam={folders.spam} "
                         f"({folders.how['spam']}), Trash={folders.trash} "
                         f"({folders.how['trash']})")
            # Without Spam the instructions are half done, without Trash nothing can be
            # moved: the run fails here, before anything is read or changed.
            spam, trash = folders.require()
        triage = MailTriage(ctx, cfg, box)
        with ctx.step("mailbox: read the headers", screenshot=False) as step:
            scans = [triage.scan(name, role)
                     for role, name in (("inbox", folders.inbox), ("spam", spam))]
            authentication = triage.check_stamps(scans)
            step.name = ("mailbox: headers read; Authentication-Results "
                         + ("trusted" if authentication["trusted"] else "NOT trusted")
                         + f": {authentication['why']}")
        for tri in scans:
            name = tri.folder
            with ctx.step(f"mailbox: {name}", screenshot=False) as step:
                triage.folder(tri)
                triage.apply(tri, trash)
                entries.extend(tri.entries)
                counts[name] = tri.counts()
                c = counts[name]
                step.name = (f"mailbox: {name}: {c['total']} message(s), {c['to_trash']} to "
                             f"Trash, {c['escalated']} escalated, {c['already_escalated']} "
                             "already escalated"
                             + (" (dry run: nothing changed)" if ctx.dry_run else ""))
        with ctx.step("mailbox: the owner's answers", screenshot=False) as step:
            taken = email_answers.take_owner_answers(ctx, cfg, triage.owner_mail,
                                                     authserv_id=triage.auth.authserv_id)
            sent = email_answers.deliver_email_answers(ctx, box)
            for entry in entries:
                note = taken.notes.get(entry["message_id"])
                if note and entry["action"] == "owner_reply":
                    entry["note"] = note
            moved = email_answers.trash_done(ctx, box, taken, trash)
            answers_seen = email_answers.report(taken, sent)
            step.name = ("mailbox: owner's answers: "
                         + f"{len(taken.answers)} taken, {len(sent.delivered)} replies sent"
                         + (f", {len(sent.failed)} NOT sent (kept)" if sent.failed else "")
                         + (f", {len(taken.suspicious)} suspicious" if taken.suspicious
                            else "")
                         + (f", {len(taken.refused)} refused (rules)" if taken.refused
                            else "")
                         + f", {moved} answer mail(s) to Trash")
            if sent.failed:
                step.outcome = "undelivered"
        triage.urgent.update(taken.suspicious)
        if not ctx.dry_run:
            with ctx.step("mailbox: texts to the owner", screenshot=False) as step:
                texts = tell_owner(ctx, entries, cfg.max_texts_per_run, triage.urgent)
                step.name = "mailbox: " + texts["said"]
    finally:
        box.close()
        ctx.observe("email_answers", answers_seen)
        ctx.observe("emails", entries)
        ctx.observe("email_folders", counts)
        ctx.observe("mail_authentication", authentication)
        ctx.observe("email_texts", texts)
        ctx.observe("imap_commands", box.commands)
    failed = answers_seen.get("replies_failed") or []
    if failed:
        # Everything else is done; triaging again in this run would not get the reply out.
        err = PageError("reply not sent: " + "; ".join(failed) + " (kept for the next run)")
        err.retryable = False
        raise err
