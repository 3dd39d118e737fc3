"""The run machinery: one run of the routine for one account, from lock to report.

``orchestrator`` (lock, selectors checked, flows in order, summary), ``context`` (what a
flow is handed; it launches Chromium on first use), ``registry`` (flows by name, loaded as
plugins from the ``rpa.flows`` entry points), ``evidence`` (screenshots, trace, run.json,
report.html), ``capture`` (the full-page screenshot, encoded for speed), ``pagesnaps``
(when a page leaves its snapshot in the evidence, and which keys hold buyer data),
``storage`` (the ledger the configuration names: the SQLite file or a PostgreSQL database,
checked and opened) and ``fleet`` (every account, N at a time: each account's run in a
process of its own, the worst exit code of many). May import the cross-cutting pieces, the
configuration, ``ledger``, ``browser`` and ``owner``; never Seller Central, ``flows`` (not
even by name), ``mail``, the console, the scheduler, ``practice`` or the CLI.
"""
