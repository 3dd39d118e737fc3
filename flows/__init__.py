"""Business flows, one module each, registered by name with ``rpa.run.registry.flow``.

A flow is the seller's procedure for one part of the routine, written against the page
objects (``rpa.seller_central``), the mailbox (``rpa.mail``), the owner (``rpa.owner``) and
the run context (``rpa.run``), with the configuration and ``rpa.smtp``. Flows never import
``rpa.practice``, the console, the scheduler or the CLI, and hold no selector strings: those
live in ``selectors.yaml``.
"""
