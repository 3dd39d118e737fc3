"""Escalations to the owner: created once in the ledger, texted once, never dropped.

A flow first records the escalation (with its code and texts) and only then tells the
owner; a text that does not get through stays marked as not notified and is sent by
:func:`flush` at the end of the flow or on the next run.
"""

from __future__ import annotations

from rpa.run.context import RunContext


def notify(ctx: RunContext, code: str) -> bool:
    """Text the owner about escalation ``code`` unless that was done already."""
    esc = ctx.ledger.escalation(code)
    if esc is None or esc["notified_at"]:
        return True
    if ctx.dry_run:
        return False
    ok = ctx.notifier.sms(esc["summary"], details=esc["details"], short=esc["short"] or None,
                          title=f"Escalation {code}")
    if ok:
        ctx.ledger.mark_notified(code)
    return ok


def flush(ctx: RunContext, kinds: tuple[str, ...]) -> int:
    """Send every earlier escalation of ``kinds`` whose text did not go out; returns how many."""
    sent = 0
    for esc in ctx.ledger.escalations(ctx.account.name, unnotified=True):
        if esc["kind"] in kinds and notify(ctx, esc["code"]):
            sent += 1
    return sent
