"""The owner: texts and messages to the seller, and the escalations they answer.

``notify`` (Apprise channels: the short text, the details message, fallbacks) and
``escalate`` (an escalation recorded once in the ledger, texted once, never dropped).
May import the top-level pieces and the run machinery (ledger, context); never Seller
Central, ``mail``, ``practice`` or the CLI.
"""
