"""The owner: texts and messages to the seller, and the escalations they answer.

``notify`` (Apprise channels: the short text, the details message, fallbacks),
``escalate`` (an escalation recorded once in the ledger, texted once, never dropped, and
followed up) and ``answers`` (the one way an owner's answer comes in, from the CLI, a reply
email or the console). Sits below the run: an escalation is handed the run as
``escalate.EscalationRun``, which the run context satisfies. May import the cross-cutting
pieces, the configuration, the ledger and ``rpa.messaging`` (to check an answer meant for
a buyer); never the run machinery, Seller Central, ``mail``, ``practice`` or the CLI.
"""
