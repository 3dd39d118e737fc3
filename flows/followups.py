"""Follow up escalations the owner has not answered: a reminder, then the fallback channels.

No browser and no Seller Central or mailbox secrets: only the ledger and the owner's
channels. Each step happens once per escalation (see :func:`rpa.owner.escalate.followups`).
"""

from __future__ import annotations

from rpa.owner import escalate
from rpa.run.context import RunContext
from rpa.run.registry import flow


@flow("followups", browser=False)
def followups(ctx: RunContext) -> None:
    """Remind the owner of unanswered escalations, then use the fallback channels."""
    with ctx.step("follow up unanswered escalations", screenshot=False) as step:
        done = escalate.followups(ctx)
        ctx.observe("followups", done.as_dict())
        parts = [f"{len(done.reminded)} reminded",
                 f"{len(done.escalated_further)} sent to the fallback channels"]
        if done.failed:
            parts.append(f"{len(done.failed)} NOT delivered ({', '.join(done.failed)}; "
                         "tried again next run)")
            step.outcome = "undelivered"
        if done.later:
            parts.append(f"{len(done.later)} left for the next run")
        step.name = "followups: " + ", ".join(parts)
