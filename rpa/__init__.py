"""Seller Central customer-service bot: the machinery the business flows in ``flows/`` use.

At the top sit the entry points and the pieces every package may use: ``cli`` (the ``rpa``
command), ``config``, ``errors``, ``logs``, ``redact``, ``patterns``, ``text`` (hygiene
for names and texts shown to a person) and ``smtp`` (sending one mail safely). The rest is
grouped by concept: ``run`` (the run machinery), ``ledger`` (the memory across runs),
``seller_central``, ``mail``, ``owner``, ``console`` (the web page for the VA and the
owner), ``scheduling`` (scheduled runs and retention) and ``practice`` (the sandbox, the
throwaway mail servers and the demo, never used against a real account).
``tests/test_layout.py`` holds each package to the imports its ``__init__`` allows.
"""

__version__ = "0.1.0"
