"""Seller Central customer-service bot: the machinery the business flows in ``flows/`` use.

At the top sit the entry points and the pieces every package may use: ``cli`` (the ``rpa``
command), ``config``, ``errors``, ``logs``, ``redact``, ``patterns``, ``text`` (hygiene
for names and texts shown to a person), ``smtp`` (sending one mail safely) and ``otp``
(one-time codes for two-step verification). The rest is grouped by concept: ``messaging``
(what may be said to a buyer), ``mail``, ``ledger`` (the memory across runs), ``browser``
(Chromium and the selectors engine), ``owner``, ``run`` (the run machinery),
``seller_central`` (the page objects), ``queue`` (runs through Redis for workers on one
machine or several), ``console`` (the web page for the VA and the
owner), ``scheduling`` (scheduled runs and retention) and ``practice`` (the sandbox, the
throwaway mail servers and the demo, never used against a real account).
``tests/test_layout.py`` holds each package to the imports its ``__init__`` allows, in
layers with no cycle: cross-cutting pieces, ``mail`` and ``messaging``, ``config``,
``ledger`` and ``browser``, ``owner``, ``run``, ``seller_central``, ``flows``, ``queue``,
then the scheduler, the console, the demo and the CLI.
"""

__version__ = "0.1.0"
