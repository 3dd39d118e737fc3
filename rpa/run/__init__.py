"""The run machinery: one run of the routine for one account, from lock to report.

``orchestrator`` (lock, browser, flows in order, summary), ``context`` (what a flow is
handed), ``registry`` (flows by name; the one module that loads ``flows``), ``ledger``
(SQLite memory across runs) and ``evidence`` (screenshots, trace, run.json, report.html).
May import the top-level pieces, ``seller_central`` and ``owner``; never ``mail``,
``practice`` or the CLI.
"""
