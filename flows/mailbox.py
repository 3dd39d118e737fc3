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

from loguru import logger

from rpa.config import MailboxConfig
from rpa.mail.body import body_text
from rpa.mail.headers import MailItem, parse_headers
from rpa.mail.imap import Folders, Mailbox
from rpa.mail.rules import Decision, classify
from rpa.mail.summary import summarize
from rpa.owner import escalate
from rpa.run.context import RunContext
from rpa.run.registry import flow

ORDER_ID = re.compile(r"\b\d{3}-\d{7}-\d{7}\b")
PHISHING = "Possible phishing: "


@dataclass
class Triage:
    """One folder's messages and what becomes of them."""

    folder: str
    role: str
    items: list[tuple[MailItem, Decision]] = field(default_factory=list)
    known: dict[str, dict[str, Any] | None] = field(default_factory=dict)  # ledger rows
    trash: list[int] = field(default_factory=list)
    unread: list[int] = field(default_factory=list)
    entries: list[dict[str, Any]] = field(default_factory=list)
    rows: list[dict[str, Any]] = field(default_factory=list)

    def counts(self) -> dict[str, int]:
        out = {"total": len(self.items), "to_trash": len(self.trash)}
        for entry in self.entries:
            out[entry["action"]] = out.get(entry["action"], 0) + 1
        return out


def sender_of(item: MailItem) -> str:
    if item.from_name and item.from_addr:
        return f"{item.from_name} <{item.from_addr}>"
    return item.from_name or item.from_addr or "(no sender)"


def escalation_texts(item: MailItem, decision: Decision, summary: str,
                     text: str) -> tuple[str, str, str]:
    """The owner's text, its short form, and the details message for an escalated email."""
    who = item.from_name or item.from_addr or "an unknown sender"
    warn = PHISHING if decision.rule == "lookalike" else ""
    full = f"{{code}}: {warn}{summary}"  # the summary names the sender
    subject = item.subject if len(item.subject) <= 50 else item.subject[:49] + "…"
    short = f"{{code}}: {warn}email from {who} about \"{subject or '(no subject)'}\"."
    note = f"{decision.note}\n" if decision.note else ""
    details = (f"{{code}}: an email needs your answer.\n{note}"
               f"From: {sender_of(item)}\nSubject: {item.subject}\nDate: {item.date}\n"
               f"Folder: {item.folder}\nMessage-ID: {item.message_id}\n\nSummary: {summary}\n\n"
               f"{text[:3000]}\n\nThe email is left unread in the mailbox. Answer with the "
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

    def folder(self, name: str, role: str) -> Triage:
        tri = Triage(name, role)
        self.box.select(name, readonly=self.ctx.dry_run)
        uids = self.box.all_uids()
        for uid, raw, flags, size in self.box.headers(uids):
            item = parse_headers(raw, uid=uid, folder=name, size=size, flags=flags)
            tri.items.append((item, classify(item, self.rules, trusted_domains=self.trusted,
                                             owner_addresses=self.cfg.owner_addresses)))
        # Bodies only where the decision needs them: unknown mail to summarise, buyer
        # emails without an order id in the subject, and the owner's mail to record.
        need: list[int] = []
        for item, dec in tri.items:
            known = tri.known[item.message_id] = self.ctx.ledger.email(self.account,
                                                                       item.message_id)
            if dec.action == "escalate" and not (known and known["escalation"]):
                need.append(item.uid)
            elif dec.action == "buyer_message" and not dec.order_id:
                need.append(item.uid)
            elif dec.action == "owner_reply" and not (known and known["state"] == "recorded"):
                need.append(item.uid)
        raws = self.box.bodies(need, self.cfg.max_body_bytes) if need else {}
        for item, dec in tri.items:
            text = body_text(raws[item.uid]) if item.uid in raws else ""
            self.decide(tri, item, dec, text)
        return tri

    def decide(self, tri: Triage, item: MailItem, dec: Decision, text: str) -> None:
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
        elif dec.action == "escalate":
            self.escalate(tri, item, dec, text, entry, row)
        else:  # keep
            entry["done"] = True
        tri.entries.append(entry)
        tri.rows.append(row)

    def escalate(self, tri: Triage, item: MailItem, dec: Decision, text: str,
                 entry: dict[str, Any], row: dict[str, Any]) -> None:
        known = tri.known.get(item.message_id)
        if known and known["escalation"]:
            entry["escalation"] = known["escalation"]
            entry["done"] = True
            entry["note"] = (dec.note + "; " if dec.note else "") + "escalated before"
            row["state"], row["escalation"] = "escalated", known["escalation"]
            return
        # The summary is what the owner reads in the text: sized to fit one text with the
        # code, the phishing warning and the signature.
        notifier = self.ctx.notifier
        room = (notifier.sms_limit - len(notifier.initials) - 2 - len("E0000: ")
                - (len(PHISHING) if dec.rule == "lookalike" else 0))
        summary = summarize(item, text, max_chars=max(60, room))
        entry["summary"] = summary
        if self.ctx.dry_run:
            return
        full, short, details = escalation_texts(item, dec, summary, text)
        code, _ = self.ctx.ledger.escalate(
            self.account, "email", item.message_id, summary=full, short=short,
            details=details, buyer=item.from_name or item.from_addr, run_id=self.ctx.run_id)
        entry["escalation"] = code
        row["state"], row["escalation"] = "escalated", code
        tri.unread.append(item.uid)

    def apply(self, tri: Triage, folders: Folders) -> None:
        """Make the changes for one folder (it is still selected), then record them."""
        if self.ctx.dry_run:
            return
        if tri.trash:
            if folders.trash is None:
                logger.warning("no Trash folder found: {} message(s) left in {}",
                               len(tri.trash), tri.folder)
                for entry, row in zip(tri.entries, tri.rows, strict=True):
                    if row["state"] == "trashed":
                        row["state"] = "kept"
                        entry["note"] = "no Trash folder found: left in place"
                tri.trash = []
            else:
                self.box.move(tri.trash, folders.trash)
        if tri.unread:
            self.box.mark_unread(tri.unread)
        self.ctx.ledger.record_emails(self.account, tri.rows, self.ctx.run_id)
        moved = set(tri.trash)
        by_id = {item.message_id: item.uid for item, _ in tri.items}
        for entry in tri.entries:
            uid = by_id.get(entry["message_id"])
            if entry["action"] in ("delete", "buyer_message") and uid in moved:
                entry["done"] = True
            if uid in tri.unread:  # escalated in this pass; older ones go out with flush()
                entry["done"] = escalate.notify(self.ctx, entry["escalation"])


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
    box = Mailbox(cfg.host, cfg.port, cfg.user, ctx.secret("mailbox.password"), tls=cfg.tls,
                  timeout=cfg.timeout_s, chunk=cfg.chunk_size)
    try:
        with ctx.step("mailbox: sign in and find the folders", screenshot=False) as step:
            box.connect()
            folders = box.folders(cfg.spam_folders, cfg.trash_folders)
            step.name = (f"mailbox: folders Inbox={folders.inbox}, Spam={folders.spam} "
                         f"({folders.how['spam']}), Trash={folders.trash} "
                         f"({folders.how['trash']})")
        triage = MailTriage(ctx, cfg, box)
        plan = [("inbox", folders.inbox)]
        if folders.spam is not None:
            plan.append(("spam", folders.spam))
        else:
            logger.warning("no Spam folder found (looked for special-use \\Junk and {})",
                           ", ".join(cfg.spam_folders))
        for role, name in plan:
            with ctx.step(f"mailbox: {name}", screenshot=False) as step:
                tri = triage.folder(name, role)
                triage.apply(tri, folders)
                entries.extend(tri.entries)
                counts[name] = tri.counts()
                c = counts[name]
                step.name = (f"mailbox: {name}: {c['total']} message(s), {c['to_trash']} to "
                             f"Trash, {c.get('escalate', 0)} escalated"
                             + (" (dry run: nothing changed)" if ctx.dry_run else ""))
        if not ctx.dry_run:
            escalate.flush(ctx, ("email",))
    finally:
        box.close()
        ctx.observe("emails", entries)
        ctx.observe("email_folders", counts)
        ctx.observe("imap_commands", box.commands)
