"""The owner: texts and messages to the seller, and the escalations they answer.

``notify`` (Apprise channels: the short text, the details message, fallbacks),
``escalate`` (an escalation recorded once in the ledger, texted once, never dropped, and
followed up) and ``answers`` (the one way an owner's answer comes in, from the CLI, a reply
email or the console). May import the top-level pieces and the run machinery (ledger,
context), and Amazon's messaging rules (a pure module, to check an answer meant for a
buyer); never the rest of Seller Central, ``mail``, ``practice`` or the CLI.
"""
